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

#ifndef AVCODEC_LIBNIC_H
#define AVCODEC_LIBNIC_H

#include <nic/nic.h>

#include "avcodec.h"

/** The options of both wrappers that choose how the libnic context is made. */
typedef struct LibNicContextOptions {
    char *model;      ///< -model: weights file or installed model's name; NULL: the default
    char *device;     ///< -device: NULL: cpu
    char *precision;  ///< -precision: NULL: auto (NicOptions.precision)
} LibNicContextOptions;

/**
 * Open a libnic context with these options (the model NULL or "": libnic's default, which the
 * environment variable NIC_MODEL overrides) and avctx->thread_count threads (0: libnic's
 * default). Logs the failure.
 */
int ff_libnic_open(AVCodecContext *avctx, const LibNicContextOptions *opts, int effort,
                   NicContext **out);

/** The AVERROR for a libnic status. */
int ff_libnic_averror(NicStatus status);

/** Log a libnic failure (with nic_last_error()) and return its AVERROR. */
int ff_libnic_error(void *log_ctx, NicStatus status, const char *what);

#endif /* AVCODEC_LIBNIC_H */
