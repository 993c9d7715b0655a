/* nicdec: decodes nic frame units into RGB video frames.
 *
 *   gst-launch-1.0 filesrc location=in.nic ! nicparse ! nicdec ! videoconvert ! autovideosink
 *
 * Input with caps "parsed=true" (from nicparse, nicenc, or rtpgstdepay after nicenc) is one frame
 * per buffer; any other image/x-nic input is treated as a byte stream and split here. The output
 * size follows each frame's header (renegotiated when it changes).
 *
 * A frame that does not decode (damaged, truncated, not a frame) is posted as a warning, counted
 * against the base class's max-errors (default -1: never fatal) and skipped; the stream goes on.
 * Without a model property, the installed model that encoded the first frame (its fingerprint)
 * is loaded then; a later frame made with other weights, or a failing device, is a fatal error.
 * Live and QoS: frames already too late downstream, or more than one frame behind their live
 * source, are dropped without decoding (logged at INFO, posted as QoS messages by the base class,
 * counted when the element stops). The decoder's latency is its decoding time, which it measures
 * and reports (gstnic.h).
 */
#include "gstnic.h"

GST_DEBUG_CATEGORY_STATIC(gst_nic_dec_debug);
#define GST_CAT_DEFAULT gst_nic_dec_debug

struct _GstNicDec {
  GstVideoDecoder parent;
  GstNicSettings settings; /* under the object lock */
  NicContext* context;
  GstVideoCodecState* input_state;
  GstVideoCodecState* output_state;
  GstNicFrameTiming timing;
};

G_DEFINE_TYPE(GstNicDec, gst_nic_dec, GST_TYPE_VIDEO_DECODER);
GST_ELEMENT_REGISTER_DEFINE(nicdec, "nicdec", GST_RANK_PRIMARY, GST_TYPE_NIC_DEC);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_NIC_CAPS_NAME));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("video/x-raw, format = (string) RGB, width = (int) [ 1, 16384 ], "
                    "height = (int) [ 1, 16384 ], framerate = (fraction) [ 0/1, MAX ]"));

