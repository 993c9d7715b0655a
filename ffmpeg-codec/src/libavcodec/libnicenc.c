/*
 * nic encoding through libnic.
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
 * Every frame is intra-coded into one self-contained nic frame unit (one keyframe packet).
 *
 * Quality: nic's quantization parameter qp runs from 0 (best) to 63 (fewest bits), fractional
 * values allowed. For each frame, the first of these that is set decides it:
 *   1. AVFrame.quality > 0 (lambda units): qp = quality / FF_QP2LAMBDA. The ffmpeg tool copies
 *      -q:v / -global_quality into every frame, API users can set it per frame.
 *   2. -rc_override "start,end,qp/..." (frame numbers in coding order, from 0): integer qp
 *      (0..63) for the frames of each range; a fractional qp per frame goes through 1.
 *      Quality factors (negative q) are refused: nic has no qscale.
 *   3. -q:v N (sets global_quality = N * FF_QP2LAMBDA and the qscale flag) or
 *      -global_quality L (lambda units): qp = global_quality / FF_QP2LAMBDA.
 *   4. -b:v (rate control): libnic picks each frame's qp so that the frame fits the budget the
 *      controller gives it (libnic's exact bit estimate; the analysis transform runs once per
 *      frame). -rc cbr keeps every frame within its share of -b:v plus the -bufsize buffer;
 *      -rc abr holds -b:v over -rc_window frames, and -maxrate with -bufsize caps it by a
 *      leaky bucket (VBV). -maxrate equal to -b:v selects cbr. -qmin/-qmax bound the qp.
 *      API users may change AVCodecContext.bit_rate between frames; the controller follows
 *      from the next frame. Frames whose qp is forced by 1. or 2. are still counted by the
 *      controller, so the stream keeps its rate.
 *   5. the private option -qp (default 24).
 * The qp written into the frame (1/256 steps) is reported as encoder stats side data
 * (quality = qp * FF_QP2LAMBDA), which the ffmpeg tool shows as "q=".
 *
 * Frames go through libnic's stream encoder (nic_stream_encoder_*). With -pipeline 1 (the
 * default on a GPU) it holds one frame: the networks of frame N+1 run while frame N is entropy
 * coded, and each packet comes out one call after its frame (AV_CODEC_CAP_DELAY; a flush drains
 * the last). On the CPU (-pipeline 0 by default) each packet comes out of its frame's call.
 */

#include <nic/nic.h>

#include "libavutil/common.h"
#include "libavutil/imgutils.h"
#include "libavutil/mem.h"
#include "libavutil/opt.h"

#include "avcodec.h"
#include "codec_internal.h"
#include "encode.h"
#include "libnic.h"
#include "packet_internal.h"

#define RC_AUTO (-1)

typedef struct LibNicEncodeContext {
    const AVClass *class;
    NicContext *nic;
    float qp;       ///< -qp
    LibNicContextOptions context; ///< -model, -device, -precision
    int effort;     ///< -effort
    int rc_mode;    ///< -rc: RC_AUTO or a NicRateControlMode
    int rc_window;  ///< -rc_window (ABR), 0 = libnic's default
    float base_qp;  ///< qp of frames that do not set their own quality (no rate control)
    NicRateController *rc;         ///< rate control (-b:v), or NULL
    NicRateControlConfig rc_config;
    uint8_t *flip_buffer;  ///< a top-down copy of frames with negative linesize
    int64_t frame_number;  ///< frames sent so far (for -rc_override)
    int pipeline;          ///< -pipeline: NIC_STREAM_DELAY_AUTO, 0 or 1
    NicStreamEncoder *stream;
    /** Timestamps of the frames in the pipeline, by frame number modulo 2 (delay <= 1). */
    struct { int64_t pts, duration; } timestamps[2];
} LibNicEncodeContext;

static const char *rate_mode_name(int mode)
{
    return mode == NIC_RATE_CBR ? "cbr" : mode == NIC_RATE_ABR ? "abr" : "constant qp";
}

