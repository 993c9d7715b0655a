/* nicparse: splits a raw .nic byte stream (concatenated frame units) into one frame per buffer.
 *
 *   gst-launch-1.0 filesrc location=in.nic ! nicparse ! nicdec ! videoconvert ! autovideosink
 *
 * Output caps carry width and height from the frame headers, the framerate of the upstream caps
 * (or DEFAULT_FPS when upstream has none; timestamps are then interpolated from it) and
 * parsed=true. Bytes that are not part of a frame are skipped: the parser resynchronises on the
 * next "NICF" whose header parses and whose CRC is correct, so damaged frames are dropped too.
 */
#include <string.h>

#include "gstnic.h"

GST_DEBUG_CATEGORY_STATIC(gst_nic_parse_debug);
#define GST_CAT_DEFAULT gst_nic_parse_debug

#define DEFAULT_FPS_N 25
#define DEFAULT_FPS_D 1
#define MIN_FRAME_SIZE 22 /* the fixed part of a frame header */

struct _GstNicParse {
  GstBaseParse parent;
  gint upstream_fps_n, upstream_fps_d; /* 0/1: none */
  guint width, height;                 /* of the caps last set; 0 = none yet */
  gint fps_n, fps_d;
};

G_DEFINE_TYPE(GstNicParse, gst_nic_parse, GST_TYPE_BASE_PARSE);
GST_ELEMENT_REGISTER_DEFINE(nicparse, "nicparse", GST_RANK_PRIMARY + 1, GST_TYPE_NIC_PARSE);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(GST_NIC_CAPS_NAME));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS(GST_NIC_CAPS_NAME
                    ", width = (int) [ 1, 16384 ], height = (int) [ 1, 16384 ], "
                    "framerate = (fraction) [ 0/1, MAX ], parsed = (boolean) true"));

static void reset(GstNicParse* self) {
  self->width = self->height = 0;
  self->upstream_fps_n = 0;
  self->upstream_fps_d = 1;
}

static gboolean gst_nic_parse_start(GstBaseParse* parse) {
  reset(GST_NIC_PARSE(parse));
  gst_base_parse_set_min_frame_size(parse, MIN_FRAME_SIZE);
  gst_base_parse_set_syncable(parse, TRUE);
  return TRUE;
}

static gboolean gst_nic_parse_stop(GstBaseParse* parse) {
  reset(GST_NIC_PARSE(parse));
  return TRUE;
}

static gboolean gst_nic_parse_set_sink_caps(GstBaseParse* parse, GstCaps* caps) {
  GstNicParse* self = GST_NIC_PARSE(parse);
  gint n = 0, d = 1;
  if (gst_structure_get_fraction(gst_caps_get_structure(caps, 0), "framerate", &n, &d) && n > 0 &&
      d > 0) {
    self->upstream_fps_n = n;
    self->upstream_fps_d = d;
  } else {
    self->upstream_fps_n = 0;
    self->upstream_fps_d = 1;
  }
  self->width = 0; /* caps are sent again with the next frame */
  return TRUE;
}

static gboolean update_src_caps(GstNicParse* self, const NicFrameInfo* info) {
  gint fps_n = self->upstream_fps_n > 0 ? self->upstream_fps_n : DEFAULT_FPS_N;
  gint fps_d = self->upstream_fps_n > 0 ? self->upstream_fps_d : DEFAULT_FPS_D;
  if (self->width == info->width && self->height == info->height && self->fps_n == fps_n &&
      self->fps_d == fps_d && gst_pad_has_current_caps(GST_BASE_PARSE_SRC_PAD(self)))
    return TRUE;

  GstCaps* caps =
      gst_caps_new_simple(GST_NIC_CAPS_NAME, "width", G_TYPE_INT, (gint)info->width, "height",
                          G_TYPE_INT, (gint)info->height, "framerate", GST_TYPE_FRACTION, fps_n,
                          fps_d, "parsed", G_TYPE_BOOLEAN, TRUE, NULL);
  GST_INFO_OBJECT(self, "caps %" GST_PTR_FORMAT, caps);
  gboolean ok = gst_pad_set_caps(GST_BASE_PARSE_SRC_PAD(self), caps);
  gst_caps_unref(caps);
  if (!ok) return FALSE;
  self->width = info->width;
  self->height = info->height;
  self->fps_n = fps_n;
  self->fps_d = fps_d;
  gst_base_parse_set_frame_rate(GST_BASE_PARSE(self), fps_n, fps_d, 0, 0);
  return TRUE;
}

