/* nicenc: encodes RGB video frames into nic frame units, one intra frame per input frame.
 *
 *   gst-launch-1.0 videotestsrc num-buffers=10 ! videoconvert ! nicenc qp=20 ! \
 *       filesink location=out.nic
 *
 * Every output buffer is a complete, independently decodable frame unit (a keyframe) and carries
 * a GstNicFrameMeta (see gstnic.h) with the qp it was coded at. Frames go through libnic's
 * stream encoder: with pipeline=1 (the default on a GPU) it holds one frame, so that the networks
 * of frame N+1 run while frame N is entropy coded; each frame then leaves with the next one, and
 * the last at EOS (drain). With pipeline=0 (the default on the CPU, where the overlap is slower)
 * each frame leaves handle_frame coded. The latency is the measured coding time, plus one frame
 * interval when a frame is held (gstnic.h, GstNicFrameTiming).
 *
 * Live sources: a frame is dropped before it is coded when downstream would already render it
 * too late (QoS, the base class's `qos` property, on) or when it reaches the encoder more than one
 * frame behind its live source (a deadline on the pipeline clock, gstnic.h), so that an encoder
 * slower than its source keeps latency and memory bounded. Each drop is logged (INFO) and posted
 * as a QoS message, and the element logs the counts when it stops.
 *
 * Rate: rate-control=cqp (default) codes every frame at `qp`; cbr and vbr make libnic's
 * rate controller pick each frame's qp for `bitrate` at the stream's framerate. qp, rate-control
 * and bitrate may change while playing and apply from the next frame.
 */
#include "gstnic.h"

GST_DEBUG_CATEGORY_STATIC(gst_nic_enc_debug);
#define GST_CAT_DEFAULT gst_nic_enc_debug

#define DEFAULT_RATE_CONTROL NIC_RATE_CONSTANT_QP
#define DEFAULT_BITRATE 2048 /* kbit/s */
#define FALLBACK_FPS 30.0    /* rate control on a stream of variable framerate */

struct _GstNicEnc {
  GstVideoEncoder parent;
  /* properties, under the object lock */
  GstNicSettings settings;
  gfloat qp;
  NicRateControlMode rate_control;
  guint bitrate;       /* kbit/s */
  gboolean rc_changed; /* qp, rate-control, bitrate or framerate changed since the last frame */
  /* streaming thread */
  NicContext* context;
  NicRateController* controller;
  gint pipeline;            /* NIC_STREAM_DELAY_AUTO, 0 or 1; applies when the element starts */
  NicStreamEncoder* stream; /* made with the first frame, once the controller exists */
  GstVideoCodecState* input_state;
  GstNicFrameTiming timing;
};

enum {
  PROP_QP = GST_NIC_PROP_FIRST_OWN,
  PROP_RATE_CONTROL,
  PROP_BITRATE,
  PROP_EFFORT,
  PROP_PIPELINE
};

#define GST_TYPE_NIC_RATE_CONTROL (gst_nic_rate_control_get_type())
static GType gst_nic_rate_control_get_type(void) {
  static gsize type = 0;
  static const GEnumValue values[] = {
      {NIC_RATE_CONSTANT_QP, "Every frame at the qp property", "cqp"},
      {NIC_RATE_CBR, "Constant bitrate: every frame within its share of bitrate plus a 1 s buffer",
       "cbr"},
      {NIC_RATE_ABR, "Variable bitrate: bitrate on average over 30 frames; frames vary more",
       "vbr"},
      /* Older names, still accepted. */
      {NIC_RATE_CONSTANT_QP, "Same as cqp", "constant-qp"},
      {NIC_RATE_ABR, "Same as vbr (average bitrate)", "abr"},
      {0, NULL, NULL}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstNicRateControl", values));
  return type;
}

G_DEFINE_TYPE(GstNicEnc, gst_nic_enc, GST_TYPE_VIDEO_ENCODER);
GST_ELEMENT_REGISTER_DEFINE(nicenc, "nicenc", GST_RANK_PRIMARY, GST_TYPE_NIC_ENC);

#define NIC_DIMENSION_RANGE "(int) [ 1, 16384 ]"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("video/x-raw, format = (string) RGB, width = " NIC_DIMENSION_RANGE
                    ", height = " NIC_DIMENSION_RANGE ", framerate = (fraction) [ 0/1, MAX ]"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS(GST_NIC_CAPS_NAME ", width = " NIC_DIMENSION_RANGE
                                      ", height = " NIC_DIMENSION_RANGE
                                      ", framerate = (fraction) [ 0/1, MAX ], "
                                      "parsed = (boolean) true"));