/* -b:v and friends -> libnic's rate controller. */
static av_cold int setup_rate_control(AVCodecContext *avctx)
{
    LibNicEncodeContext *ctx = avctx->priv_data;
    NicRateControlConfig *c = &ctx->rc_config;
    int mode = ctx->rc_mode;
    NicStatus status;

    if (avctx->rc_max_rate > 0 && avctx->bit_rate <= 0) {
        av_log(avctx, AV_LOG_ERROR, "-maxrate needs an average bit rate (-b:v)\n");
        return AVERROR(EINVAL);
    }
    if (avctx->rc_max_rate > 0 && avctx->rc_max_rate < avctx->bit_rate) {
        av_log(avctx, AV_LOG_ERROR, "-maxrate %"PRId64" is below -b:v %"PRId64"\n",
               avctx->rc_max_rate, avctx->bit_rate);
        return AVERROR(EINVAL);
    }
    if (mode == RC_AUTO) {
        if (avctx->bit_rate <= 0)
            mode = NIC_RATE_CONSTANT_QP;
        else  /* as with x264: a peak rate equal to the average means constant bit rate */
            mode = avctx->rc_max_rate == avctx->bit_rate ? NIC_RATE_CBR : NIC_RATE_ABR;
    }
    if (mode == NIC_RATE_CONSTANT_QP) {
        if (avctx->bit_rate > 0)
            av_log(avctx, AV_LOG_WARNING, "-rc cqp: -b:v is ignored\n");
        return 0;
    }
    if (avctx->bit_rate <= 0) {
        av_log(avctx, AV_LOG_ERROR, "-rc %s needs a bit rate (-b:v)\n", rate_mode_name(mode));
        return AVERROR(EINVAL);
    }
    if (avctx->global_quality > 0) {
        av_log(avctx, AV_LOG_ERROR, "Give either a bit rate (-b:v) or a quality (-q:v / "
               "-global_quality), not both\n");
        return AVERROR(EINVAL);
    }

    nic_rate_control_config_init(c);
    c->mode    = mode;
    c->qp      = ctx->base_qp;
    c->bitrate = avctx->bit_rate;
    if (avctx->framerate.num > 0 && avctx->framerate.den > 0)
        c->framerate = av_q2d(avctx->framerate);
    else if (avctx->time_base.num > 0 && avctx->time_base.den > 0)
        c->framerate = 1.0 / av_q2d(avctx->time_base);
    if (!(c->framerate > 0 && c->framerate < 10000)) {
        av_log(avctx, AV_LOG_ERROR, "Rate control needs the frame rate (-r)\n");
        return AVERROR(EINVAL);
    }
    if (mode == NIC_RATE_ABR && avctx->rc_max_rate > 0)
        c->max_bitrate = avctx->rc_max_rate;
    else if (mode == NIC_RATE_CBR && avctx->rc_max_rate > avctx->bit_rate)
        av_log(avctx, AV_LOG_WARNING, "-rc cbr: the buffer drains at -b:v; -maxrate is ignored\n");
    /* -bufsize is in bits: the bucket drains at the peak rate if there is one. */
    if (avctx->rc_buffer_size > 0)
        c->buffer_seconds = (double)avctx->rc_buffer_size /
                            (c->max_bitrate > 0 ? c->max_bitrate : c->bitrate);
    if (ctx->rc_window > 0)
        c->window_frames = ctx->rc_window;
    if (avctx->qmin >= 0)
        c->min_qp = avctx->qmin;
    if (avctx->qmax >= 0)
        c->max_qp = avctx->qmax;
    if (c->min_qp > NIC_QP_MAX || c->max_qp > NIC_QP_MAX || c->min_qp > c->max_qp) {
        av_log(avctx, AV_LOG_ERROR, "-qmin %g / -qmax %g: nic's qp runs from %.0f to %.0f\n",
               c->min_qp, c->max_qp, NIC_QP_MIN, NIC_QP_MAX);
        return AVERROR(EINVAL);
    }

    status = nic_rate_controller_create(c, &ctx->rc);
    if (status != NIC_OK)
        return ff_libnic_error(avctx, status, "nic_rate_controller_create");
    av_log(avctx, AV_LOG_VERBOSE, "rate control %s: %"PRId64" bit/s at %.3f frame/s, "
           "peak %.0f bit/s, buffer %.2f s, window %d frames, qp %g..%g\n",
           rate_mode_name(mode), avctx->bit_rate, c->framerate, c->max_bitrate,
           c->buffer_seconds, c->window_frames, c->min_qp, c->max_qp);
    return 0;
}

/* API users may change the bit rate between frames. */
static int update_rate_control(AVCodecContext *avctx)
{
    LibNicEncodeContext *ctx = avctx->priv_data;
    NicStatus status;

    if (avctx->bit_rate <= 0 || avctx->bit_rate == (int64_t)ctx->rc_config.bitrate)
        return 0;
    av_log(avctx, AV_LOG_VERBOSE, "bit rate %.0f -> %"PRId64" bit/s\n",
           ctx->rc_config.bitrate, avctx->bit_rate);
    ctx->rc_config.bitrate = avctx->bit_rate;
    status = nic_rate_controller_reconfigure(ctx->rc, &ctx->rc_config);
    if (status != NIC_OK)
        return ff_libnic_error(avctx, status, "nic_rate_controller_reconfigure");
    return 0;
}