static GstFlowReturn gst_nic_parse_handle_frame(GstBaseParse* parse, GstBaseParseFrame* frame,
                                                gint* skipsize) {
  GstNicParse* self = GST_NIC_PARSE(parse);
  GstMapInfo map;
  if (!gst_buffer_map(frame->buffer, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("nicparse: could not map the input"), (NULL));
    return GST_FLOW_ERROR;
  }
  NicFrameScan scan;
  gst_nic_scan(GST_ELEMENT(self), map.data, map.size, &scan);
  gsize size = map.size;
  gst_buffer_unmap(frame->buffer, &map);

  if (scan.skip > 0) {
    /* Leading garbage or a damaged frame. The next call starts at the candidate frame. */
    *skipsize = (gint)MIN(scan.skip, (gsize)G_MAXINT);
    return GST_FLOW_OK;
  }
  if (scan.frame_size == 0) {
    if (GST_BASE_PARSE_DRAINING(parse)) {
      GST_ELEMENT_WARNING(
          self, STREAM, DEMUX,
          ("nicparse: the stream ends inside a frame; %" G_GSIZE_FORMAT " bytes dropped", size),
          (NULL));
      *skipsize = (gint)MIN(size, (gsize)G_MAXINT);
    }
    return GST_FLOW_OK; /* wait for more data */
  }

  if (!update_src_caps(self, &scan.info)) return GST_FLOW_NOT_NEGOTIATED;
  return gst_base_parse_finish_frame(parse, frame, (gint)scan.frame_size);
}

static GstFlowReturn gst_nic_parse_pre_push_frame(GstBaseParse* parse, GstBaseParseFrame* frame) {
  (void)parse;
  GstBuffer* buffer = frame->out_buffer ? frame->out_buffer : frame->buffer;
  GstMapInfo map;
  NicFrameInfo info;
  if (gst_buffer_is_writable(buffer) && gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    NicStatus status = nic_peek_frame(map.data, map.size, &info);
    gst_buffer_unmap(buffer, &map);
    GST_BUFFER_FLAG_UNSET(buffer, GST_BUFFER_FLAG_DELTA_UNIT); /* every frame is intra */
    if (status == NIC_OK) gst_nic_buffer_add_frame_meta(buffer, info.qp);
  }
  frame->flags |= GST_BASE_PARSE_FRAME_FLAG_CLIP;
  return GST_FLOW_OK;
}

static void gst_nic_parse_class_init(GstNicParseClass* klass) {
  GstElementClass* element_class = GST_ELEMENT_CLASS(klass);
  GstBaseParseClass* parse_class = GST_BASE_PARSE_CLASS(klass);

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "nic parser", "Codec/Parser/Video/Image",
      "Splits a raw nic stream into frames (resynchronising after damage)", "nic");

  parse_class->start = GST_DEBUG_FUNCPTR(gst_nic_parse_start);
  parse_class->stop = GST_DEBUG_FUNCPTR(gst_nic_parse_stop);
  parse_class->set_sink_caps = GST_DEBUG_FUNCPTR(gst_nic_parse_set_sink_caps);
  parse_class->handle_frame = GST_DEBUG_FUNCPTR(gst_nic_parse_handle_frame);
  parse_class->pre_push_frame = GST_DEBUG_FUNCPTR(gst_nic_parse_pre_push_frame);

  GST_DEBUG_CATEGORY_INIT(gst_nic_parse_debug, "nicparse", 0, "nic parser");
}

static void gst_nic_parse_init(GstNicParse* self) {
  reset(self);
  GST_PAD_SET_ACCEPT_INTERSECT(GST_BASE_PARSE_SINK_PAD(self));
  GST_PAD_SET_ACCEPT_TEMPLATE(GST_BASE_PARSE_SINK_PAD(self));
}
