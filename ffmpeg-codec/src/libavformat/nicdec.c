/*
 * Raw nic demuxer (-f nic, .nic): a stream of concatenated nic frame units.
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
 * The stream carries no timestamps: frames get them from the -framerate option (default 25),
 * like other raw video streams. The nic parser splits the stream into frames.
 */

#include "libavcodec/nic_header.h"

#include "avformat.h"
#include "rawdec.h"

/* Whether a valid frame header starts at buf[0] and is followed, right after the frame, by
 * another one or by the end of the data. */
static int frame_chain_at(const uint8_t *buf, int size, int *certain)
{
    NICFrameHeader first, second;

    if (ff_nic_read_frame_header(buf, size, &first) < 0)
        return 0;
    *certain = first.frame_size == size ||
               (first.frame_size < size &&
                ff_nic_read_frame_header(buf + first.frame_size, size - first.frame_size,
                                         &second) >= 0);
    return 1;
}

/* A valid header at the start scores just above an extension match, so a .nic file is read by
 * this demuxer rather than image2 (which claims any file whose name ends in .nic); a second
 * valid frame right after the first, or a frame that ends where the data ends, makes it
 * certain. A .nic file whose first frame starts after some junk is still taken (the parser
 * skips the junk); without the extension junk is not accepted, as other containers carrying
 * nic frames contain frame headers too. */
static int nic_probe(const AVProbeData *p)
{
    size_t start;
    int certain = 0;

    if (frame_chain_at(p->buf, p->buf_size, &certain))
        return certain ? AVPROBE_SCORE_MAX : AVPROBE_SCORE_EXTENSION + 1;
    if (!p->filename || !av_match_ext(p->filename, "nic"))
        return 0;
    start = ff_nic_find_frame_start(p->buf, p->buf_size);
    if (start < (size_t)p->buf_size && frame_chain_at(p->buf + start, p->buf_size - start, &certain))
        return AVPROBE_SCORE_EXTENSION + 1;
    return 0;
}

FF_DEF_RAWVIDEO_DEMUXER(nic, "raw nic (neural image codec)", nic_probe, "nic", AV_CODEC_ID_NIC)
