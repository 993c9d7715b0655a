/*
 * Raw nic muxer (-f nic, .nic): writes the frame units one after another.
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

#include "avformat.h"
#include "rawenc.h"

static int nic_write_init(AVFormatContext *s)
{
    if (s->nb_streams != 1 || s->streams[0]->codecpar->codec_id != AV_CODEC_ID_NIC) {
        av_log(s, AV_LOG_ERROR, "The nic muxer stores exactly one nic video stream\n");
        return AVERROR(EINVAL);
    }
    return 0;
}

const AVOutputFormat ff_nic_muxer = {
    .name         = "nic",
    .long_name    = NULL_IF_CONFIG_SMALL("raw nic (neural image codec)"),
    .extensions   = "nic",
    .audio_codec  = AV_CODEC_ID_NONE,
    .video_codec  = AV_CODEC_ID_NIC,
    .init         = nic_write_init,
    .write_packet = ff_raw_write_packet,
    .flags        = AVFMT_NOTIMESTAMPS,
};
