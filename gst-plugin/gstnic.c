/* nic GStreamer plugin "nic": nicenc, nicdec, nicparse, plus what they share (the per-frame qp
 * meta, the model/device/threads properties, the frame scanner). */
#include "gstnic.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC(gst_nic_debug);
#define GST_CAT_DEFAULT gst_nic_debug

/* ---- per-frame qp meta ---- */

void gst_nic_frame_meta_register(void) {
  static gsize registered = 0;
  if (g_once_init_enter(&registered)) {
    static const gchar* tags[] = {NULL};
    /* No transform function: the default copies the structure when a buffer is copied. */
    gst_meta_register_custom(GST_NIC_FRAME_META_NAME, tags, NULL, NULL, NULL);
    g_once_init_leave(&registered, 1);
  }
}

void gst_nic_buffer_add_frame_meta(GstBuffer* buffer, double qp) {
  GstCustomMeta* meta = gst_buffer_add_custom_meta(buffer, GST_NIC_FRAME_META_NAME);
  if (meta) gst_structure_set(gst_custom_meta_get_structure(meta), "qp", G_TYPE_DOUBLE, qp, NULL);
}

/* ---- model / device / threads / memory-pool / precision ---- */

void gst_nic_settings_install_properties(GObjectClass* klass) {
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  g_object_class_install_property(
      klass, GST_NIC_PROP_MODEL,
      g_param_spec_string("model", "Model",
                          "Weights file (.safetensors) or installed model's name (nic models). "
                          "NULL: for nicdec the installed model that encoded the stream, else "
                          "the library's default model (environment variable NIC_MODEL "
                          "overrides it). Encoder and decoder must use the same weights.",
                          NULL, flags));
  g_object_class_install_property(
      klass, GST_NIC_PROP_DEVICE,
      g_param_spec_string("device", "Device",
                          "Where the model runs: \"cpu\", \"cuda\" or \"cuda:N\". NULL: cpu. "
                          "Asking for CUDA where there is none fails when the element starts.",
                          NULL, flags));
  g_object_class_install_property(
      klass, GST_NIC_PROP_THREADS,
      g_param_spec_int("threads", "Threads", "CPU threads for the model (0 = library default)", 0,
                       256, 0, flags));
  g_object_class_install_property(
      klass, GST_NIC_PROP_MEMORY_POOL,
      g_param_spec_boolean("memory-pool", "Memory pool",
                           "Keep freed CPU tensor memory for reuse between frames (libnic's "
                           "NicOptions.memory_pool): about twice the frame rate at 1080p, for "
                           "about 1.3 GB more memory. LibTorch's CPU allocator is process-wide: "
                           "the pool replaces LibTorch's default one while any element with "
                           "this on holds a context, and the default is back when the last "
                           "one stops; an allocator the application installed is kept",
                           GST_NIC_DEFAULT_MEMORY_POOL, flags));
  g_object_class_install_property(
      klass, GST_NIC_PROP_PRECISION,
      g_param_spec_string(
          "precision", "Precision",
          "Arithmetic of the float networks: \"auto\" (float16 on a GPU; on the CPU "
          "bfloat16 where it has AMX, else float32), \"float32\", \"float16\" or "
          "\"bfloat16\". NULL: auto. "
          "Frames decode alike whatever the precision on either side.",
          NULL, flags));
}

void gst_nic_settings_init(GstNicSettings* settings) {
  settings->memory_pool = GST_NIC_DEFAULT_MEMORY_POOL;
}

gboolean gst_nic_settings_set_property(GstNicSettings* settings, GObject* object, guint prop_id,
                                       const GValue* value) {
  if (prop_id < GST_NIC_PROP_MODEL || prop_id > GST_NIC_PROP_PRECISION) return FALSE;
  GST_OBJECT_LOCK(object);
  switch (prop_id) {
    case GST_NIC_PROP_PRECISION:
      g_free(settings->precision);
      settings->precision = g_value_dup_string(value);
      break;
    case GST_NIC_PROP_MODEL:
      g_free(settings->model);
      settings->model = g_value_dup_string(value);
      break;
    case GST_NIC_PROP_DEVICE:
      g_free(settings->device);
      settings->device = g_value_dup_string(value);
      break;
    case GST_NIC_PROP_THREADS:
      settings->threads = g_value_get_int(value);
      break;
    default:
      settings->memory_pool = g_value_get_boolean(value);
      break;
  }
  GST_OBJECT_UNLOCK(object);
  return TRUE;
}

