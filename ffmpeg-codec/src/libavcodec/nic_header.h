/*
 * nic frame header reader, shared by the nic parser and the raw nic demuxer's probe.
 *
 * A nic stream is a concatenation of self-delimiting frame units (nic docs/bitstream.md):
 *
 *   offset  size  field
 *   0       4     magic "NICF"
 *   4       1     version (1 or 2)
 *   5       1     flags (0)
 *   6       2     width  (1..16384)
 *   8       2     height (1..16384)
 *   10      1     colour_format (0 = 8-bit RGB)
 *   11      8     model fingerprint
 *   19      2     qp_fixed = round(qp * 256), 0..63*256
 *   21      1     substream count n (1..32)
 *   22      4n    substream sizes
 *   22+4n   ...   payload (the substreams), then a CRC-32 of everything before it
 *
 * All integers little-endian. Reading a header needs no model and no libnic, so the parser and
 * the demuxer work without the external library.
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

#ifndef AVCODEC_NIC_HEADER_H
#define AVCODEC_NIC_HEADER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libavutil/error.h"
#include "libavutil/intreadwrite.h"

#define NIC_MAGIC                "NICF"
#define NIC_MAGIC_SIZE           4
#define NIC_VERSION 2 /* newest bitstream version; 1 and 2 both parse */
#define NIC_FIXED_HEADER_SIZE    22
#define NIC_MAX_SUBSTREAMS       32
#define NIC_MAX_HEADER_SIZE      (NIC_FIXED_HEADER_SIZE + 4 * NIC_MAX_SUBSTREAMS)
#define NIC_CRC_SIZE             4
#define NIC_MAX_DIMENSION        16384
#define NIC_MAX_QP_FIXED         (63 * 256)
/* Largest payload: 64 MiB plus 4 bytes per pixel (more than raw 8-bit RGB needs). */
#define NIC_PAYLOAD_BASE_LIMIT   (UINT64_C(64) << 20)
#define NIC_PAYLOAD_BYTES_PER_PX 4

typedef struct NICFrameHeader {
    int      version;
    int      width;
    int      height;
    uint64_t model_fingerprint;
    int      qp_fixed;         ///< qp * 256
    int      substream_count;
    int      header_size;      ///< bytes up to the payload: 22 + 4 * substream_count
    uint64_t frame_size;       ///< the whole frame unit: header, payload and CRC
} NICFrameHeader;

/**
 * Read the header of the frame unit at buf[0].
 *
 * Only the header has to be present; the payload is neither needed nor checked (the decoder
 * checks the CRC). Checks the fields in the order docs/bitstream.md gives.
 *
 * @return 0 with *h filled when the header is complete and valid,
 *         AVERROR(EAGAIN) when the bytes present are a valid start of a header but more are
 *         needed (the magic, or a prefix of it, is always checked first),
 *         AVERROR_INVALIDDATA when the bytes cannot start a frame this reader understands
 *         (bad magic or field, or a newer version / unsupported feature).
 */
static inline int ff_nic_read_frame_header(const uint8_t *buf, size_t size, NICFrameHeader *h)
{
    uint64_t payload = 0;
    int n, i;

    if (memcmp(buf, NIC_MAGIC, size < NIC_MAGIC_SIZE ? size : NIC_MAGIC_SIZE))
        return AVERROR_INVALIDDATA;
    if (size < NIC_FIXED_HEADER_SIZE)
        return AVERROR(EAGAIN);

    h->version = buf[4];
    if (h->version < 1 || h->version > NIC_VERSION || buf[5] != 0) /* version and flags */
      return AVERROR_INVALIDDATA;
    h->width  = AV_RL16(buf + 6);
    h->height = AV_RL16(buf + 8);
    if (h->width  < 1 || h->width  > NIC_MAX_DIMENSION ||
        h->height < 1 || h->height > NIC_MAX_DIMENSION)
        return AVERROR_INVALIDDATA;
    if (buf[10] != 0) /* colour format */
        return AVERROR_INVALIDDATA;
    h->model_fingerprint = AV_RL64(buf + 11);
    h->qp_fixed = AV_RL16(buf + 19);
    if (h->qp_fixed > NIC_MAX_QP_FIXED)
        return AVERROR_INVALIDDATA;
    n = buf[21];
    if (n < 1 || n > NIC_MAX_SUBSTREAMS)
        return AVERROR_INVALIDDATA;
    h->substream_count = n;
    h->header_size     = NIC_FIXED_HEADER_SIZE + 4 * n;
    if (size < (size_t)h->header_size)
        return AVERROR(EAGAIN);

    for (i = 0; i < n; i++)
        payload += AV_RL32(buf + NIC_FIXED_HEADER_SIZE + 4 * i);
    if (payload > NIC_PAYLOAD_BASE_LIMIT +
                  (uint64_t)NIC_PAYLOAD_BYTES_PER_PX * h->width * h->height)
        return AVERROR_INVALIDDATA;
    h->frame_size = h->header_size + payload + NIC_CRC_SIZE;
    return 0;
}

/**
 * Offset of the first position in buf[0, size) where a frame may start: the magic followed by
 * a header that reads (or is only cut short by the end of the buffer, including a partial magic
 * at the very end). Returns size when there is none: every byte before the returned offset can
 * be discarded.
 */
static inline size_t ff_nic_find_frame_start(const uint8_t *buf, size_t size)
{
    NICFrameHeader h;
    size_t pos;

    for (pos = 0; pos < size; pos++) {
        if (buf[pos] != NIC_MAGIC[0])
            continue;
        if (ff_nic_read_frame_header(buf + pos, size - pos, &h) != AVERROR_INVALIDDATA)
            return pos;
    }
    return size;
}

#endif /* AVCODEC_NIC_HEADER_H */
