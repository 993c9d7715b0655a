/*
 * nic parser: splits a raw nic stream (concatenated frame units) into one packet per frame.
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
 * Each frame unit states its own size in its header, so the parser gathers the header of the
 * frame it is in (at most 150 bytes), computes the frame size and then only counts bytes.
 * Between frames it discards bytes that cannot start a frame (damage, junk before the first
 * frame). A frame whose header turns out to be damaged after part of it was buffered is passed
 * on as it is, so the decoder reports it; the stream resynchronises on the next frame.
 */

#include "libavutil/pixfmt.h"

#include "avcodec.h"
#include "nic_header.h"
#include "parser.h"

typedef struct NICParseContext {
    ParseContext pc;
    uint8_t  header[NIC_MAX_HEADER_SIZE]; ///< the current frame's header, as far as gathered
    int      header_len;                  ///< bytes in header; 0 between frames
    uint64_t remaining;                   ///< bytes of the frame after its header still to come;
                                          ///< 0 while the header is incomplete
    int64_t  discarded;                   ///< bytes skipped since the last frame, for the log
} NICParseContext;

static void set_frame_properties(AVCodecParserContext *s, AVCodecContext *avctx,
                                 const NICFrameHeader *h)
{
    s->width  = s->coded_width  = h->width;
    s->height = s->coded_height = h->height;
    s->format = AV_PIX_FMT_RGB24;
    if (avctx) {
        avctx->width  = avctx->coded_width  = h->width;
        avctx->height = avctx->coded_height = h->height;
        avctx->pix_fmt = AV_PIX_FMT_RGB24;
    }
}

/* Returns the index in buf just after the end of the current frame, or END_NOT_FOUND. */
static int find_frame_end(NICParseContext *ctx, AVCodecParserContext *s,
                          AVCodecContext *avctx, const uint8_t *buf, int buf_size)
{
    int i = 0;

    while (i < buf_size) {
        if (!ctx->remaining) {
            NICFrameHeader h;
            int need = ctx->header_len < NIC_FIXED_HEADER_SIZE
                           ? NIC_FIXED_HEADER_SIZE
                           : NIC_FIXED_HEADER_SIZE + 4 * ctx->header[21];
            int take = FFMIN(need - ctx->header_len, buf_size - i);
            int ret;

            memcpy(ctx->header + ctx->header_len, buf + i, take);
            ctx->header_len += take;
            i += take;
            if (ctx->header_len < need)
                continue;

            ret = ff_nic_read_frame_header(ctx->header, ctx->header_len, &h);
            if (ret == AVERROR(EAGAIN))
                continue; /* the fixed part is in; the substream sizes follow */
            if (ret < 0) {
                /* Damaged header: end the packet here so the decoder reports it. */
                av_log(avctx, AV_LOG_WARNING, "Damaged nic frame header, resynchronising\n");
                ctx->header_len = 0;
                return i;
            }
            set_frame_properties(s, avctx, &h);
            ctx->remaining = h.frame_size - h.header_size;
        } else {
            int64_t avail = buf_size - i;
            if (avail >= ctx->remaining) {
                i += ctx->remaining;
                ctx->remaining  = 0;
                ctx->header_len = 0;
                return i;
            }
            ctx->remaining -= avail;
            i = buf_size;
        }
    }
    return END_NOT_FOUND;
}

static int nic_parse(AVCodecParserContext *s, AVCodecContext *avctx,
                     const uint8_t **poutbuf, int *poutbuf_size,
                     const uint8_t *buf, int buf_size)
{
    NICParseContext *ctx = s->priv_data;
    int next;

    s->key_frame = 1;
    s->pict_type = AV_PICTURE_TYPE_I;

    if (s->flags & PARSER_FLAG_COMPLETE_FRAMES) {
        NICFrameHeader h;
        if (ff_nic_read_frame_header(buf, buf_size, &h) == 0)
            set_frame_properties(s, avctx, &h);
        *poutbuf      = buf;
        *poutbuf_size = buf_size;
        return buf_size;
    }

    if (!ctx->pc.index && !ctx->header_len && buf_size > 0) {
        /* Between frames: drop whatever cannot start one. */
        size_t start = ff_nic_find_frame_start(buf, buf_size);
        if (start > 0) {
            ctx->discarded += start;
            *poutbuf      = NULL;
            *poutbuf_size = 0;
            return start;
        }
        if (ctx->discarded) {
            av_log(avctx, AV_LOG_WARNING,
                   "Skipped %"PRId64" bytes that are not part of a nic frame\n", ctx->discarded);
            ctx->discarded = 0;
        }
    }

    next = find_frame_end(ctx, s, avctx, buf, buf_size);
    if (ff_combine_frame(&ctx->pc, next, &buf, &buf_size) < 0) {
        *poutbuf      = NULL;
        *poutbuf_size = 0;
        return buf_size;
    }
    if (!buf_size && ctx->discarded) {
        av_log(avctx, AV_LOG_WARNING,
               "Skipped %"PRId64" bytes at the end that are not part of a nic frame\n",
               ctx->discarded);
        ctx->discarded = 0;
    }

    *poutbuf      = buf;
    *poutbuf_size = buf_size;
    return next;
}

const AVCodecParser ff_nic_parser = {
    .codec_ids      = { AV_CODEC_ID_NIC },
    .priv_data_size = sizeof(NICParseContext),
    .parser_parse   = nic_parse,
    .parser_close   = ff_parse_close,
};