/* -rc_override: nic takes an integer qp per range; ffmpeg stores it as qscale. The ffmpeg tool
 * turns a q of 0 or below into qscale 0 with quality_factor -q/100, so qscale 0 with
 * quality_factor 0 is qp 0, and a non-zero quality_factor (a negative q) is a quality factor,
 * which nic does not have. */
static int override_is_quality_factor(const RcOverride *o)
{
    return o->qscale == 0 && o->quality_factor != 0.0f;
}

static av_cold int check_overrides(AVCodecContext *avctx)
{
    for (int i = 0; i < avctx->rc_override_count; i++) {
        const RcOverride *o = &avctx->rc_override[i];
        if (override_is_quality_factor(o) || o->qscale < 0) {
            av_log(avctx, AV_LOG_ERROR, "-rc_override %d,%d: quality factors (negative q) are "
                   "not supported; give an integer qp from 0 to 63\n",
                   o->start_frame, o->end_frame);
            return AVERROR(EINVAL);
        }
        if (o->qscale > NIC_QP_MAX || o->start_frame < 0 || o->end_frame < o->start_frame) {
            av_log(avctx, AV_LOG_ERROR, "-rc_override %d,%d,%d: need 0 <= start <= end and a qp "
                   "from 0 to 63\n", o->start_frame, o->end_frame, o->qscale);
            return AVERROR(EINVAL);
        }
    }
    return 0;
}

/* The qp -rc_override sets for a frame, or -1. The last matching range wins. */
static int override_qp(const AVCodecContext *avctx, int64_t frame_number)
{
    int qp = -1;
    for (int i = 0; i < avctx->rc_override_count; i++) {
        const RcOverride *o = &avctx->rc_override[i];
        if (frame_number >= o->start_frame && frame_number <= o->end_frame)
            qp = o->qscale;
    }
    return qp;
}

static av_cold int libnic_encode_init(AVCodecContext *avctx)
{
    LibNicEncodeContext *ctx = avctx->priv_data;
    NicStatus status;
    int ret;

    if (avctx->width  < 1 || avctx->width  > NIC_MAX_DIMENSION ||
        avctx->height < 1 || avctx->height > NIC_MAX_DIMENSION) {
        av_log(avctx, AV_LOG_ERROR, "nic codes frames from 1x1 to %ux%u, not %dx%d\n",
               NIC_MAX_DIMENSION, NIC_MAX_DIMENSION, avctx->width, avctx->height);
        return AVERROR(EINVAL);
    }

    ctx->base_qp = ctx->qp;
    if (avctx->global_quality > 0) {
        ctx->base_qp = (float)avctx->global_quality / FF_QP2LAMBDA;
        if (ctx->base_qp > NIC_QP_MAX) {
            av_log(avctx, AV_LOG_ERROR, "-q:v / -global_quality gives qp %.2f; nic's qp runs "
                   "from %.0f to %.0f (-global_quality is in lambda units: qp * %d)\n",
                   ctx->base_qp, NIC_QP_MIN, NIC_QP_MAX, FF_QP2LAMBDA);
            return AVERROR(EINVAL);
        }
    }
    ret = check_overrides(avctx);
    if (ret < 0)
        return ret;
    ret = setup_rate_control(avctx);
    if (ret < 0)
        return ret;

    ret = ff_libnic_open(avctx, &ctx->context, ctx->effort, &ctx->nic);
    if (ret < 0)
        return ret;
    status = nic_stream_encoder_create(ctx->nic, ctx->rc, ctx->pipeline, &ctx->stream);
    if (status != NIC_OK)
        return ff_libnic_error(avctx, status, "nic_stream_encoder_create");
    av_log(avctx, AV_LOG_VERBOSE, "pipeline delay: %d frame(s)\n",
           nic_stream_encoder_delay(ctx->stream));
    if (!ctx->rc)
        av_log(avctx, AV_LOG_VERBOSE, "qp %.2f unless a frame sets its own quality\n",
               ctx->base_qp);
    return 0;
}

/* The qp a frame sets for itself (its quality, or -rc_override), or -1: the base qp or the
 * rate controller decides. */
