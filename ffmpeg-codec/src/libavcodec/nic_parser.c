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
 * The frames are found by libnic's scanner (nic_scan_frame), the same one GStreamer's nicparse
 * and the nic tool use: a frame is handed on only when its header is valid and its CRC correct,
 * and damage (a flipped bit, a wrong length field, junk between frames) costs the damaged frame
 * only, since a complete good frame wins over a damaged one still waiting for the bytes its
 * length field claims. The parser keeps the bytes it has not handed on in its own buffer, takes
 * new input only when that buffer holds no complete frame, and at the end of the stream passes
 * what is left as one packet, so that the decoder reports a truncated frame.
 */

#include <nic/nic.h>

#include "libavutil/mem.h"
#include "libavutil/pixfmt.h"

#include "avcodec.h"
#include "nic_header.h"
#include "parser.h"

typedef struct NICParseContext {
    uint8_t *buf;         ///< bytes not yet handed on, padded for the decoder
    size_t   size;        ///< bytes in buf
    unsigned capacity;    ///< allocated size of buf (av_fast_realloc)
    size_t   handed_on;   ///< bytes at the start of buf given out by the previous call
    size_t   rescan_at;   ///< scan again once buf holds this many bytes
    int64_t  discarded;   ///< bytes skipped since the last frame, for the log
} NICParseContext;

static void set_frame_properties(AVCodecParserContext *s, AVCodecContext *avctx,
                                 uint32_t width, uint32_t height)
{
    s->width  = s->coded_width  = width;
    s->height = s->coded_height = height;
    s->format = AV_PIX_FMT_RGB24;
    if (avctx) {
        avctx->width  = avctx->coded_width  = width;
        avctx->height = avctx->coded_height = height;
        avctx->pix_fmt = AV_PIX_FMT_RGB24;
    }
}

/* One warning for the bytes skipped since the last frame handed on. */
static void report_discarded(NICParseContext *ctx, AVCodecContext *avctx)
{
    if (!ctx->discarded)
        return;
    av_log(avctx, AV_LOG_WARNING, "Skipped %"PRId64" bytes that are not part of a good nic "
           "frame (damaged frames or junk)\n", ctx->discarded);
    ctx->discarded = 0;
}

static void drop_front(NICParseContext *ctx, size_t n)
{
    memmove(ctx->buf, ctx->buf + n, ctx->size - n);
    ctx->size -= n;
}

/* Hands on the first complete frame of the buffer, dropping what comes before it; 1 if there was
 * one. Otherwise sets when to look again: when the frame the buffer starts with is complete, or
 * when the buffer has doubled (a good frame behind a damaged length field), so that a large frame
 * arriving in small pieces is not rescanned at every piece. */
static int hand_on_frame(NICParseContext *ctx, AVCodecParserContext *s, AVCodecContext *avctx,
                         const uint8_t **poutbuf, int *poutbuf_size)
{
    NicFrameScan scan;

    if (!ctx->size || nic_scan_frame(ctx->buf, ctx->size, &scan) != NIC_OK)
        return 0;
    if (scan.skip) {
        drop_front(ctx, scan.skip);
        ctx->discarded += scan.skip;
    }
    if (!scan.frame_size) {
        NICFrameHeader h;
        /* A header not yet complete is short: it is scanned again with the next input. */
        ctx->rescan_at = ff_nic_read_frame_header(ctx->buf, ctx->size, &h) == 0
                             ? FFMIN(h.frame_size, 2 * ctx->size) : 0;
        return 0;
    }
    ctx->rescan_at = 0;
    report_discarded(ctx, avctx);
    set_frame_properties(s, avctx, scan.info.width, scan.info.height);
    *poutbuf      = ctx->buf;
    *poutbuf_size = scan.frame_size;
    ctx->handed_on = scan.frame_size;
    return 1;
}

static int nic_parse(AVCodecParserContext *s, AVCodecContext *avctx,
                     const uint8_t **poutbuf, int *poutbuf_size,
                     const uint8_t *buf, int buf_size)
{
    NICParseContext *ctx = s->priv_data;

    s->key_frame = 1;
    s->pict_type = AV_PICTURE_TYPE_I;
    *poutbuf      = NULL;
    *poutbuf_size = 0;

    if (s->flags & PARSER_FLAG_COMPLETE_FRAMES) {
        NICFrameHeader h;
        if (ff_nic_read_frame_header(buf, buf_size, &h) == 0)
            set_frame_properties(s, avctx, h.width, h.height);
        *poutbuf      = buf;
        *poutbuf_size = buf_size;
        return buf_size;
    }

    /* The previous call's frame has been used by now. */
    if (ctx->handed_on) {
        drop_front(ctx, ctx->handed_on);
        ctx->handed_on = 0;
    }
    /* A frame already buffered goes first, without taking input (the caller calls again). */
    if (ctx->size >= ctx->rescan_at && hand_on_frame(ctx, s, avctx, poutbuf, poutbuf_size))
        return 0;

    if (buf_size > 0) {
        uint8_t *grown = NULL;
        if (ctx->size + buf_size <= INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
            grown = av_fast_realloc(ctx->buf, &ctx->capacity,
                                    ctx->size + buf_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!grown) {
            av_log(avctx, AV_LOG_ERROR, "nic parser: out of memory, %"PRIu64" bytes dropped\n",
                   (uint64_t)ctx->size + buf_size);
            ctx->size = ctx->rescan_at = 0;
            return buf_size;
        }
        ctx->buf = grown;
        memcpy(ctx->buf + ctx->size, buf, buf_size);
        ctx->size += buf_size;
        memset(ctx->buf + ctx->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
        if (ctx->size >= ctx->rescan_at)
            hand_on_frame(ctx, s, avctx, poutbuf, poutbuf_size);
        return buf_size;
    }

    /* End of the stream: a frame the doubling rule held back, then what is left: a frame cut
     * short (or junk), which the decoder reports. */
    if (ctx->size && hand_on_frame(ctx, s, avctx, poutbuf, poutbuf_size))
        return 0;
    if (ctx->size) {
        report_discarded(ctx, avctx);
        *poutbuf       = ctx->buf;
        *poutbuf_size  = ctx->size;
        ctx->handed_on = ctx->size;
    }
    return 0;
}

static void nic_parse_close(AVCodecParserContext *s)
{
    NICParseContext *ctx = s->priv_data;
    av_freep(&ctx->buf);
}

const AVCodecParser ff_nic_parser = {
    .codec_ids      = { AV_CODEC_ID_NIC },
    .priv_data_size = sizeof(NICParseContext),
    .parser_parse   = nic_parse,
    .parser_close   = nic_parse_close,
};
