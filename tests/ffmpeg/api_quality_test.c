/* Per-frame quality through the libavcodec API (the nic-enabled FFmpeg of ffmpeg-codec/).
 *
 * Checks that
 *   - AVFrame.quality (lambda units) sets each frame's qp: qp = quality / FF_QP2LAMBDA, written
 *     into the frame header (qp_fixed = round(qp * 256), bytes 19-20) and reported in the
 *     packet's AV_PKT_DATA_QUALITY_STATS side data (quality = qp * FF_QP2LAMBDA, picture type I);
 *   - a frame without quality uses the -qp option, global_quality (lambda units) overrides -qp,
 *     and a global_quality beyond qp 63 is refused at open;
 *   - every packet is a keyframe, packets shrink as qp rises;
 *   - every packet decodes to a frame of the right size, and the decoder reports the qp;
 *   - a damaged packet gives AVERROR_INVALIDDATA and the next packet still decodes;
 *   - rate control (bit_rate, -rc cbr): frames stay within their budget plus the buffer, and
 *     lowering AVCodecContext.bit_rate between frames lowers the frame sizes from then on.
 *
 * Usage: nic-ffmpeg-api-test [WIDTH HEIGHT]   (the model comes from NIC_MODEL)
 */
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/opt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nic-ffmpeg-paths.h"

static int failures;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                   \
      fputc('\n', stderr);                                            \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static const char* err2str(int err) {
  static char buf[AV_ERROR_MAX_STRING_SIZE];
  return av_make_error_string(buf, sizeof(buf), err);
}

/* A textured test picture, so that the bit count depends on the quantization. */
static void fill_frame(AVFrame* frame, int seed) {
  unsigned state = 12345u + seed;
  for (int y = 0; y < frame->height; y++) {
    uint8_t* row = frame->data[0] + y * frame->linesize[0];
    for (int x = 0; x < frame->width; x++) {
      state = state * 1664525u + 1013904223u;
      int noise = (state >> 24) & 31;
      row[3 * x + 0] = (uint8_t)(x * 255 / frame->width / 2 + noise + 40);
      row[3 * x + 1] = (uint8_t)(y * 255 / frame->height / 2 + noise + 30);
      row[3 * x + 2] = (uint8_t)(((x / 8 + y / 8) & 1) ? 200 - noise : 60 + noise);
    }
  }
}

static AVCodecContext* open_encoder(int width, int height, const char* qp, int global_quality,
                                    int* open_ret) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_NIC);
  AVCodecContext* ctx;

  CHECK(codec != NULL, "no nic encoder");
  if (!codec) return NULL;
  ctx = avcodec_alloc_context3(codec);
  ctx->width = width;
  ctx->height = height;
  ctx->pix_fmt = AV_PIX_FMT_RGB24;
  ctx->time_base = (AVRational){1, 25};
  ctx->thread_count = 0; /* libnic's default */
  if (global_quality > 0) {
    ctx->flags |= AV_CODEC_FLAG_QSCALE;
    ctx->global_quality = global_quality;
  }
  if (qp) av_opt_set(ctx->priv_data, "qp", qp, 0);
  *open_ret = avcodec_open2(ctx, codec, NULL);
  if (*open_ret < 0) avcodec_free_context(&ctx);
  return ctx;
}

/* Encodes one frame with the given AVFrame.quality; returns the packet (caller frees). */
static AVPacket* encode_one(AVCodecContext* enc, AVFrame* frame, int quality, int64_t pts) {
  AVPacket* pkt = av_packet_alloc();
  int ret;

  frame->quality = quality;
  frame->pts = pts;
  ret = avcodec_send_frame(enc, frame);
  CHECK(ret >= 0, "send_frame: %s", err2str(ret));
  ret = avcodec_receive_packet(enc, pkt);
  CHECK(ret >= 0, "receive_packet: %s", err2str(ret));
  if (ret < 0) av_packet_free(&pkt);
  return pkt;
}