static float forced_qp(AVCodecContext *avctx, const AVFrame *frame, int64_t frame_number)
{
    if (frame->quality > 0) {
        float qp = (float)frame->quality / FF_QP2LAMBDA;
        if (qp > NIC_QP_MAX) {
            av_log(avctx, AV_LOG_WARNING, "Frame quality %d (qp %.2f) is beyond nic's largest "
                   "qp; using %.0f\n", frame->quality, qp, NIC_QP_MAX);
            qp = NIC_QP_MAX;
        }
        return qp;
    }
    return override_qp(avctx, frame_number);
}

static int libnic_encode_frame(AVCodecContext *avctx, AVPacket *pkt,
                               const AVFrame *frame, int *got_packet)
{
    LibNicEncodeContext *ctx = avctx->priv_data;
    const int width = avctx->width, height = avctx->height;
    NicStreamFrame in = { 0 };
    NicCodedFrame coded;
    NicBuffer out = { NULL, 0 };
    NicStatus status;
    int ret;

    *got_packet = 0;
    if (frame) {  /* NULL: draining */
        float qp = forced_qp(avctx, frame, ctx->frame_number);

        if (frame->width < width || frame->height < height) {
            av_log(avctx, AV_LOG_ERROR, "Frame is %dx%d, the encoder was opened for %dx%d\n",
                   frame->width, frame->height, width, height);
            return AVERROR(EINVAL);
        }
        in.rgb    = frame->data[0];
        in.width  = width;
        in.height = height;
        in.stride = frame->linesize[0];
        if (frame->linesize[0] < 0) { /* libnic takes top-down rows: copy a bottom-up frame */
            int row_bytes = width * 3;
            ret = av_reallocp(&ctx->flip_buffer, (size_t)row_bytes * height);
            if (ret < 0)
                return ret;
            av_image_copy_plane(ctx->flip_buffer, row_bytes, frame->data[0], frame->linesize[0],
                                row_bytes, height);
            in.rgb    = ctx->flip_buffer;
            in.stride = row_bytes;
        }
        if (qp < 0 && ctx->rc) {  /* the controller picks it */
            ret = update_rate_control(avctx);
            if (ret < 0)
                return ret;
        } else if (qp < 0) {
            qp = ctx->base_qp;
        }
        /* A forced qp bypasses the controller, which still counts the frame. */
        in.qp        = qp;
        in.user_data = ctx->frame_number;
        ctx->timestamps[ctx->frame_number & 1].pts      = frame->pts;
        ctx->timestamps[ctx->frame_number & 1].duration = frame->pkt_duration;
        ctx->frame_number++;
    }

    status = nic_stream_encoder_encode(ctx->stream, frame ? &in : NULL, &out, &coded);
    if (status != NIC_OK)
        return ff_libnic_error(avctx, status, "nic_stream_encoder_encode");
    if (!out.size)  /* the pipeline is filling, or drained */
        return 0;

    if (out.size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE) {
        nic_buffer_free(&out);
        return AVERROR(ERANGE);
    }
    ret = ff_get_encode_buffer(avctx, pkt, out.size, 0);
    if (ret < 0) {
        nic_buffer_free(&out);
        return ret;
    }
    memcpy(pkt->data, out.data, out.size);
    nic_buffer_free(&out);

    /* Every frame is a keyframe, coded in order: dts = pts. */
    pkt->pts = pkt->dts = ctx->timestamps[coded.user_data & 1].pts;
    pkt->duration       = ctx->timestamps[coded.user_data & 1].duration;
    pkt->flags |= AV_PKT_FLAG_KEY;
    /* The qp the frame really carries (1/256 steps). */
    ret = ff_side_data_set_encoder_stats(pkt, lrintf(coded.qp * FF_QP2LAMBDA), NULL, 0,
                                         AV_PICTURE_TYPE_I);
    if (ret < 0)
        return ret;

    *got_packet = 1;
    return 0;
}

static av_cold int libnic_encode_close(AVCodecContext *avctx)
{
    LibNicEncodeContext *ctx = avctx->priv_data;

    nic_stream_encoder_destroy(ctx->stream);
    ctx->stream = NULL;
    nic_rate_controller_destroy(ctx->rc);
    ctx->rc = NULL;
    nic_context_destroy(ctx->nic);
    ctx->nic = NULL;
    av_freep(&ctx->flip_buffer);
    return 0;
}