static void gst_nic_enc_set_property(GObject* object, guint prop_id, const GValue* value,
                                     GParamSpec* pspec) {
  GstNicEnc* self = GST_NIC_ENC(object);
  if (gst_nic_settings_set_property(&self->settings, object, prop_id, value)) return;
  switch (prop_id) {
    case PROP_QP:
      GST_OBJECT_LOCK(self);
      self->qp = g_value_get_float(value);
      self->rc_changed = TRUE;
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_RATE_CONTROL:
      GST_OBJECT_LOCK(self);
      self->rate_control = g_value_get_enum(value);
      self->rc_changed = TRUE;
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_BITRATE:
      GST_OBJECT_LOCK(self);
      self->bitrate = g_value_get_uint(value);
      self->rc_changed = TRUE;
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_EFFORT:
      GST_OBJECT_LOCK(self);
      self->settings.effort = g_value_get_int(value);
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_PIPELINE:
      GST_OBJECT_LOCK(self);
      self->pipeline = g_value_get_int(value);
      GST_OBJECT_UNLOCK(self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gst_nic_enc_get_property(GObject* object, guint prop_id, GValue* value,
                                     GParamSpec* pspec) {
  GstNicEnc* self = GST_NIC_ENC(object);
  if (gst_nic_settings_get_property(&self->settings, object, prop_id, value)) return;
  switch (prop_id) {
    case PROP_QP:
      GST_OBJECT_LOCK(self);
      g_value_set_float(value, self->qp);
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_RATE_CONTROL:
      GST_OBJECT_LOCK(self);
      g_value_set_enum(value, self->rate_control);
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_BITRATE:
      GST_OBJECT_LOCK(self);
      g_value_set_uint(value, self->bitrate);
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_EFFORT:
      GST_OBJECT_LOCK(self);
      g_value_set_int(value, self->settings.effort);
      GST_OBJECT_UNLOCK(self);
      break;
    case PROP_PIPELINE:
      GST_OBJECT_LOCK(self);
      g_value_set_int(value, self->pipeline);
      GST_OBJECT_UNLOCK(self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
}

static void gst_nic_enc_finalize(GObject* object) {
  gst_nic_settings_clear(&GST_NIC_ENC(object)->settings);
  G_OBJECT_CLASS(gst_nic_enc_parent_class)->finalize(object);
}

static gboolean gst_nic_enc_start(GstVideoEncoder* encoder) {
  GstNicEnc* self = GST_NIC_ENC(encoder);
  gst_nic_frame_timing_reset(&self->timing);
  self->context = gst_nic_settings_open_context(&self->settings, GST_ELEMENT(self), NULL);
  return self->context != NULL;
}

static gboolean gst_nic_enc_stop(GstVideoEncoder* encoder) {
  GstNicEnc* self = GST_NIC_ENC(encoder);
  gst_nic_frame_timing_log_summary(&self->timing, GST_ELEMENT(self));
  g_clear_pointer(&self->input_state, gst_video_codec_state_unref);
  g_clear_pointer(&self->stream, nic_stream_encoder_destroy);
  g_clear_pointer(&self->controller, nic_rate_controller_destroy);
  g_clear_pointer(&self->context, nic_context_destroy);
  return TRUE;
}

/* Brings the rate controller in line with the properties and the framerate (first frame, or
 * after a change). Its buffer state carries over a reconfiguration. */
static gboolean update_rate_controller(GstNicEnc* self) {
  NicRateControlConfig config;
  nic_rate_control_config_init(&config);
  GST_OBJECT_LOCK(self);
  gboolean changed = self->rc_changed || !self->controller;
  self->rc_changed = FALSE;
  config.mode = self->rate_control;
  config.qp = self->qp;
  config.bitrate = self->bitrate * 1000.0;
  GST_OBJECT_UNLOCK(self);
  if (!changed) return TRUE;

  const GstVideoInfo* info = &self->input_state->info;
  if (GST_VIDEO_INFO_FPS_N(info) > 0 && GST_VIDEO_INFO_FPS_D(info) > 0) {
    config.framerate = (double)GST_VIDEO_INFO_FPS_N(info) / GST_VIDEO_INFO_FPS_D(info);
  } else {
    config.framerate = FALLBACK_FPS;
    if (config.mode != NIC_RATE_CONSTANT_QP)
      GST_WARNING_OBJECT(self, "variable framerate: rate control assumes %.0f frames/s",
                         FALLBACK_FPS);
  }
  NicStatus status = self->controller ? nic_rate_controller_reconfigure(self->controller, &config)
                                      : nic_rate_controller_create(&config, &self->controller);
  if (status != NIC_OK) {
    GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS,
                      ("nicenc: invalid rate control settings: %s", nic_last_error()),
                      ("mode %d, qp %.2f, bitrate %.0f bit/s, framerate %.3f", config.mode,
                       config.qp, config.bitrate, config.framerate));
    return FALSE;
  }
  GST_INFO_OBJECT(self, "rate control: mode %d, qp %.2f, bitrate %.0f bit/s at %.3f frames/s",
                  config.mode, config.qp, config.bitrate, config.framerate);
  return TRUE;
}

static gboolean gst_nic_enc_set_format(GstVideoEncoder* encoder, GstVideoCodecState* state) {
  GstNicEnc* self = GST_NIC_ENC(encoder);
  g_clear_pointer(&self->input_state, gst_video_codec_state_unref);
  self->input_state = gst_video_codec_state_ref(state);
  GST_OBJECT_LOCK(self);
  self->rc_changed = TRUE; /* the framerate may have changed */
  GST_OBJECT_UNLOCK(self);

  /* The base class adds width, height, framerate and pixel-aspect-ratio from the input. */
  GstCaps* caps = gst_caps_new_simple(GST_NIC_CAPS_NAME, "parsed", G_TYPE_BOOLEAN, TRUE, NULL);
  GstVideoCodecState* output = gst_video_encoder_set_output_state(encoder, caps, state);
  gst_video_codec_state_unref(output);

  /* The latency is known once frames have been coded (handle_frame). */
  const GstClockTime latency =
      GST_CLOCK_TIME_IS_VALID(self->timing.reported) ? self->timing.reported : 0;
  gst_video_encoder_set_latency(encoder, latency, latency);

  GstTagList* tags = gst_tag_list_new(GST_TAG_VIDEO_CODEC, "nic", GST_TAG_ENCODER, "nicenc", NULL);
  gst_video_encoder_merge_tags(encoder, tags, GST_TAG_MERGE_REPLACE);
  gst_tag_list_unref(tags);
  return gst_video_encoder_negotiate(encoder);
}

static gboolean gst_nic_enc_propose_allocation(GstVideoEncoder* encoder, GstQuery* query) {
  /* Strided and offset planes are fine: libnic takes a stride. */
  gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, NULL);
  return GST_VIDEO_ENCODER_CLASS(gst_nic_enc_parent_class)->propose_allocation(encoder, query);
}

static void free_nic_buffer(gpointer data) {
  nic_buffer_free(data);
  g_free(data);
}

/* The stream encoder, made with the first frame (the rate controller exists by then). */
static gboolean ensure_stream(GstNicEnc* self) {
  if (self->stream) return TRUE;
  GST_OBJECT_LOCK(self);
  const gint delay = self->pipeline;
  GST_OBJECT_UNLOCK(self);
  const NicStatus status =
      nic_stream_encoder_create(self->context, self->controller, delay, &self->stream);
  if (status != NIC_OK) {
    GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS,
                      ("nicenc: could not start the encoder: %s", nic_last_error()),
                      ("nic_stream_encoder_create: %s", nic_status_string(status)));
    return FALSE;
  }
  GST_INFO_OBJECT(self, "pipeline delay: %d frame(s)", nic_stream_encoder_delay(self->stream));
  return TRUE;
}

/* A held frame leaves with the next one: one frame interval (else one coding time) later. */
static GstClockTime held_frame_latency(GstNicEnc* self, GstClockTime coding) {
  if (nic_stream_encoder_delay(self->stream) == 0) return coding;
  const GstVideoInfo* info = &self->input_state->info;
  if (GST_VIDEO_INFO_FPS_N(info) > 0 && GST_VIDEO_INFO_FPS_D(info) > 0)
    return coding + gst_util_uint64_scale(GST_SECOND, GST_VIDEO_INFO_FPS_D(info),
                                          GST_VIDEO_INFO_FPS_N(info));
  return 2 * coding;
}

/* Sends frame (NULL: drain one) through the stream encoder and finishes the frame that comes
 * out, if any; *finished tells whether one did. The caller keeps its reference to frame. */
static GstFlowReturn encode_and_finish(GstNicEnc* self, GstVideoCodecFrame* frame,
                                       gboolean* finished) {
  GstVideoEncoder* encoder = GST_VIDEO_ENCODER(self);
  *finished = FALSE;
  NicStreamFrame in = {0};
  GstVideoFrame video;
  if (frame) {
    if (!gst_video_frame_map(&video, &self->input_state->info, frame->input_buffer, GST_MAP_READ)) {
      GST_ELEMENT_ERROR(self, STREAM, ENCODE, ("nicenc: could not map the input frame"), (NULL));
      return GST_FLOW_ERROR;
    }
    in.rgb = GST_VIDEO_FRAME_PLANE_DATA(&video, 0);
    in.width = GST_VIDEO_FRAME_WIDTH(&video);
    in.height = GST_VIDEO_FRAME_HEIGHT(&video);
    in.stride = GST_VIDEO_FRAME_PLANE_STRIDE(&video, 0);
    in.qp = -1; /* the rate controller's (in cqp mode: the qp property) */
    in.user_data = frame->system_frame_number;
  }
  NicBuffer* encoded = g_new0(NicBuffer, 1);
  NicCodedFrame coded;
  const NicStatus status =
      nic_stream_encoder_encode(self->stream, frame ? &in : NULL, encoded, &coded);
  if (frame) gst_video_frame_unmap(&video); /* the encoder copied the pixels */
  if (status != NIC_OK) {
    GST_ELEMENT_ERROR(self, STREAM, ENCODE,
                      ("nicenc: could not encode a frame: %s", nic_last_error()),
                      ("nic_stream_encoder_encode: %s", nic_status_string(status)));
    g_free(encoded);
    return GST_FLOW_ERROR;
  }
  if (encoded->size == 0) { /* the pipeline is filling, or drained */
    g_free(encoded);
    return GST_FLOW_OK;
  }
  *finished = TRUE;
  GstVideoCodecFrame* done = gst_video_encoder_get_frame(encoder, (int)coded.user_data);
  if (!done) { /* gone with a flush */
    free_nic_buffer(encoded);
    return GST_FLOW_OK;
  }
  /* The qp as stored in the frame (1/256 resolution). */
  GST_LOG_OBJECT(self, "frame %u: %" G_GSIZE_FORMAT " bytes at qp %.3f", done->system_frame_number,
                 encoded->size, coded.qp);
  self->timing.coded++;
  done->output_buffer = gst_buffer_new_wrapped_full(0, encoded->data, encoded->size, 0,
                                                    encoded->size, encoded, free_nic_buffer);
  gst_nic_buffer_add_frame_meta(done->output_buffer, coded.qp);
  GST_VIDEO_CODEC_FRAME_SET_SYNC_POINT(done);
  return gst_video_encoder_finish_frame(encoder, done);
}

static GstFlowReturn gst_nic_enc_handle_frame(GstVideoEncoder* encoder, GstVideoCodecFrame* frame) {
  GstNicEnc* self = GST_NIC_ENC(encoder);
  /* Property changes made while playing apply from this frame on. */
  if (!self->input_state || !update_rate_controller(self) || !ensure_stream(self)) {
    gst_video_codec_frame_unref(frame);
    return GST_FLOW_ERROR;
  }
  /* A frame already too late downstream (QoS) or too far behind a live source (deadline) is not
   * worth coding. With no output buffer the base class drops it and posts the QoS message. */
  if (gst_nic_frame_is_late(GST_ELEMENT(self), GST_VIDEO_ENCODER_SINK_PAD(encoder),
                            &encoder->input_segment, frame, &self->input_state->info,
                            -gst_video_encoder_get_max_encode_time(encoder, frame),
                            &self->timing)) {
    return gst_video_encoder_finish_frame(encoder, frame);
  }
  const GstClockTime started = gst_util_get_timestamp();
  gboolean finished;
  const GstFlowReturn ret = encode_and_finish(self, frame, &finished);
  /* The base class holds the frame until it is finished. */
  gst_video_codec_frame_unref(frame);
  GstClockTime latency;
  if (finished &&
      gst_nic_frame_timing_add(&self->timing, gst_util_get_timestamp() - started, &latency)) {
    latency = held_frame_latency(self, latency);
    GST_INFO_OBJECT(self, "reporting a latency of %" GST_TIME_FORMAT, GST_TIME_ARGS(latency));
    gst_video_encoder_set_latency(encoder, latency, latency);
  }
  return ret;
}

static GstFlowReturn gst_nic_enc_finish(GstVideoEncoder* encoder) {
  /* Drain at EOS: the frame held in the pipeline, if any. */
  GstNicEnc* self = GST_NIC_ENC(encoder);
  if (!self->stream) return GST_FLOW_OK;
  gboolean finished = TRUE;
  GstFlowReturn ret = GST_FLOW_OK;
  while (finished && ret == GST_FLOW_OK) ret = encode_and_finish(self, NULL, &finished);
  GST_DEBUG_OBJECT(self, "drained: %s", gst_flow_get_name(ret));
  return ret;
}

static gboolean gst_nic_enc_flush(GstVideoEncoder* encoder) {
  /* A seek: the held frame is dropped with the encoder; the next frame makes a new one. */
  GstNicEnc* self = GST_NIC_ENC(encoder);
  g_clear_pointer(&self->stream, nic_stream_encoder_destroy);
  return TRUE;
}

static void gst_nic_enc_class_init(GstNicEncClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstVideoEncoderClass* encoder_class = GST_VIDEO_ENCODER_CLASS(klass);

  gobject_class->set_property = gst_nic_enc_set_property;
  gobject_class->get_property = gst_nic_enc_get_property;
  gobject_class->finalize = gst_nic_enc_finalize;

  g_object_class_install_property(
      gobject_class, PROP_QP,
      g_param_spec_float("qp", "Quantization parameter",
                         "Quality of every frame with rate-control=constant-qp: lower = better "
                         "quality and more bits; fractional values allowed. May be changed while "
                         "playing: applies from the next frame.",
                         NIC_QP_MIN, NIC_QP_MAX, NIC_QP_DEFAULT,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property(
      gobject_class, PROP_RATE_CONTROL,
      g_param_spec_enum("rate-control", "Rate control",
                        "How each frame's qp is chosen. May be changed while playing.",
                        GST_TYPE_NIC_RATE_CONTROL, DEFAULT_RATE_CONTROL,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property(
      gobject_class, PROP_BITRATE,
      g_param_spec_uint("bitrate", "Bitrate",
                        "Target bitrate in kbit/s for rate-control=cbr or vbr (at the input "
                        "framerate). May be changed while playing.",
                        1, 2000000, DEFAULT_BITRATE,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property(
      gobject_class, PROP_EFFORT,
      g_param_spec_int("effort", "Encoder effort",
                       "1 = one pass (real time); each step up doubles the refinement of each "
                       "frame's latents: fewer bits for the same quality, slower encoding. "
                       "Applies when the element starts.",
                       NIC_EFFORT_MIN, NIC_EFFORT_MAX, NIC_EFFORT_DEFAULT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property(
      gobject_class, PROP_PIPELINE,
      g_param_spec_int("pipeline", "Pipeline delay",
                       "Frames held so that the networks of the next frame run while this one is "
                       "entropy coded: -1 = auto (1 on a GPU, 0 on the CPU, where the overlap is "
                       "slower), 0 or 1. Applies when the element starts.",
                       NIC_STREAM_DELAY_AUTO, 1, NIC_STREAM_DELAY_AUTO,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  gst_nic_settings_install_properties(gobject_class);
  gst_type_mark_as_plugin_api(GST_TYPE_NIC_RATE_CONTROL, 0);

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "nic encoder", "Codec/Encoder/Video/Image",
      "Encodes RGB frames with the nic neural image codec (every frame intra-coded)", "nic");

  encoder_class->start = GST_DEBUG_FUNCPTR(gst_nic_enc_start);
  encoder_class->stop = GST_DEBUG_FUNCPTR(gst_nic_enc_stop);
  encoder_class->set_format = GST_DEBUG_FUNCPTR(gst_nic_enc_set_format);
  encoder_class->propose_allocation = GST_DEBUG_FUNCPTR(gst_nic_enc_propose_allocation);
  encoder_class->handle_frame = GST_DEBUG_FUNCPTR(gst_nic_enc_handle_frame);
  encoder_class->finish = GST_DEBUG_FUNCPTR(gst_nic_enc_finish);
  encoder_class->flush = GST_DEBUG_FUNCPTR(gst_nic_enc_flush);

  GST_DEBUG_CATEGORY_INIT(gst_nic_enc_debug, "nicenc", 0, "nic encoder");
}

static void gst_nic_enc_init(GstNicEnc* self) {
  self->qp = NIC_QP_DEFAULT;
  self->rate_control = DEFAULT_RATE_CONTROL;
  self->bitrate = DEFAULT_BITRATE;
  self->pipeline = NIC_STREAM_DELAY_AUTO;
  gst_nic_settings_init(&self->settings);
  self->settings.effort = NIC_EFFORT_DEFAULT;
  GST_PAD_SET_ACCEPT_TEMPLATE(GST_VIDEO_ENCODER_SINK_PAD(self));
  gst_nic_frame_timing_reset(&self->timing);
  gst_video_encoder_set_qos_enabled(GST_VIDEO_ENCODER(self), TRUE);
}