static void gst_nic_dec_set_property(GObject* object, guint prop_id, const GValue* value,
                                     GParamSpec* pspec) {
  if (!gst_nic_settings_set_property(&GST_NIC_DEC(object)->settings, object, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void gst_nic_dec_get_property(GObject* object, guint prop_id, GValue* value,
                                     GParamSpec* pspec) {
  if (!gst_nic_settings_get_property(&GST_NIC_DEC(object)->settings, object, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
}

static void gst_nic_dec_finalize(GObject* object) {
  gst_nic_settings_clear(&GST_NIC_DEC(object)->settings);
  G_OBJECT_CLASS(gst_nic_dec_parent_class)->finalize(object);
}

static gboolean gst_nic_dec_start(GstVideoDecoder* decoder) {
  GstNicDec* self = GST_NIC_DEC(decoder);
  gst_nic_frame_timing_reset(&self->timing);
  /* Without a model property the first frame says which installed model it needs. */
  if (!gst_nic_settings_has_model(&self->settings, GST_ELEMENT(self))) return TRUE;
  self->context = gst_nic_settings_open_context(&self->settings, GST_ELEMENT(self), NULL);
  return self->context != NULL;
}

static gboolean gst_nic_dec_stop(GstVideoDecoder* decoder) {
  GstNicDec* self = GST_NIC_DEC(decoder);
  gst_nic_frame_timing_log_summary(&self->timing, GST_ELEMENT(self));
  g_clear_pointer(&self->input_state, gst_video_codec_state_unref);
  g_clear_pointer(&self->output_state, gst_video_codec_state_unref);
  g_clear_pointer(&self->context, nic_context_destroy);
  return TRUE;
}

static gboolean gst_nic_dec_set_format(GstVideoDecoder* decoder, GstVideoCodecState* state) {
  GstNicDec* self = GST_NIC_DEC(decoder);
  g_clear_pointer(&self->input_state, gst_video_codec_state_unref);
  self->input_state = gst_video_codec_state_ref(state);
  /* Output caps come from the frame headers; refreshed (framerate...) at the next frame. */
  g_clear_pointer(&self->output_state, gst_video_codec_state_unref);

  gboolean parsed = FALSE;
  gst_structure_get_boolean(gst_caps_get_structure(state->caps, 0), "parsed", &parsed);
  gst_video_decoder_set_packetized(decoder, parsed);
  GST_DEBUG_OBJECT(self, "input %" GST_PTR_FORMAT " (%s)", state->caps,
                   parsed ? "one frame per buffer" : "byte stream, split here");
  return TRUE;
}

/* Any nic stream is accepted whatever the downstream constraints: the output size comes from the
 * frame headers. (The base class would proxy the downstream width/height ranges, which leaves
 * e.g. `filesrc ! image/x-nic ! nicdec` with unfixed caps.) */
static GstCaps* gst_nic_dec_getcaps(GstVideoDecoder* decoder, GstCaps* filter) {
  GstCaps* caps = gst_pad_get_pad_template_caps(GST_VIDEO_DECODER_SINK_PAD(decoder));
  if (filter) {
    GstCaps* intersection = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref(caps);
    caps = intersection;
  }
  return caps;
}

/* Byte-stream input: cut the adapter's data into frame units. */
static GstFlowReturn gst_nic_dec_parse(GstVideoDecoder* decoder, GstVideoCodecFrame* frame,
                                       GstAdapter* adapter, gboolean at_eos) {
  (void)frame;
  gsize available = gst_adapter_available(adapter);
  if (available == 0) return GST_VIDEO_DECODER_FLOW_NEED_DATA;

  NicFrameScan scan;
  gst_nic_scan(GST_ELEMENT(decoder), gst_adapter_map(adapter, available), available, &scan);
  gst_adapter_unmap(adapter);

  if (scan.skip > 0) gst_adapter_flush(adapter, scan.skip);
  if (scan.frame_size > 0) {
    gst_video_decoder_add_to_frame(decoder, scan.frame_size);
    return gst_video_decoder_have_frame(decoder);
  }
  if (at_eos && gst_adapter_available(adapter) > 0) {
    GST_ELEMENT_WARNING(
        decoder, STREAM, DECODE,
        ("nicdec: the stream ends inside a frame; %" G_GSIZE_FORMAT " bytes dropped",
         gst_adapter_available(adapter)),
        (NULL));
    gst_adapter_flush(adapter, gst_adapter_available(adapter));
  }
  return GST_VIDEO_DECODER_FLOW_NEED_DATA;
}

static GstFlowReturn ensure_output_state(GstNicDec* self, guint width, guint height) {
  if (self->output_state && (guint)GST_VIDEO_INFO_WIDTH(&self->output_state->info) == width &&
      (guint)GST_VIDEO_INFO_HEIGHT(&self->output_state->info) == height)
    return GST_FLOW_OK;
  GST_INFO_OBJECT(self, "output %ux%u", width, height);
  g_clear_pointer(&self->output_state, gst_video_codec_state_unref);
  self->output_state = gst_video_decoder_set_output_state(
      GST_VIDEO_DECODER(self), GST_VIDEO_FORMAT_RGB, width, height, self->input_state);
  if (!gst_video_decoder_negotiate(GST_VIDEO_DECODER(self))) {
    g_clear_pointer(&self->output_state, gst_video_codec_state_unref);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  return GST_FLOW_OK;
}

/* One frame failed: a warning, unless the frame can never decode with this context. */
static GstFlowReturn frame_failed(GstNicDec* self, GstVideoCodecFrame* frame, NicStatus status,
                                  const gchar* message, gsize size) {
  GstVideoDecoder* decoder = GST_VIDEO_DECODER(self);
  GstFlowReturn ret;
  if (status == NIC_ERROR_MODEL_MISMATCH || status == NIC_ERROR_DEVICE ||
      status == NIC_ERROR_OUT_OF_MEMORY || status == NIC_ERROR_INTERNAL) {
    GST_ELEMENT_ERROR(self, STREAM, DECODE, ("nicdec: %s", message),
                      ("%s, frame %u", nic_status_string(status), frame->system_frame_number));
    ret = GST_FLOW_ERROR;
  } else {
    GST_ELEMENT_WARNING(self, STREAM, DECODE,
                        ("nicdec: frame %u skipped: %s", frame->system_frame_number, message),
                        ("%s; %" G_GSIZE_FORMAT " bytes, pts %" GST_TIME_FORMAT,
                         nic_status_string(status), size, GST_TIME_ARGS(frame->pts)));
    /* Counts toward max-errors: beyond it the base class posts an error and returns ERROR. */
    GST_VIDEO_DECODER_ERROR(self, 1, STREAM, DECODE, ("nicdec: %s", message), (NULL), ret);
  }
  gst_video_decoder_release_frame(decoder, frame);
  return ret;
}

static GstFlowReturn gst_nic_dec_handle_frame(GstVideoDecoder* decoder, GstVideoCodecFrame* frame) {
  GstNicDec* self = GST_NIC_DEC(decoder);
  GstMapInfo in;
  if (!gst_buffer_map(frame->input_buffer, &in, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(self, STREAM, DECODE, ("nicdec: could not map the input buffer"), (NULL));
    gst_video_decoder_release_frame(decoder, frame);
    return GST_FLOW_ERROR;
  }

  NicFrameInfo info;
  NicStatus status = nic_peek_frame(in.data, in.size, &info);
  if (status != NIC_OK) {
    gchar* message = g_strdup(nic_last_error());
    gst_buffer_unmap(frame->input_buffer, &in);
    GstFlowReturn ret = frame_failed(self, frame, status, message, in.size);
    g_free(message);
    return ret;
  }

  /* A frame already late downstream (QoS) or too far behind a live source (deadline, gstnic.h):
   * let the base class drop it (and post the QoS message) instead of spending a decode on it. */
  if (gst_nic_frame_is_late(
          GST_ELEMENT(self), GST_VIDEO_DECODER_SINK_PAD(decoder), &decoder->input_segment, frame,
          self->input_state ? &self->input_state->info : NULL,
          -gst_video_decoder_get_max_decode_time(decoder, frame), &self->timing)) {
    gst_buffer_unmap(frame->input_buffer, &in);
    return gst_video_decoder_drop_frame(decoder, frame);
  }

  if (!self->context) {
    self->context = gst_nic_settings_open_context(&self->settings, GST_ELEMENT(self),
                                                  nic_find_model(info.model_fingerprint));
    if (!self->context) { /* the element error is posted */
      gst_buffer_unmap(frame->input_buffer, &in);
      gst_video_decoder_release_frame(decoder, frame);
      return GST_FLOW_ERROR;
    }
  }

  GstFlowReturn ret = ensure_output_state(self, info.width, info.height);
  if (ret == GST_FLOW_OK) ret = gst_video_decoder_allocate_output_frame(decoder, frame);
  if (ret != GST_FLOW_OK) {
    GST_DEBUG_OBJECT(self, "no output buffer: %s", gst_flow_get_name(ret));
    gst_buffer_unmap(frame->input_buffer, &in);
    gst_video_decoder_release_frame(decoder, frame);
    return ret;
  }

  const GstClockTime started = gst_util_get_timestamp();
  GstVideoFrame video;
  if (!gst_video_frame_map(&video, &self->output_state->info, frame->output_buffer,
                           GST_MAP_WRITE)) {
    GST_ELEMENT_ERROR(self, STREAM, DECODE, ("nicdec: could not map the output buffer"), (NULL));
    gst_buffer_unmap(frame->input_buffer, &in);
    gst_video_decoder_release_frame(decoder, frame);
    return GST_FLOW_ERROR;
  }
  guint8* pixels = GST_VIDEO_FRAME_PLANE_DATA(&video, 0);
  gsize capacity = video.map[0].size - (gsize)(pixels - (guint8*)video.map[0].data);
  status = nic_decode_rgb(self->context, in.data, in.size, pixels,
                          GST_VIDEO_FRAME_PLANE_STRIDE(&video, 0), capacity, NULL);
  gst_video_frame_unmap(&video);
  gst_buffer_unmap(frame->input_buffer, &in);
  if (status != NIC_OK) {
    gchar* message = g_strdup(nic_last_error());
    ret = frame_failed(self, frame, status, message, in.size);
    g_free(message);
    return ret;
  }
  GST_LOG_OBJECT(self, "frame %u: %ux%u at qp %.3f", frame->system_frame_number, info.width,
                 info.height, info.qp);
  self->timing.coded++;
  GstClockTime latency;
  if (gst_nic_frame_timing_add(&self->timing, gst_util_get_timestamp() - started, &latency)) {
    GST_INFO_OBJECT(self, "reporting a latency of %" GST_TIME_FORMAT, GST_TIME_ARGS(latency));
    gst_video_decoder_set_latency(decoder, latency, latency);
  }
  return gst_video_decoder_finish_frame(decoder, frame);
}

static void gst_nic_dec_class_init(GstNicDecClass* klass) {
  GObjectClass* gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstVideoDecoderClass* decoder_class = GST_VIDEO_DECODER_CLASS(klass);

  gobject_class->set_property = gst_nic_dec_set_property;
  gobject_class->get_property = gst_nic_dec_get_property;
  gobject_class->finalize = gst_nic_dec_finalize;
  gst_nic_settings_install_properties(gobject_class);

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(element_class, "nic decoder", "Codec/Decoder/Video/Image",
                                        "Decodes nic neural image codec frames to RGB", "nic");

  decoder_class->start = GST_DEBUG_FUNCPTR(gst_nic_dec_start);
  decoder_class->stop = GST_DEBUG_FUNCPTR(gst_nic_dec_stop);
  decoder_class->set_format = GST_DEBUG_FUNCPTR(gst_nic_dec_set_format);
  decoder_class->getcaps = GST_DEBUG_FUNCPTR(gst_nic_dec_getcaps);
  decoder_class->parse = GST_DEBUG_FUNCPTR(gst_nic_dec_parse);
  decoder_class->handle_frame = GST_DEBUG_FUNCPTR(gst_nic_dec_handle_frame);

  GST_DEBUG_CATEGORY_INIT(gst_nic_dec_debug, "nicdec", 0, "nic decoder");
}

static void gst_nic_dec_init(GstNicDec* self) {
  GstVideoDecoder* decoder = GST_VIDEO_DECODER(self);
  gst_nic_settings_init(&self->settings);
  /* Until caps say parsed=true, input is a byte stream (e.g. filesrc without caps). */
  gst_video_decoder_set_packetized(decoder, FALSE);
  gst_video_decoder_set_use_default_pad_acceptcaps(decoder, TRUE);
  GST_PAD_SET_ACCEPT_TEMPLATE(GST_VIDEO_DECODER_SINK_PAD(self));
  gst_nic_frame_timing_reset(&self->timing);
}