gboolean gst_nic_settings_get_property(GstNicSettings* settings, GObject* object, guint prop_id,
                                       GValue* value) {
  if (prop_id < GST_NIC_PROP_MODEL || prop_id > GST_NIC_PROP_PRECISION) return FALSE;
  GST_OBJECT_LOCK(object);
  switch (prop_id) {
    case GST_NIC_PROP_PRECISION:
      g_value_set_string(value, settings->precision);
      break;
    case GST_NIC_PROP_MODEL:
      g_value_set_string(value, settings->model);
      break;
    case GST_NIC_PROP_DEVICE:
      g_value_set_string(value, settings->device);
      break;
    case GST_NIC_PROP_THREADS:
      g_value_set_int(value, settings->threads);
      break;
    default:
      g_value_set_boolean(value, settings->memory_pool);
      break;
  }
  GST_OBJECT_UNLOCK(object);
  return TRUE;
}

void gst_nic_settings_clear(GstNicSettings* settings) {
  g_clear_pointer(&settings->model, g_free);
  g_clear_pointer(&settings->device, g_free);
  g_clear_pointer(&settings->precision, g_free);
}

gboolean gst_nic_settings_has_model(GstNicSettings* settings, GstElement* element) {
  GST_OBJECT_LOCK(element);
  const gboolean has = settings->model && *settings->model;
  GST_OBJECT_UNLOCK(element);
  return has;
}

NicContext* gst_nic_settings_open_context(GstNicSettings* settings, GstElement* element,
                                          const gchar* stream_model) {
  NicOptions options;
  nic_options_init(&options);
  GST_OBJECT_LOCK(element);
  gchar* model = g_strdup(settings->model && *settings->model ? settings->model : stream_model);
  gchar* device = g_strdup(settings->device);
  gchar* precision = g_strdup(settings->precision);
  options.threads = settings->threads;
  options.memory_pool = settings->memory_pool ? 1 : 0;
  if (settings->effort > 0) options.effort = settings->effort;
  GST_OBJECT_UNLOCK(element);
  options.model_path = model;
  options.device = device;
  options.precision = precision;

  NicContext* context = NULL;
  NicStatus status = nic_context_create(&options, &context);
  if (status != NIC_OK) {
    const gchar* path = (model && *model) ? model : nic_default_model_path();
    if (status == NIC_ERROR_DEVICE) {
      GST_ELEMENT_ERROR(
          element, RESOURCE, NOT_FOUND,
          ("nic: device \"%s\" is not available: %s", device ? device : "cpu", nic_last_error()),
          ("nic_context_create: %s", nic_status_string(status)));
    } else {
      GST_ELEMENT_ERROR(element, LIBRARY, INIT,
                        ("nic: could not load the model %s: %s", path, nic_last_error()),
                        ("nic_context_create: %s (device %s, precision %s, threads %d)",
                         nic_status_string(status), device ? device : "cpu",
                         precision ? precision : "auto", options.threads));
    }
    context = NULL;
  } else {
    GST_INFO_OBJECT(element, "loaded model %s (fingerprint %s) on %s",
                    (model && *model) ? model : nic_default_model_path(),
                    nic_context_model_fingerprint(context), device ? device : "cpu");
  }
  g_free(model);
  g_free(device);
  g_free(precision);
  return context;
}

/* ---- processing latency (nicenc, nicdec) ---- */

void gst_nic_frame_timing_reset(GstNicFrameTiming* timing) {
  memset(timing, 0, sizeof *timing);
  timing->reported = GST_CLOCK_TIME_NONE;
}

gboolean gst_nic_frame_timing_add(GstNicFrameTiming* timing, GstClockTime elapsed,
                                  GstClockTime* latency) {
  if (timing->frames++ == 0) return FALSE; /* the first frame warms LibTorch up */
  timing->recent[(timing->frames - 2) % GST_NIC_LATENCY_WINDOW] = elapsed;
  GstClockTime longest = 0;
  const guint64 known = MIN(timing->frames - 1, GST_NIC_LATENCY_WINDOW);
  for (guint64 i = 0; i < known; ++i) longest = MAX(longest, timing->recent[i]);
  const GstClockTime reported = timing->reported;
  if (GST_CLOCK_TIME_IS_VALID(reported) && longest <= reported + reported / 4 &&
      longest >= reported - reported / 4)
    return FALSE;
  timing->reported = longest;
  *latency = longest;
  return TRUE;
}

/* How long after its running time (and the upstream latency) a live frame may still arrive;
 * GST_CLOCK_TIME_NONE while unknown. */