#define OFFSET(x) offsetof(LibNicEncodeContext, x)
#define VE AV_OPT_FLAG_VIDEO_PARAM | AV_OPT_FLAG_ENCODING_PARAM
static const AVOption libnic_encode_options[] = {
    { "qp",     "Quantization parameter, 0 (best) to 63 (fewest bits), fractional allowed; "
                "-q:v / -global_quality and per-frame quality override it",
                OFFSET(qp),     AV_OPT_TYPE_FLOAT,  { .dbl = NIC_QP_DEFAULT }, NIC_QP_MIN, NIC_QP_MAX, VE },
    { "rc",     "Rate control when -b:v is given (default: abr, or cbr when -maxrate equals -b:v)",
                OFFSET(rc_mode), AV_OPT_TYPE_INT, { .i64 = RC_AUTO }, RC_AUTO, NIC_RATE_ABR, VE, "rc" },
        { "cqp", "constant qp (-qp / -q:v); -b:v is ignored", 0, AV_OPT_TYPE_CONST, { .i64 = NIC_RATE_CONSTANT_QP }, 0, 0, VE, "rc" },
        { "cbr", "every frame within its share of -b:v plus the -bufsize buffer", 0, AV_OPT_TYPE_CONST, { .i64 = NIC_RATE_CBR }, 0, 0, VE, "rc" },
        { "abr", "-b:v on average over -rc_window frames, peaks capped by -maxrate/-bufsize", 0, AV_OPT_TYPE_CONST, { .i64 = NIC_RATE_ABR }, 0, 0, VE, "rc" },
    { "rc_window", "ABR: frames over which the average bit rate is held (0 = libnic's default, 30)",
                OFFSET(rc_window), AV_OPT_TYPE_INT, { .i64 = 0 }, 0, INT_MAX, VE },
    { "model",  "Weights file (.safetensors); default: libnic's default model, or the "
                "environment variable NIC_MODEL",
                OFFSET(context.model),  AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VE },
    { "device", "Device to run the model on: cpu, cuda or cuda:N (default: cpu)",
                OFFSET(context.device), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VE },
    { "precision", "Arithmetic of the float networks: auto (float16 on a GPU; on the CPU bfloat16 with AMX, else float32), float32, float16, bfloat16",
                OFFSET(context.precision), AV_OPT_TYPE_STRING, { .str = NULL }, 0, 0, VE },
    { "pipeline", "Frames held so that the networks of the next frame run while this one is "
                "entropy coded: auto (1 on a GPU, 0 on the CPU, where the overlap is slower), 0 or 1",
                OFFSET(pipeline), AV_OPT_TYPE_INT, { .i64 = NIC_STREAM_DELAY_AUTO }, NIC_STREAM_DELAY_AUTO, 1, VE, "pipeline" },
        { "auto", "1 on a GPU, 0 on the CPU", 0, AV_OPT_TYPE_CONST, { .i64 = NIC_STREAM_DELAY_AUTO }, 0, 0, VE, "pipeline" },
    { "effort", "Encoder effort: 1 = one pass (real time); each step up doubles the refinement of "
                "each frame's latents (fewer bits for the same quality, slower encoding)",
                OFFSET(effort), AV_OPT_TYPE_INT, { .i64 = NIC_EFFORT_DEFAULT }, NIC_EFFORT_MIN, NIC_EFFORT_MAX, VE },
    { NULL },
};

static const AVClass libnic_encode_class = {
    .class_name = "libnic encoder",
    .item_name  = av_default_item_name,
    .option     = libnic_encode_options,
    .version    = LIBAVUTIL_VERSION_INT,
};

static const FFCodecDefault libnic_encode_defaults[] = {
    { "b",    "0" },  /* -b:v turns rate control on, so it is unset by default */
    { "qmin", "-1" }, /* unset: rate control may use qp 0..63 */
    { "qmax", "-1" },
    { NULL },
};

const FFCodec ff_libnic_encoder = {
    .p.name           = "libnic",
    .p.long_name      = NULL_IF_CONFIG_SMALL("libnic nic neural image codec"),
    .p.type           = AVMEDIA_TYPE_VIDEO,
    .p.id             = AV_CODEC_ID_NIC,
    .priv_data_size   = sizeof(LibNicEncodeContext),
    .init             = libnic_encode_init,
    FF_CODEC_ENCODE_CB(libnic_encode_frame),
    .close            = libnic_encode_close,
    .p.capabilities   = AV_CODEC_CAP_DR1 | AV_CODEC_CAP_OTHER_THREADS | AV_CODEC_CAP_DELAY,
    .caps_internal    = FF_CODEC_CAP_AUTO_THREADS | FF_CODEC_CAP_INIT_CLEANUP,
    .p.pix_fmts       = (const enum AVPixelFormat[]) { AV_PIX_FMT_RGB24, AV_PIX_FMT_NONE },
    .p.priv_class     = &libnic_encode_class,
    .defaults         = libnic_encode_defaults,
    .p.wrapper_name   = "libnic",
};
