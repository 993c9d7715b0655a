/* nic GStreamer plugin: declarations shared by its elements. */
#ifndef GST_NIC_H
#define GST_NIC_H

#include <gst/base/gstbaseparse.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <nic/nic.h>

G_BEGIN_DECLS

#define GST_TYPE_NIC_ENC (gst_nic_enc_get_type())
G_DECLARE_FINAL_TYPE(GstNicEnc, gst_nic_enc, GST, NIC_ENC, GstVideoEncoder)
#define GST_TYPE_NIC_DEC (gst_nic_dec_get_type())
G_DECLARE_FINAL_TYPE(GstNicDec, gst_nic_dec, GST, NIC_DEC, GstVideoDecoder)
#define GST_TYPE_NIC_PARSE (gst_nic_parse_get_type())
G_DECLARE_FINAL_TYPE(GstNicParse, gst_nic_parse, GST, NIC_PARSE, GstBaseParse)

GST_ELEMENT_REGISTER_DECLARE(nicenc);
GST_ELEMENT_REGISTER_DECLARE(nicdec);
GST_ELEMENT_REGISTER_DECLARE(nicparse);

/* Every buffer nicenc and nicparse output carries a GstCustomMeta of this name whose structure
 * has the field "qp" (G_TYPE_DOUBLE): the frame's quantization parameter as stored in the
 * stream. Read it with
 *   GstCustomMeta *m = gst_buffer_get_custom_meta (buffer, "GstNicFrameMeta");
 *   gst_structure_get_double (gst_custom_meta_get_structure (m), "qp", &qp);
 * (no header needed, works from any language binding). */
#define GST_NIC_FRAME_META_NAME "GstNicFrameMeta"
void gst_nic_frame_meta_register(void);
void gst_nic_buffer_add_frame_meta(GstBuffer* buffer, double qp);

/* Caps of an encoded stream. */
#define GST_NIC_CAPS_NAME "image/x-nic"

/* The properties every element holding a libnic context has: model, device, threads,
 * memory-pool, precision. Fields are guarded by the element's object lock. */
typedef struct {
  gchar* model;
  gchar* device;
  gchar* precision;
  gint threads;
  gboolean memory_pool;
  gint effort; /* encoder effort (nicenc's property); 0 = libnic's default */
} GstNicSettings;

enum {
  GST_NIC_PROP_MODEL = 1,
  GST_NIC_PROP_DEVICE,
  GST_NIC_PROP_THREADS,
  GST_NIC_PROP_MEMORY_POOL,
  GST_NIC_PROP_PRECISION,
  GST_NIC_PROP_FIRST_OWN
};
/* Defaults of the shared properties that are not zero/NULL: call from the element's init. */
#define GST_NIC_DEFAULT_MEMORY_POOL TRUE
void gst_nic_settings_init(GstNicSettings* settings);
void gst_nic_settings_install_properties(GObjectClass* klass);
/* Return FALSE when prop_id is not one of the shared properties. */
gboolean gst_nic_settings_set_property(GstNicSettings* settings, GObject* object, guint prop_id,
                                       const GValue* value);
gboolean gst_nic_settings_get_property(GstNicSettings* settings, GObject* object, guint prop_id,
                                       GValue* value);
void gst_nic_settings_clear(GstNicSettings* settings);
/* Opens a libnic context with the settings; on failure posts an element error, returns NULL.
 * stream_model: the model to use when the model property is unset (NULL: libnic's default). */
NicContext* gst_nic_settings_open_context(GstNicSettings* settings, GstElement* element,
                                          const gchar* stream_model);
/* Whether the model property names a model. */
gboolean gst_nic_settings_has_model(GstNicSettings* settings, GstElement* element);

/* Processing latency of an element that codes each frame as it arrives: the longest coding time
 * of its last GST_NIC_LATENCY_WINDOW frames, the stream's first frame (LibTorch warming up) left
 * out. nicenc and nicdec report it as their latency, so that a live pipeline allows for it, and
 * report it again when it moves by more than a quarter. With QoS, frames later than that are
 * dropped. */
#define GST_NIC_LATENCY_WINDOW 16
typedef struct {
  GstClockTime recent[GST_NIC_LATENCY_WINDOW];
  guint64 frames;         /* frames measured since the start */
  GstClockTime reported;  /* GST_CLOCK_TIME_NONE: nothing reported yet */
  guint64 coded, dropped; /* dropped: late by QoS or by the live deadline */
} GstNicFrameTiming;
void gst_nic_frame_timing_reset(GstNicFrameTiming* timing);
/* Records one frame's coding time; returns TRUE and sets *latency when it should be reported. */
gboolean gst_nic_frame_timing_add(GstNicFrameTiming* timing, GstClockTime elapsed,
                                  GstClockTime* latency);
/* Whether to drop a frame before coding it: downstream already reports it too late (qos_lateness
 * > 0, from the base class's QoS), or it is too far behind a live source. The live deadline: a
 * frame may reach the element up to the upstream latency (a latency query on the peer of sinkpad)
 * plus one frame (its duration, else the framerate of info, which may be NULL, else the measured
 * coding time) after its running time, by the pipeline clock. A coder slower than its live source
 * then skips frames instead of falling further behind. No deadline applies when the pipeline is not
 * live (a file is coded whole however long it takes). The first frame is always coded. A drop is
 * counted in timing and logged (INFO). */
gboolean gst_nic_frame_is_late(GstElement* element, GstPad* sinkpad, const GstSegment* segment,
                               const GstVideoCodecFrame* frame, const GstVideoInfo* info,
                               GstClockTimeDiff qos_lateness, GstNicFrameTiming* timing);
/* Logs (INFO) how many frames the element coded and dropped, when it coded any. */
void gst_nic_frame_timing_log_summary(const GstNicFrameTiming* timing, GstElement* element);

/* libnic's nic_scan_frame (resynchronisation is the library's), with what it skipped logged. */
void gst_nic_scan(GstElement* element, const guint8* data, gsize size, NicFrameScan* scan);

G_END_DECLS

#endif
