/* Plugin "nictypefind": recognises a raw nic stream ("NICF" frame units, docs/bitstream.md) so
 * that typefind, decodebin and playbin can plug nicparse ! nicdec.
 *
 * It is a plugin of its own, with no libnic dependency, because GStreamer loads a typefinder's
 * plugin whenever it tries that typefinder, for any unknown stream in any application: were it
 * in the "nic" plugin, every such typefind would load libnic and LibTorch (~0.4 s, ~160 MB).
 * It therefore checks the documented header fields itself. */
#include <gst/gst.h>

#define FIXED_HEADER_SIZE 22

static void nic_type_find(GstTypeFind* find, gpointer user_data) {
  (void)user_data;
  const guint8* h = gst_type_find_peek(find, 0, FIXED_HEADER_SIZE);
  if (!h || h[0] != 'N' || h[1] != 'I' || h[2] != 'C' || h[3] != 'F') return;

  const guint version = h[4], flags = h[5], colour_format = h[10], substreams = h[21];
  const guint width = GST_READ_UINT16_LE(h + 6), height = GST_READ_UINT16_LE(h + 8);
  const guint qp_fixed = GST_READ_UINT16_LE(h + 19);
  GstTypeFindProbability probability;
  if ((version == 1 || version == 2) && flags == 0 && colour_format == 0 && width >= 1 &&
      width <= 16384 && height >= 1 && height <= 16384 && qp_fixed <= 63 * 256 && substreams >= 1 &&
      substreams <= 32) {
    probability = GST_TYPE_FIND_MAXIMUM;
  } else if (version > 2) {
    probability = GST_TYPE_FIND_LIKELY; /* a newer bitstream: nicdec will say so */
  } else {
    return;
  }
  GstCaps* caps = gst_caps_new_empty_simple("image/x-nic");
  if (probability == GST_TYPE_FIND_MAXIMUM)
    gst_caps_set_simple(caps, "width", G_TYPE_INT, (gint)width, "height", G_TYPE_INT, (gint)height,
                        NULL);
  gst_type_find_suggest(find, probability, caps);
  gst_caps_unref(caps);
}

static gboolean plugin_init(GstPlugin* plugin) {
  return gst_type_find_register(plugin, "image/x-nic", GST_RANK_PRIMARY, nic_type_find, "nic", NULL,
                                NULL, NULL);
}

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, nictypefind,
                  "Recognises nic neural image codec streams", plugin_init, NIC_PLUGIN_VERSION,
                  "MIT/X11", "nic", "nic")