/* Checks a packet's header qp and side data against the expected qp. */
static void check_packet_qp(const AVPacket* pkt, double qp, const char* what) {
  size_t sd_size = 0;
  const uint8_t* sd = av_packet_get_side_data(pkt, AV_PKT_DATA_QUALITY_STATS, &sd_size);
  long want_fixed = lrint(qp * 256);
  long want_lambda = lrint(qp * FF_QP2LAMBDA);

  CHECK(pkt->size > 22 && !memcmp(pkt->data, "NICF", 4), "%s: not a nic frame", what);
  if (pkt->size > 22)
    CHECK(AV_RL16(pkt->data + 19) == want_fixed, "%s: header qp_fixed %d, want %ld", what,
          AV_RL16(pkt->data + 19), want_fixed);
  CHECK(pkt->flags & AV_PKT_FLAG_KEY, "%s: not a keyframe", what);
  CHECK(sd && sd_size >= 6, "%s: no quality stats side data", what);
  if (sd && sd_size >= 6) {
    CHECK(labs((long)AV_RL32(sd) - want_lambda) <= 1, "%s: side data quality %u, want %ld", what,
          AV_RL32(sd), want_lambda);
    CHECK(sd[4] == AV_PICTURE_TYPE_I, "%s: side data picture type %d", what, sd[4]);
  }
}

static int decode_one(AVCodecContext* dec, const AVPacket* pkt, AVFrame* out) {
  int ret = avcodec_send_packet(dec, pkt);
  if (ret < 0) return ret;
  return avcodec_receive_frame(dec, out);
}

