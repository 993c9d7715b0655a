/*
 * Helpers shared by the libnic encoder and decoder.
 *
 * This file is part of FFmpeg.
 *
 * FFmpeg is free software; you can redistribute it and/or
 * modify it under the terms of the GNU Lesser General Public
 * License as published by the Free Software Foundation; either
 * version 2.1 of the License, or (at your option) any later version.
 *
 * FFmpeg is distributed in the hope that it will be useful,
 * but WITHOUT ANY WARRANTY; without even the implied warranty of
 * MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
 * Lesser General Public License for more details.
 *
 * You should have received a copy of the GNU Lesser General Public
 * License along with FFmpeg; if not, write to the Free Software
 * Foundation, Inc., 51 Franklin Street, Fifth Floor, Boston, MA 02110-1301 USA
 */

#include "libavutil/error.h"
#include "libavutil/log.h"

#include "libnic.h"

int ff_libnic_averror(NicStatus status)
{
    switch (status) {
    case NIC_OK:                     return 0;
    case NIC_ERROR_INVALID_ARGUMENT: return AVERROR(EINVAL);
    case NIC_ERROR_IO:               return AVERROR(EIO);
    case NIC_ERROR_MODEL:            return AVERROR(EINVAL);
    case NIC_ERROR_DEVICE:           return AVERROR(ENODEV);
    case NIC_ERROR_TRUNCATED:        /* within a packet a truncated frame is damage */
    case NIC_ERROR_CORRUPT:
    case NIC_ERROR_MODEL_MISMATCH:   return AVERROR_INVALIDDATA;
    case NIC_ERROR_UNSUPPORTED:      return AVERROR_PATCHWELCOME;
    case NIC_ERROR_OUT_OF_MEMORY:    return AVERROR(ENOMEM);
    case NIC_ERROR_LIMIT:            return AVERROR(EINVAL); /* as av_image_check_size2 */
    default:                         return AVERROR_EXTERNAL;
    }
}

int ff_libnic_error(void *log_ctx, NicStatus status, const char *what)
{
    const char *message = nic_last_error();

    av_log(log_ctx, AV_LOG_ERROR, "%s: %s%s%s\n", what, nic_status_string(status),
           message && *message ? ": " : "", message ? message : "");
    return ff_libnic_averror(status);
}

int ff_libnic_open(AVCodecContext *avctx, const LibNicContextOptions *opts, int effort,
                   NicContext **out)
{
    const char *model_path = opts->model, *device = opts->device, *precision = opts->precision;
    NicOptions options;
    NicStatus status;
    const char *model;

    nic_options_init(&options);
    if (model_path && *model_path)
        options.model_path = model_path;
    if (device && *device)
        options.device = device;
    if (precision && *precision)
        options.precision = precision;
    options.threads = avctx->thread_count > 0 ? avctx->thread_count : 0;
    options.effort = effort;
    /* -max_pixels (default INT_MAX) bounds libnic too, not only FFmpeg's own buffers. */
    if (avctx->max_pixels > 0)
        options.max_pixels = FFMIN((uint64_t)avctx->max_pixels, (uint64_t)NIC_MAX_PIXELS);

    model = options.model_path ? options.model_path : nic_default_model_path();
    status = nic_context_create(&options, out);
    if (status != NIC_OK) {
        *out = NULL;
        av_log(avctx, AV_LOG_ERROR, "Cannot load the nic model %s on %s\n",
               model ? model : "(default)", options.device ? options.device : "the default device");
        return ff_libnic_error(avctx, status, "nic_context_create");
    }
    av_log(avctx, AV_LOG_VERBOSE,
           "libnic %s: model %s (fingerprint %s), device %s, precision %s, threads %d, effort %d\n",
           nic_version(), model ? model : "(default)", nic_context_model_fingerprint(*out),
           options.device ? options.device : "default",
           options.precision ? options.precision : "auto", options.threads, options.effort);
    return 0;
}
