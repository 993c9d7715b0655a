/*
 * nic decoding through libnic.
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

/**
 * @file
 * A packet holds one nic frame unit (bytes after it are ignored). Output is RGB24. Without
 * -model, the installed model that encoded the first frame (its fingerprint) is loaded then. A damaged
 * packet (bad header, CRC, lengths or symbols, or a frame made with another model) gives
 * AVERROR_INVALIDDATA and a log line; the next packet decodes independently.
 */

#include <nic/nic.h>

#include "libavutil/common.h"
#include "libavutil/opt.h"

#include "avcodec.h"
#include "codec_internal.h"
#include "decode.h"
#include "internal.h"
#include "libnic.h"

typedef struct LibNicDecodeContext {
    const AVClass *class;
    NicContext *nic;
    LibNicContextOptions context; ///< -model, -device, -precision
    int open_error;               ///< the AVERROR of a failed deferred open, kept
} LibNicDecodeContext;

static av_cold int libnic_decode_init(AVCodecContext *avctx)
{
    LibNicDecodeContext *ctx = avctx->priv_data;

    avctx->pix_fmt = AV_PIX_FMT_RGB24;
    /* Without -model the first packet says which installed model the stream needs. */
    if (!ctx->context.model || !*ctx->context.model)
        return 0;
    return ff_libnic_open(avctx, &ctx->context, NIC_EFFORT_DEFAULT, &ctx->nic);
}

/* Opens the context for the model that made the first frame, once. */
static int open_for_stream(AVCodecContext *avctx, const NicFrameInfo *info)
{
    LibNicDecodeContext *ctx = avctx->priv_data;
    LibNicContextOptions options = ctx->context;

    if (ctx->open_error)
        return ctx->open_error;
    options.model = (char *)nic_find_model(info->model_fingerprint);
    ctx->open_error = ff_libnic_open(avctx, &options, NIC_EFFORT_DEFAULT, &ctx->nic);
    return ctx->open_error;
}

static int libnic_decode_frame(AVCodecContext *avctx, AVFrame *frame,
                               int *got_frame, AVPacket *pkt)
{
    LibNicDecodeContext *ctx = avctx->priv_data;
    NicFrameInfo info;
    NicStatus status;
    int ret;

    status = nic_peek_frame(pkt->data, pkt->size, &info);
    if (status != NIC_OK)
        return ff_libnic_error(avctx, status, "Invalid nic frame");
    if (info.frame_size < (size_t)pkt->size)
        av_log(avctx, AV_LOG_DEBUG, "Ignoring %zu bytes after the nic frame\n",
               (size_t)pkt->size - info.frame_size);

    if (!ctx->nic) {
        ret = open_for_stream(avctx, &info);
        if (ret < 0)
            return ret;
    }

    ret = ff_set_dimensions(avctx, info.width, info.height);
    if (ret < 0)
        return ret;
    avctx->pix_fmt = AV_PIX_FMT_RGB24;
    ret = ff_get_buffer(avctx, frame, 0);
    if (ret < 0)
        return ret;

    status = nic_decode_rgb(ctx->nic, pkt->data, pkt->size, frame->data[0],
                            frame->linesize[0], (size_t)frame->linesize[0] * info.height,
                            &info);
    if (status != NIC_OK)
        return ff_libnic_error(avctx, status, "Cannot decode nic frame");

    frame->key_frame = 1;
    frame->pict_type = AV_PICTURE_TYPE_I;
    frame->quality   = lrintf(info.qp * FF_QP2LAMBDA); /* the frame's qp, in lambda units */
    *got_frame = 1;
    return pkt->size;
}

static av_cold int libnic_decode_close(AVCodecContext *avctx)
{
    LibNicDecodeContext *ctx = avctx->priv_data;

    nic_context_destroy(ctx->nic);
    ctx->nic = NULL;
    return 0;
}

#define OFFSET(x) offsetof(LibNicDecodeContext, x)
#define VD AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_DECODING_PARAM
static const AVOption libnic_decode_options[] = {
    { "model",  "Weights file (.safetensors) or installed model's name; must be the one the "
                "stream was encoded with. Default: the installed model that encoded the stream, "
                "else libnic's default model (the environment variable NIC_MODEL overrides it)",
                OFFSET(context.model),  AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VD },
    { "device", "Device to run the model on: cpu, cuda or cuda:N (default: cpu)",
                OFFSET(context.device), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VD },
    { "precision", "Arithmetic of the float networks: auto (float16 on a GPU; on the CPU bfloat16 with AMX, else float32), float32, float16, bfloat16",
                OFFSET(context.precision), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VD },
    { NULL },
};

static const AVClass libnic_decode_class = {
    .class_name = "libnic decoder",
    .item_name  = av_default_item_name,
    .option     = libnic_decode_options,
    .version    = LIBAVUTIL_VERSION_INT,
};

const FFCodec ff_libnic_decoder = {
    .p.name           = "libnic",
    .p.long_name      = NULL_IF_CONFIG_SMALL("libnic nic neural image codec"),
    .p.type           = AVMEDIA_TYPE_VIDEO,
    .p.id             = AV_CODEC_ID_NIC,
    .priv_data_size   = sizeof(LibNicDecodeContext),
    .init             = libnic_decode_init,
    FF_CODEC_DECODE_CB(libnic_decode_frame),
    .close            = libnic_decode_close,
    .p.capabilities   = AV_CODEC_CAP_DR1 | AV_CODEC_CAP_OTHER_THREADS,
    .caps_internal    = FF_CODEC_CAP_AUTO_THREADS | FF_CODEC_CAP_INIT_CLEANUP,
    .p.priv_class     = &libnic_decode_class,
    .p.wrapper_name   = "libnic",
};