int main(int argc, char** argv) {
  const int width = argc > 2 ? atoi(argv[1]) : 64;
  const int height = argc > 2 ? atoi(argv[2]) : 48;
  /* Per-frame qp; a negative entry sends the frame without quality (uses -qp 30). */
  const double qps[] = {-1, 10, 50, 20.5, 63, 0.5, 37.25};
  const int nb = sizeof(qps) / sizeof(qps[0]);
  AVPacket* packets[sizeof(qps) / sizeof(qps[0])] = {0};
  const AVCodecDescriptor* desc = avcodec_descriptor_get(AV_CODEC_ID_NIC);
  AVCodecContext *enc, *dec;
  const AVCodec* decoder;
  AVFrame *frame, *out;
  int ret, open_ret;

  printf("FFmpeg %s (prefix %s), libavcodec %s\n", av_version_info(), NIC_FFMPEG_PREFIX,
         AV_STRINGIFY(LIBAVCODEC_VERSION));
  CHECK(desc && !strcmp(desc->name, "nic"), "descriptor name");
  CHECK(desc && (desc->props & AV_CODEC_PROP_INTRA_ONLY) && (desc->props & AV_CODEC_PROP_LOSSY),
        "descriptor properties");
  CHECK(avcodec_find_encoder_by_name("libnic") != NULL, "encoder libnic");

  enc = open_encoder(width, height, "30", 0, &open_ret);
  CHECK(enc != NULL, "open encoder: %s", err2str(open_ret));
  if (!enc) return 1;

  frame = av_frame_alloc();
  frame->format = AV_PIX_FMT_RGB24;
  frame->width = width;
  frame->height = height;
  ret = av_frame_get_buffer(frame, 0);
  CHECK(ret >= 0, "frame buffer");
  fill_frame(frame, 0);

  for (int i = 0; i < nb; i++) {
    int quality = qps[i] < 0 ? 0 : (int)lrint(qps[i] * FF_QP2LAMBDA);
    double want = qps[i] < 0 ? 30.0 : quality / (double)FF_QP2LAMBDA;
    char what[64];
    packets[i] = encode_one(enc, frame, quality, i);
    if (!packets[i]) return 1;
    snprintf(what, sizeof(what), "frame %d (qp %.3f)", i, want);
    check_packet_qp(packets[i], want, what);
    printf("frame %d: quality %5d -> qp %6.3f, %6d bytes\n", i, quality, want, packets[i]->size);
  }
  /* Bits never rise with qp (0.5, 10, 20.5, 30, 37.25, 50, 63), and the ends differ. The test
   * model is small and random: neighbouring qps may give frames of equal size. Each frame's own
   * qp is checked above. */
  {
    const int order[] = {5, 1, 3, 0, 6, 2, 4};
    for (int k = 0; k + 1 < nb; k++) {
      int a = order[k], b = order[k + 1];
      CHECK(packets[a]->size >= packets[b]->size, "size at qp %.2f (%d) < size at qp %.2f (%d)",
            qps[a] < 0 ? 30.0 : qps[a], packets[a]->size, qps[b] < 0 ? 30.0 : qps[b],
            packets[b]->size);
    }
    CHECK(packets[order[0]]->size > packets[order[nb - 1]]->size,
          "size at qp 0.5 (%d) <= size at qp 63 (%d)", packets[order[0]]->size,
          packets[order[nb - 1]]->size);
  }
  avcodec_free_context(&enc);

  /* global_quality (lambda units, as -q:v sets it) overrides -qp. */
  enc = open_encoder(width, height, "30", 40 * FF_QP2LAMBDA, &open_ret);
  CHECK(enc != NULL, "open encoder with global_quality: %s", err2str(open_ret));
  if (enc) {
    AVPacket* pkt = encode_one(enc, frame, 0, 0);
    if (pkt) check_packet_qp(pkt, 40.0, "global_quality 40*FF_QP2LAMBDA");
    av_packet_free(&pkt);
    avcodec_free_context(&enc);
  }
  /* ... and beyond qp 63 it is refused. */
  enc = open_encoder(width, height, NULL, 70 * FF_QP2LAMBDA, &open_ret);
  CHECK(enc == NULL && open_ret == AVERROR(EINVAL), "global_quality for qp 70 accepted (%s)",
        err2str(open_ret));
  avcodec_free_context(&enc);

  /* Rate control: CBR at a budget between the sizes at qp 0.5 and qp 63, then at a lower one
   * by changing AVCodecContext.bit_rate between frames. The buffer holds one frame. */
  {
    const int high = (packets[5]->size + packets[4]->size) / 2;
    const int low = (high + packets[4]->size) / 2;
    int sizes[6], lambdas[6];
    ret = 0;
    enc = NULL;
    {
      const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_NIC);
      enc = avcodec_alloc_context3(codec);
      enc->width = width;
      enc->height = height;
      enc->pix_fmt = AV_PIX_FMT_RGB24;
      enc->time_base = (AVRational){1, 25};
      enc->framerate = (AVRational){25, 1};
      enc->bit_rate = (int64_t)high * 8 * 25;
      enc->rc_buffer_size = high * 8;
      av_opt_set(enc->priv_data, "rc", "cbr", 0);
      ret = avcodec_open2(enc, codec, NULL);
      CHECK(ret >= 0, "open encoder with rate control: %s", err2str(ret));
    }
    for (int i = 0; ret >= 0 && i < 6; i++) {
      AVPacket* pkt;
      size_t sd_size;
      const uint8_t* sd;
      if (i == 3) enc->bit_rate = (int64_t)low * 8 * 25;
      pkt = encode_one(enc, frame, 0, 100 + i);
      if (!pkt) break;
      sd = av_packet_get_side_data(pkt, AV_PKT_DATA_QUALITY_STATS, &sd_size);
      sizes[i] = pkt->size;
      lambdas[i] = sd && sd_size >= 4 ? (int)AV_RL32(sd) : -1;
      CHECK(lambdas[i] >= 0 && lambdas[i] == lrint(AV_RL16(pkt->data + 19) / 256.0 * FF_QP2LAMBDA),
            "rate-controlled frame %d: side data quality %d vs header qp_fixed %d", i, lambdas[i],
            AV_RL16(pkt->data + 19));
      printf("cbr frame %d: budget %4d bytes -> %4d bytes at qp %.2f\n", i, i < 3 ? high : low,
             pkt->size, AV_RL16(pkt->data + 19) / 256.0);
      CHECK(pkt->size <= 2 * (i < 3 ? high : low) + (i == 3 ? high : 0),
            "cbr frame %d: %d bytes over budget %d plus buffer", i, pkt->size, i < 3 ? high : low);
      av_packet_free(&pkt);
    }
    if (ret >= 0) {
      CHECK(sizes[5] < sizes[2], "lowering bit_rate did not shrink the frames (%d -> %d)", sizes[2],
            sizes[5]);
      CHECK(lambdas[5] > lambdas[2], "lowering bit_rate did not raise qp (%d -> %d)", lambdas[2],
            lambdas[5]);
    }
    avcodec_free_context(&enc);
  }

  /* Decode every packet. */
  decoder = avcodec_find_decoder(AV_CODEC_ID_NIC);
  CHECK(decoder != NULL, "no nic decoder");
  if (!decoder) return 1;
  dec = avcodec_alloc_context3(decoder);
  dec->thread_count = 0;
  ret = avcodec_open2(dec, decoder, NULL);
  CHECK(ret >= 0, "open decoder: %s", err2str(ret));
  if (ret < 0) return 1;
  out = av_frame_alloc();
  for (int i = 0; i < nb; i++) {
    double want = qps[i] < 0 ? 30.0 : lrint(qps[i] * FF_QP2LAMBDA) / (double)FF_QP2LAMBDA;
    ret = decode_one(dec, packets[i], out);
    CHECK(ret >= 0, "decode frame %d: %s", i, err2str(ret));
    if (ret >= 0) {
      CHECK(out->width == width && out->height == height && out->format == AV_PIX_FMT_RGB24,
            "frame %d decoded as %dx%d format %d", i, out->width, out->height, out->format);
      CHECK(out->key_frame && out->pict_type == AV_PICTURE_TYPE_I, "frame %d not intra", i);
      CHECK(labs(out->quality - lrint(want * FF_QP2LAMBDA)) <= 1,
            "frame %d decoded quality %d, want %ld", i, out->quality, lrint(want * FF_QP2LAMBDA));
    }
    av_frame_unref(out);
  }

  /* A damaged packet: AVERROR_INVALIDDATA, then the next packet decodes. */
  {
    AVPacket* bad = av_packet_clone(packets[1]);
    ret = av_packet_make_writable(bad);
    CHECK(ret >= 0, "make writable");
    bad->data[bad->size / 2] ^= 0x5a;
    ret = decode_one(dec, bad, out);
    CHECK(ret == AVERROR_INVALIDDATA, "damaged packet gave %s", err2str(ret));
    av_frame_unref(out);
    bad->data[bad->size / 2] ^= 0x5a;
    bad->data[0] = 'X'; /* bad magic */
    ret = decode_one(dec, bad, out);
    CHECK(ret == AVERROR_INVALIDDATA, "packet with bad magic gave %s", err2str(ret));
    av_frame_unref(out);
    bad->data[0] = 'N';
    bad->size = 10; /* truncated header */
    ret = decode_one(dec, bad, out);
    CHECK(ret == AVERROR_INVALIDDATA, "truncated packet gave %s", err2str(ret));
    av_frame_unref(out);
    ret = decode_one(dec, packets[2], out);
    CHECK(ret >= 0, "good packet after damaged ones: %s", err2str(ret));
    av_frame_unref(out);
    av_packet_free(&bad);
  }

  av_frame_free(&out);
  av_frame_free(&frame);
  avcodec_free_context(&dec);
  for (int i = 0; i < nb; i++) av_packet_free(&packets[i]);

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all checks passed\n");
  return 0;
}