static GstClockTime frame_allowance(GstClockTime duration, const GstVideoInfo* info,
                                    const GstNicFrameTiming* timing) {
  if (GST_CLOCK_TIME_IS_VALID(duration) && duration > 0) return duration;
  if (info && GST_VIDEO_INFO_FPS_N(info) > 0 && GST_VIDEO_INFO_FPS_D(info) > 0)
    return gst_util_uint64_scale(GST_SECOND, GST_VIDEO_INFO_FPS_D(info),
                                 GST_VIDEO_INFO_FPS_N(info));
  return timing->reported;
}

/* How much later than allowed a frame reaches the element in a live pipeline; 0 when not live,
 * without a clock, running time or allowance. */
static GstClockTimeDiff live_lateness(GstElement* element, GstPad* sinkpad,
                                      const GstSegment* segment, GstClockTime pts,
                                      GstClockTime allowance) {
  const GstClockTime running_time = gst_segment_to_running_time(segment, GST_FORMAT_TIME, pts);
  if (!GST_CLOCK_TIME_IS_VALID(running_time) || !GST_CLOCK_TIME_IS_VALID(allowance)) return 0;
  GstClock* clock = gst_element_get_clock(element);
  if (!clock) return 0;
  const GstClockTime now = gst_clock_get_time(clock);
  gst_object_unref(clock);
  /* Asked per frame: upstream latency changes as the elements before this one measure theirs. */
  GstQuery* query = gst_query_new_latency();
  gboolean live = FALSE;
  GstClockTime upstream = 0;
  if (gst_pad_peer_query(sinkpad, query)) gst_query_parse_latency(query, &live, &upstream, NULL);
  gst_query_unref(query);
  if (!live) return 0;
  const GstClockTime base_time = gst_element_get_base_time(element);
  if (now < base_time) return 0;
  const GstClockTime due =
      running_time + (GST_CLOCK_TIME_IS_VALID(upstream) ? upstream : 0) + allowance;
  return GST_CLOCK_DIFF(due, now - base_time);
}

gboolean gst_nic_frame_is_late(GstElement* element, GstPad* sinkpad, const GstSegment* segment,
                               const GstVideoCodecFrame* frame, const GstVideoInfo* info,
                               GstClockTimeDiff qos_lateness, GstNicFrameTiming* timing) {
  /* The first frame is always coded: a viewer gets a picture, and the latency is measured. */
  if (timing->coded == 0) return FALSE;
  const GstClockTimeDiff behind = live_lateness(element, sinkpad, segment, frame->pts,
                                                frame_allowance(frame->duration, info, timing));
  if (qos_lateness <= 0 && behind <= 0) return FALSE;
  timing->dropped++;
  GST_INFO_OBJECT(element,
                  "frame %u (pts %" GST_TIME_FORMAT ") late by %" GST_STIME_FORMAT
                  " (%s): dropped, %" G_GUINT64_FORMAT " dropped so far",
                  frame->system_frame_number, GST_TIME_ARGS(frame->pts),
                  GST_STIME_ARGS(MAX(qos_lateness, behind)),
                  qos_lateness > 0 ? "QoS" : "live deadline", timing->dropped);
  return TRUE;
}

void gst_nic_frame_timing_log_summary(const GstNicFrameTiming* timing, GstElement* element) {
  if (timing->coded == 0 && timing->dropped == 0) return;
  GST_INFO_OBJECT(element,
                  "%" G_GUINT64_FORMAT " frames coded, %" G_GUINT64_FORMAT
                  " dropped late, latency %" GST_TIME_FORMAT,
                  timing->coded, timing->dropped, GST_TIME_ARGS(timing->reported));
}

/* ---- frame scanner (nicparse, and nicdec on unparsed input) ---- */

void gst_nic_scan(GstElement* element, const guint8* data, gsize size, NicFrameScan* scan) {
  if (nic_scan_frame(data, size, scan) != NIC_OK) {
    /* Only a NULL buffer fails: treat it as nothing to read. */
    memset(scan, 0, sizeof *scan);
    return;
  }
  if (scan->skip > 0)
    GST_DEBUG_OBJECT(element, "skipping %" G_GSIZE_FORMAT " bytes that are not a frame",
                     (gsize)scan->skip);
}

/* ---- plugin ---- */

static gboolean plugin_init(GstPlugin* plugin) {
  GST_DEBUG_CATEGORY_INIT(gst_nic_debug, "nic", 0, "nic plugin");
  gst_nic_frame_meta_register();
  gboolean ok = GST_ELEMENT_REGISTER(nicenc, plugin);
  ok &= GST_ELEMENT_REGISTER(nicdec, plugin);
  ok &= GST_ELEMENT_REGISTER(nicparse, plugin);
  return ok;
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, nic,
                  "nic neural image codec: encoder, decoder and parser", plugin_init,
                  NIC_PLUGIN_VERSION, "MIT/X11", "nic", "nic")
