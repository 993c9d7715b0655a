// GstHarness tests of the nic GStreamer plugin (nicenc, nicdec, nicparse, the typefinder).
//
// Environment (set by tests/gst/meson.build): GST_PLUGIN_PATH (the build's gst-plugin dir),
// NIC_MODEL (the test model), NIC_GST_TRAINED_MODEL (the shipped model, for the PSNR floor) and
// optionally NIC_CLI (the `nic` tool, for the CLI comparison).
#include <gst/base/gsttypefindhelper.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>
#include <nic/nic.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

// A deterministic test picture: smooth gradients, an edge and a little texture.
Bytes MakePicture(int width, int height, int seed) {
  Bytes rgb(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      double fx = static_cast<double>(x) / width, fy = static_cast<double>(y) / height;
      p[0] = static_cast<uint8_t>(40 + 170 * fx + 10 * std::sin(seed + y * 0.3));
      p[1] = static_cast<uint8_t>(30 + 180 * fy);
      p[2] = static_cast<uint8_t>((x - width / 2) * (x - width / 2) +
                                              (y - height / 3) * (y - height / 3) <
                                          width * height / 16
                                      ? 220
                                      : 60 + ((x * 7 + y * 13 + seed) % 23));
    }
  }
  return rgb;
}

double Psnr(const Bytes& a, const Bytes& b) {
  double squared = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = static_cast<double>(a[i]) - b[i];
    squared += d * d;
  }
  double mse = squared / a.size();
  return mse == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 / mse);
}

GstBuffer* WrapBytes(const Bytes& bytes, GstClockTime pts = GST_CLOCK_TIME_NONE,
                     GstClockTime duration = GST_CLOCK_TIME_NONE) {
  GstBuffer* buffer = gst_buffer_new_memdup(bytes.data(), bytes.size());
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DURATION(buffer) = duration;
  return buffer;
}

// A raw RGB video buffer laid out as GStreamer expects (rows padded to 4 bytes).
GstBuffer* PictureBuffer(const Bytes& rgb, int width, int height,
                         GstClockTime pts = GST_CLOCK_TIME_NONE,
                         GstClockTime duration = GST_CLOCK_TIME_NONE) {
  GstVideoInfo info;
  gst_video_info_set_format(&info, GST_VIDEO_FORMAT_RGB, width, height);
  GstBuffer* buffer = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstMapInfo map;
  gst_buffer_map(buffer, &map, GST_MAP_WRITE);
  for (int y = 0; y < height; ++y)
    memcpy(map.data + GST_VIDEO_INFO_PLANE_OFFSET(&info, 0) +
               y * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0),
           &rgb[static_cast<size_t>(y) * width * 3], static_cast<size_t>(width) * 3);
  gst_buffer_unmap(buffer, &map);
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DURATION(buffer) = duration;
  return buffer;
}

// Everything here runs synchronously: output is there as soon as push returns, or never.
GstBuffer* Pull(GstHarness* h) { return gst_harness_try_pull(h); }

// The element output exactly these buffers (timestamps), in order.
void ExpectOutputTimestamps(GstHarness* h, const std::vector<GstClockTime>& expected) {
  EXPECT_EQ(gst_harness_buffers_received(h), expected.size());
  for (GstClockTime pts : expected) {
    GstBuffer* out = Pull(h);
    ASSERT_NE(out, nullptr) << "no buffer at " << pts;
    EXPECT_EQ(GST_BUFFER_PTS(out), pts);
    gst_buffer_unref(out);
  }
}

Bytes BufferBytes(GstBuffer* buffer) {
  Bytes bytes(gst_buffer_get_size(buffer));
  gst_buffer_extract(buffer, 0, bytes.data(), bytes.size());
  return bytes;
}

// Tightly packed RGB of a decoded buffer (whatever the stride the element used).
Bytes RgbPixels(GstBuffer* buffer, GstCaps* caps) {
  GstVideoInfo info;
  EXPECT_TRUE(gst_video_info_from_caps(&info, caps));
  EXPECT_EQ(GST_VIDEO_INFO_FORMAT(&info), GST_VIDEO_FORMAT_RGB);
  GstVideoFrame frame;
  EXPECT_TRUE(gst_video_frame_map(&frame, &info, buffer, GST_MAP_READ));
  int width = GST_VIDEO_INFO_WIDTH(&info), height = GST_VIDEO_INFO_HEIGHT(&info);
  Bytes rgb(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    memcpy(&rgb[static_cast<size_t>(y) * width * 3],
           static_cast<uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)) +
               y * GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0),
           static_cast<size_t>(width) * 3);
  gst_video_frame_unmap(&frame);
  return rgb;
}

std::string RawCaps(int width, int height, int fps = 30) {
  return "video/x-raw,format=RGB,width=" + std::to_string(width) +
         ",height=" + std::to_string(height) + ",framerate=" + std::to_string(fps) + "/1";
}

double FrameQp(GstBuffer* buffer) {
  GstCustomMeta* meta = gst_buffer_get_custom_meta(buffer, "GstNicFrameMeta");
  if (!meta) return -1;
  double qp = -1;
  gst_structure_get_double(gst_custom_meta_get_structure(meta), "qp", &qp);
  return qp;
}

struct Harness {
  GstHarness* h;
  explicit Harness(const char* launch) : h(gst_harness_new_parse(launch)) {}
  ~Harness() { gst_harness_teardown(h); }
  GstCaps* SinkCaps() { return gst_pad_get_current_caps(h->sinkpad); }
  // The element made by `factory` inside the harness's bin (borrowed).
  GstElement* Find(const char* factory) {
    GstElement* found = nullptr;
    GstIterator* it = gst_bin_iterate_elements(GST_BIN(h->element));
    GValue item = G_VALUE_INIT;
    while (!found && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
      GstElement* element = GST_ELEMENT(g_value_get_object(&item));
      if (g_str_equal(GST_OBJECT_NAME(gst_element_get_factory(element)), factory)) found = element;
      g_value_reset(&item);
    }
    g_value_unset(&item);
    gst_iterator_free(it);
    return found;  // the bin keeps it alive
  }
};

// Encodes pictures with nicenc at the given qp; returns the frame units.
std::vector<Bytes> Encode(const std::vector<Bytes>& pictures, int width, int height,
                          const char* element = "nicenc") {
  Harness enc(element);
  gst_harness_set_src_caps_str(enc.h, RawCaps(width, height).c_str());
  std::vector<Bytes> frames;
  for (size_t i = 0; i < pictures.size(); ++i) {
    EXPECT_EQ(gst_harness_push(enc.h, PictureBuffer(pictures[i], width, height, i * GST_SECOND / 30,
                                                    GST_SECOND / 30)),
              GST_FLOW_OK);
    GstBuffer* out = Pull(enc.h);
    if (!out) {
      ADD_FAILURE() << "nicenc gave no output for picture " << i;
      return frames;
    }
    frames.push_back(BufferBytes(out));
    gst_buffer_unref(out);
  }
  return frames;
}

// A frame unit with its CRC recomputed after an edit.
void FixCrc(Bytes* frame) {
  uint32_t crc = crc32(0, frame->data(), frame->size() - 4);
  for (int i = 0; i < 4; ++i)
    (*frame)[frame->size() - 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
}

class NicContextHolder {
 public:
  NicContextHolder() {
    NicOptions options;
    nic_options_init(&options);
    EXPECT_EQ(nic_context_create(&options, &context_), NIC_OK) << nic_last_error();
  }
  ~NicContextHolder() { nic_context_destroy(context_); }
  Bytes Decode(const Bytes& frame) {
    NicFrameInfo info;
    EXPECT_EQ(nic_peek_frame(frame.data(), frame.size(), &info), NIC_OK) << nic_last_error();
    Bytes rgb(static_cast<size_t>(info.width) * info.height * 3);
    EXPECT_EQ(nic_decode_rgb(context_, frame.data(), frame.size(), rgb.data(), info.width * 3,
                             rgb.size(), nullptr),
              NIC_OK)
        << nic_last_error();
    return rgb;
  }

 private:
  NicContext* context_ = nullptr;
};

// A bus of the test's own on an element, so that its messages can be counted and read; the
// element is given its old bus back (none) when the watch goes, also on an early ASSERT return.
class BusWatch {
 public:
  explicit BusWatch(GstElement* element) : element_(element), bus_(gst_bus_new()) {
    gst_element_set_bus(element_, bus_);
  }
  ~BusWatch() {
    gst_element_set_bus(element_, nullptr);
    gst_object_unref(bus_);
  }
  BusWatch(const BusWatch&) = delete;
  BusWatch& operator=(const BusWatch&) = delete;

  // Pops the messages of `type` posted so far; returns how many there were.
  int Count(GstMessageType type) {
    int n = 0;
    while (GstMessage* message = gst_bus_pop_filtered(bus_, type)) {
      ++n;
      gst_message_unref(message);
    }
    return n;
  }
  // Pops the first error message; returns its text, or nothing if there is none.
  std::optional<std::string> PopError() {
    GstMessage* error = gst_bus_pop_filtered(bus_, GST_MESSAGE_ERROR);
    if (!error) return std::nullopt;
    GError* gerror = nullptr;
    gst_message_parse_error(error, &gerror, nullptr);
    std::string text = gerror->message;
    g_error_free(gerror);
    gst_message_unref(error);
    return text;
  }

 private:
  GstElement* element_;
  GstBus* bus_;
};

TEST(NicEnc, OutputsKeyframesWithCapsAndQpMeta) {
  Harness enc("nicenc");
  gst_harness_set_src_caps_str(enc.h, RawCaps(48, 32).c_str());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(gst_harness_push(enc.h, PictureBuffer(MakePicture(48, 32, i), 48, 32,
                                                    i * GST_SECOND / 30, GST_SECOND / 30)),
              GST_FLOW_OK);
    GstBuffer* out = Pull(enc.h);
    ASSERT_NE(out, nullptr);
    EXPECT_FALSE(GST_BUFFER_FLAG_IS_SET(out, GST_BUFFER_FLAG_DELTA_UNIT));
    EXPECT_EQ(GST_BUFFER_PTS(out), i * GST_SECOND / 30);
    EXPECT_NEAR(FrameQp(out), 24.0, 1.0 / 256);  // the default qp
    Bytes bytes = BufferBytes(out);
    NicFrameInfo info;
    ASSERT_EQ(nic_peek_frame(bytes.data(), bytes.size(), &info), NIC_OK) << nic_last_error();
    EXPECT_EQ(info.frame_size, bytes.size());
    EXPECT_EQ(info.width, 48u);
    EXPECT_EQ(info.height, 32u);
    gst_buffer_unref(out);
  }
  GstCaps* caps = enc.SinkCaps();
  GstStructure* s = gst_caps_get_structure(caps, 0);
  EXPECT_STREQ(gst_structure_get_name(s), "image/x-nic");
  int width = 0, height = 0, fps_n = 0, fps_d = 0;
  EXPECT_TRUE(gst_structure_get_int(s, "width", &width));
  EXPECT_TRUE(gst_structure_get_int(s, "height", &height));
  EXPECT_TRUE(gst_structure_get_fraction(s, "framerate", &fps_n, &fps_d));
  EXPECT_EQ(width, 48);
  EXPECT_EQ(height, 32);
  EXPECT_EQ(fps_n, 30);
  EXPECT_EQ(fps_d, 1);
  gst_caps_unref(caps);
}

TEST(NicEnc, EffortRefinesFramesThatLibnicDecodes) {
  GstElement* enc = gst_element_factory_make("nicenc", nullptr);
  ASSERT_NE(enc, nullptr);
  GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(enc), "effort");
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(G_PARAM_SPEC_INT(spec)->minimum, NIC_EFFORT_MIN);
  EXPECT_EQ(G_PARAM_SPEC_INT(spec)->maximum, NIC_EFFORT_MAX);
  EXPECT_EQ(G_PARAM_SPEC_INT(spec)->default_value, NIC_EFFORT_DEFAULT);
  gst_object_unref(enc);

  const int width = 40, height = 36;
  std::vector<Bytes> pictures = {MakePicture(width, height, 3)};
  std::vector<Bytes> frames = Encode(pictures, width, height, "nicenc qp=20 effort=2");
  ASSERT_EQ(frames.size(), 1u);
  NicContextHolder direct;
  Bytes decoded = direct.Decode(frames[0]);
  EXPECT_EQ(decoded.size(), size_t(width) * height * 3);
  EXPECT_TRUE(std::isfinite(Psnr(pictures[0], decoded)));
}

// nicenc holds no frames: its latency is its coding time, measured from the second frame on (the
// first warms LibTorch up) and reported as both minimum and maximum.
TEST(NicEnc, ReportsItsCodingTimeAsLatency) {
  Harness enc("nicenc");
  gst_harness_set_src_caps_str(enc.h, RawCaps(16, 16).c_str());
  GstVideoEncoder* encoder = GST_VIDEO_ENCODER(enc.Find("nicenc"));
  GstClockTime min_latency = 1, max_latency = 1;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(gst_harness_push(enc.h, PictureBuffer(MakePicture(16, 16, i), 16, 16,
                                                    i * GST_SECOND / 30, GST_SECOND / 30)),
              GST_FLOW_OK);
    GstBuffer* out = Pull(enc.h);
    ASSERT_NE(out, nullptr);
    gst_buffer_unref(out);
    gst_video_encoder_get_latency(encoder, &min_latency, &max_latency);
    if (i == 0) {
      EXPECT_EQ(min_latency, 0u);
    }
  }
  EXPECT_GT(min_latency, 0u);
  EXPECT_LT(min_latency, 10 * GST_SECOND);
  EXPECT_EQ(min_latency, max_latency);
}

// QoS: once downstream reports it is late, frames before the time it can still show are dropped
// without coding (a QoS message each); later frames are coded. The first frame is always coded.
TEST(NicEnc, DropsFramesLateForQos) {
  Harness enc("nicenc");
  BusWatch bus(enc.h->element);
  gst_harness_set_src_caps_str(enc.h, RawCaps(16, 16).c_str());
  auto push = [&](int seed, GstClockTime pts) {
    return gst_harness_push(enc.h,
                            PictureBuffer(MakePicture(16, 16, seed), 16, 16, pts, GST_SECOND / 30));
  };
  ASSERT_EQ(push(0, 0), GST_FLOW_OK);
  // Downstream is 1 s late at running time 1 s: frames before ~3 s are too late.
  ASSERT_TRUE(gst_harness_push_upstream_event(
      enc.h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 0.5, GST_SECOND, GST_SECOND)));
  ASSERT_EQ(push(1, GST_SECOND), GST_FLOW_OK);
  ASSERT_EQ(push(2, 2 * GST_SECOND), GST_FLOW_OK);
  ASSERT_EQ(push(3, 10 * GST_SECOND), GST_FLOW_OK);
  ExpectOutputTimestamps(enc.h, {0, 10 * GST_SECOND});
  EXPECT_EQ(bus.Count(GST_MESSAGE_QOS), 2);
}

// Live deadline: a frame that reaches nicenc more than a frame after its running time by the
// pipeline clock is dropped (the source is live: the harness says so), so a slow encoder skips
// frames instead of falling further behind; frames in time are coded.
TEST(NicEnc, DropsFramesBehindALiveSource) {
  Harness enc("nicenc");
  gst_harness_use_testclock(enc.h);
  gst_harness_set_src_caps_str(enc.h, RawCaps(16, 16).c_str());
  auto push = [&](int seed, GstClockTime pts) {
    return gst_harness_push(enc.h,
                            PictureBuffer(MakePicture(16, 16, seed), 16, 16, pts, GST_SECOND / 30));
  };
  ASSERT_EQ(push(0, 0), GST_FLOW_OK);
  ASSERT_EQ(push(1, GST_SECOND / 30), GST_FLOW_OK);  // clock at 0: in time
  ASSERT_TRUE(gst_harness_set_time(enc.h, 5 * GST_SECOND));
  ASSERT_EQ(push(2, 2 * GST_SECOND / 30), GST_FLOW_OK);               // ~4.9 s behind: dropped
  ASSERT_EQ(push(3, 5 * GST_SECOND - GST_SECOND / 60), GST_FLOW_OK);  // within a frame: coded
  ExpectOutputTimestamps(enc.h, {0, GST_SECOND / 30, 5 * GST_SECOND - GST_SECOND / 60});
}

// Round trip through nicenc and nicdec: the pixels are exactly what libnic decodes from the
// same frame units. (The random test model has no quality to check: TrainedModelPsnr does that.)
// The memory pool (NicOptions.memory_pool) is on by default in both elements, and a pipeline with
// it off still codes the same frames.
TEST(NicRoundTrip, MemoryPoolPropertyDefaultsOnAndChangesNoBytes) {
  for (const char* name : {"nicenc", "nicdec"}) {
    GstElement* element = gst_element_factory_make(name, nullptr);
    ASSERT_NE(element, nullptr) << name;
    gboolean pool = FALSE;
    g_object_get(element, "memory-pool", &pool, nullptr);
    EXPECT_TRUE(pool) << name;
    gst_object_unref(element);
  }
  const int width = 40, height = 24;
  const std::vector<Bytes> pictures = {MakePicture(width, height, 3),
                                       MakePicture(width, height, 4)};
  EXPECT_EQ(Encode(pictures, width, height, "nicenc qp=20 memory-pool=false"),
            Encode(pictures, width, height, "nicenc qp=20"));
}

TEST(NicRoundTrip, MatchesLibnicAndKeepsPsnr) {
  const int width = 67, height = 45;  // not a multiple of the network's stride
  std::vector<Bytes> pictures = {MakePicture(width, height, 1), MakePicture(width, height, 2)};
  std::vector<Bytes> frames = Encode(pictures, width, height, "nicenc qp=12");

  Harness dec("nicdec");
  gst_harness_set_src_caps_str(dec.h, "image/x-nic,parsed=true,framerate=30/1");
  NicContextHolder direct;
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(gst_harness_push(dec.h, WrapBytes(frames[i], i * GST_SECOND / 30)), GST_FLOW_OK);
    GstBuffer* out = Pull(dec.h);
    ASSERT_NE(out, nullptr);
    GstCaps* caps = dec.SinkCaps();
    Bytes decoded = RgbPixels(out, caps);
    gst_caps_unref(caps);
    gst_buffer_unref(out);
    EXPECT_EQ(decoded, direct.Decode(frames[i])) << "frame " << i;
    double psnr = Psnr(pictures[i], decoded);
    RecordProperty("psnr_frame" + std::to_string(i), std::to_string(psnr));
    std::printf("frame %zu: %zu bytes, PSNR %.2f dB\n", i, frames[i].size(), psnr);
    EXPECT_TRUE(std::isfinite(psnr));
  }
}

// With trained weights (NIC_GST_TRAINED_MODEL, e.g. models/nic-default.safetensors) the round
// trip must look like the picture: at least NIC_GST_TRAINED_MIN_PSNR dB (default 20) at qp 24.
TEST(NicRoundTrip, TrainedModelPsnr) {
  const char* model = getenv("NIC_GST_TRAINED_MODEL");
  if (!model || access(model, R_OK) != 0)
    GTEST_SKIP() << "no trained model (NIC_GST_TRAINED_MODEL)";
  const char* floor_env = getenv("NIC_GST_TRAINED_MIN_PSNR");
  const double min_psnr = floor_env ? atof(floor_env) : 20.0;
  const int width = 96, height = 64;
  Bytes picture = MakePicture(width, height, 11);
  std::string launch = std::string("nicenc qp=24 model=") + model + " ! nicdec model=" + model;
  Harness both(launch.c_str());
  gst_harness_set_src_caps_str(both.h, RawCaps(width, height).c_str());
  ASSERT_EQ(gst_harness_push(both.h, PictureBuffer(picture, width, height, 0)), GST_FLOW_OK);
  GstBuffer* out = Pull(both.h);
  ASSERT_NE(out, nullptr);
  GstCaps* caps = both.SinkCaps();
  double psnr = Psnr(picture, RgbPixels(out, caps));
  gst_caps_unref(caps);
  gst_buffer_unref(out);
  std::printf("trained model, %dx%d at qp 24: PSNR %.2f dB\n", width, height, psnr);
  EXPECT_GE(psnr, min_psnr);
}

// The same through one harness holding both elements, at several sizes.
TEST(NicRoundTrip, EncoderToDecoderAtSeveralSizes) {
  for (auto [width, height] : {std::pair{1, 1}, {16, 16}, {33, 17}, {128, 72}}) {
    Harness both("nicenc ! nicdec");
    gst_harness_set_src_caps_str(both.h, RawCaps(width, height).c_str());
    ASSERT_EQ(
        gst_harness_push(both.h, PictureBuffer(MakePicture(width, height, 3), width, height, 0)),
        GST_FLOW_OK);
    GstBuffer* out = Pull(both.h);
    ASSERT_NE(out, nullptr);
    GstCaps* caps = both.SinkCaps();
    EXPECT_EQ(RgbPixels(out, caps).size(), static_cast<size_t>(width) * height * 3);
    gst_caps_unref(caps);
    gst_buffer_unref(out);
  }
}

// nicdec gives the pixels the CLI's `nic decode` writes for the same frame.
TEST(NicRoundTrip, MatchesCliDecode) {
  const char* cli = getenv("NIC_CLI");
  if (!cli || access(cli, X_OK) != 0) GTEST_SKIP() << "NIC_CLI not set or not executable";
  const int width = 40, height = 24;
  Bytes frame = Encode({MakePicture(width, height, 4)}, width, height)[0];

  char dir_template[] = "/tmp/nic-gst-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  std::string dir = dir_template, nic_path = dir + "/frame.nic", png_path = dir + "/frame.png";
  std::ofstream(nic_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(frame.data()),
             static_cast<std::streamsize>(frame.size()));
  std::string command = std::string(cli) + " decode " + nic_path + " -o " + png_path;
  ASSERT_EQ(system(command.c_str()), 0) << command;
  std::ifstream png_file(png_path, std::ios::binary);
  Bytes png((std::istreambuf_iterator<char>(png_file)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(png.empty());

  Harness png_dec("pngdec ! videoconvert ! capsfilter caps=video/x-raw,format=RGB");
  gst_harness_set_src_caps_str(png_dec.h, "image/png,framerate=0/1");
  ASSERT_EQ(gst_harness_push(png_dec.h, WrapBytes(png, 0)), GST_FLOW_OK);
  GstBuffer* ref_buffer = Pull(png_dec.h);
  ASSERT_NE(ref_buffer, nullptr);
  GstCaps* ref_caps = png_dec.SinkCaps();
  Bytes reference = RgbPixels(ref_buffer, ref_caps);
  gst_caps_unref(ref_caps);
  gst_buffer_unref(ref_buffer);

  Harness dec("nicdec");
  gst_harness_set_src_caps_str(dec.h, "image/x-nic,parsed=true");
  ASSERT_EQ(gst_harness_push(dec.h, WrapBytes(frame, 0)), GST_FLOW_OK);
  GstBuffer* out = Pull(dec.h);
  ASSERT_NE(out, nullptr);
  GstCaps* caps = dec.SinkCaps();
  EXPECT_EQ(RgbPixels(out, caps), reference);
  gst_caps_unref(caps);
  gst_buffer_unref(out);
  unlink(nic_path.c_str());
  unlink(png_path.c_str());
  rmdir(dir.c_str());
}

// qp set while playing applies from the next frame: sizes and the qp meta follow it.
TEST(NicEnc, QpChangeWhilePlaying) {
  Harness enc("nicenc qp=4");
  gst_harness_set_src_caps_str(enc.h, RawCaps(64, 48).c_str());
  Bytes picture = MakePicture(64, 48, 5);
  std::vector<size_t> sizes;
  std::vector<double> qps;
  for (int i = 0; i < 6; ++i) {
    if (i == 3) g_object_set(enc.Find("nicenc"), "qp", 56.0f, nullptr);
    ASSERT_EQ(gst_harness_push(enc.h, PictureBuffer(picture, 64, 48, i * GST_SECOND / 30)),
              GST_FLOW_OK);
    GstBuffer* out = Pull(enc.h);
    ASSERT_NE(out, nullptr);
    sizes.push_back(gst_buffer_get_size(out));
    qps.push_back(FrameQp(out));
    gst_buffer_unref(out);
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(qps[i], 4.0, 1e-6);
    EXPECT_NEAR(qps[i + 3], 56.0, 1e-6);
    EXPECT_EQ(sizes[i], sizes[0]);  // same picture, same qp
    EXPECT_LT(sizes[i + 3], sizes[i]) << "qp 56 must give fewer bytes than qp 4";
  }
  std::printf("64x48 frame: %zu bytes at qp 4, %zu bytes at qp 56\n", sizes[0], sizes[3]);
}

// rate-control=cbr set while playing: from the next frame on, the rate controller picks each
// frame's qp so the frames fit the bitrate. Then rate-control=vbr (by its nick, as gst-launch sets
// it) at a lower bitrate, also while playing.
TEST(NicEnc, RateControlSetWhilePlaying) {
  const int width = 64, height = 48;
  Bytes picture = MakePicture(width, height, 14);
  // Frame sizes at the ends of the qp range, to put the budget in between.
  std::vector<Bytes> fine = Encode({picture}, width, height, "nicenc qp=4");
  std::vector<Bytes> coarse = Encode({picture}, width, height, "nicenc qp=56");
  ASSERT_EQ(fine.size(), 1u);
  ASSERT_EQ(coarse.size(), 1u);
  const int fps = 10;
  const guint kbps = static_cast<guint>((fine[0].size() + coarse[0].size()) / 2 * 8 * fps / 1000);
  ASSERT_GE(kbps, 1u);
  const double budget = kbps * 1000.0 / 8 / fps;

  Harness enc("nicenc qp=4");
  gst_harness_set_src_caps_str(enc.h, RawCaps(width, height, fps).c_str());
  // The vbr phase: halfway between the cbr budget and the coarse frame.
  const guint vbr_kbps = static_cast<guint>((budget + coarse[0].size()) / 2 * 8 * fps / 1000);
  const double vbr_budget = vbr_kbps * 1000.0 / 8 / fps;
  std::vector<size_t> sizes;
  std::vector<double> qps;
  for (int i = 0; i < 14; ++i) {
    if (i == 2)
      g_object_set(enc.Find("nicenc"), "rate-control", 1 /* cbr */, "bitrate", kbps, nullptr);
    if (i == 8) {
      gst_util_set_object_arg(G_OBJECT(enc.Find("nicenc")), "rate-control", "vbr");
      g_object_set(enc.Find("nicenc"), "bitrate", vbr_kbps, nullptr);
      gint mode = -1;
      g_object_get(enc.Find("nicenc"), "rate-control", &mode, nullptr);
      EXPECT_EQ(mode, NIC_RATE_ABR);
    }
    ASSERT_EQ(gst_harness_push(enc.h, PictureBuffer(picture, width, height, i * GST_SECOND / fps)),
              GST_FLOW_OK);
    GstBuffer* out = Pull(enc.h);
    ASSERT_NE(out, nullptr);
    sizes.push_back(gst_buffer_get_size(out));
    qps.push_back(FrameQp(out));
    gst_buffer_unref(out);
  }
  EXPECT_NEAR(qps[0], 4.0, 1e-6);
  EXPECT_NEAR(qps[1], 4.0, 1e-6);
  double total = 0;
  for (int i = 2; i < 8; ++i) {
    EXPECT_GT(qps[i], 4.0) << "frame " << i;
    EXPECT_LT(sizes[i], sizes[0]) << "frame " << i;
    total += sizes[i];
  }
  std::printf("cbr %u kbit/s (%.0f bytes/frame): mean %.0f bytes, qp %.2f..%.2f\n", kbps, budget,
              total / 6, qps[2], qps[7]);
  EXPECT_LE(total / 6, budget * 1.15);
  double vbr_total = 0;
  for (int i = 8; i < 14; ++i) vbr_total += sizes[i];
  std::printf("vbr %u kbit/s (%.0f bytes/frame): mean %.0f bytes, qp %.2f..%.2f\n", vbr_kbps,
              vbr_budget, vbr_total / 6, qps[8], qps[13]);
  EXPECT_LT(vbr_total, total) << "the lower vbr bitrate must give smaller frames";
  EXPECT_LE(vbr_total / 6, vbr_budget * 1.15);
}

// EOS drains: every pushed frame comes out before the EOS event.
TEST(NicRoundTrip, EosDrainsEveryFrame) {
  Harness both("nicenc ! nicdec");
  gst_harness_set_src_caps_str(both.h, RawCaps(32, 32).c_str());
  const int n = 4;
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(gst_harness_push(both.h, PictureBuffer(MakePicture(32, 32, i), 32, 32,
                                                     i * GST_SECOND / 30, GST_SECOND / 30)),
              GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(both.h, gst_event_new_eos()));
  EXPECT_EQ(gst_harness_buffers_received(both.h), static_cast<guint>(n));
  bool saw_eos = false;
  while (GstEvent* event = gst_harness_try_pull_event(both.h)) {
    EXPECT_FALSE(saw_eos) << "no event after EOS";
    saw_eos |= GST_EVENT_TYPE(event) == GST_EVENT_EOS;
    gst_event_unref(event);
  }
  EXPECT_TRUE(saw_eos);
  for (int i = 0; i < n; ++i) {
    GstBuffer* out = Pull(both.h);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(out), i * GST_SECOND / 30);
    gst_buffer_unref(out);
  }
}

// pipeline=1 holds one frame: each buffer leaves with the next frame, the last at EOS; the
// bytes are those of pipeline=0, the latency allows one frame interval more, a flush drops the
// held frame.
TEST(NicEnc, PipelineHoldsOneFrameAndGivesTheSameBytes) {
  const int w = 40, h = 24, n = 3;
  std::vector<Bytes> pictures;
  for (int i = 0; i < n; ++i) pictures.push_back(MakePicture(w, h, i + 3));
  const std::vector<Bytes> expected = Encode(pictures, w, h, "nicenc pipeline=0");
  ASSERT_EQ(expected.size(), size_t(n));

  Harness enc("nicenc pipeline=1");
  gst_harness_set_src_caps_str(enc.h, RawCaps(w, h).c_str());
  std::vector<Bytes> frames;
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(gst_harness_push(enc.h, PictureBuffer(pictures[size_t(i)], w, h, i * GST_SECOND / 30,
                                                    GST_SECOND / 30)),
              GST_FLOW_OK);
    GstBuffer* out = Pull(enc.h);
    if (i == 0) {
      EXPECT_EQ(out, nullptr) << "the first frame is held";
      if (out) gst_buffer_unref(out);
      continue;
    }
    ASSERT_NE(out, nullptr) << "frame " << i - 1 << " leaves with frame " << i;
    EXPECT_EQ(GST_BUFFER_PTS(out), (i - 1) * GST_SECOND / 30);
    frames.push_back(BufferBytes(out));
    gst_buffer_unref(out);
  }
  GstClockTime min_latency = 0, max_latency = 0;
  gst_video_encoder_get_latency(GST_VIDEO_ENCODER(enc.Find("nicenc")), &min_latency, &max_latency);
  EXPECT_GT(min_latency, GST_SECOND / 30) << "coding time plus the held frame's interval";
  ASSERT_TRUE(gst_harness_push_event(enc.h, gst_event_new_eos()));
  GstBuffer* last = Pull(enc.h);
  ASSERT_NE(last, nullptr) << "EOS drains the held frame";
  EXPECT_EQ(GST_BUFFER_PTS(last), (n - 1) * GST_SECOND / 30);
  frames.push_back(BufferBytes(last));
  gst_buffer_unref(last);
  EXPECT_EQ(frames, expected);

  // A flush (a seek) drops the held frame; the stream starts again after it.
  Harness again("nicenc pipeline=1");
  gst_harness_set_src_caps_str(again.h, RawCaps(w, h).c_str());
  ASSERT_EQ(gst_harness_push(again.h, PictureBuffer(pictures[0], w, h, 0, GST_SECOND / 30)),
            GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(again.h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(again.h, gst_event_new_flush_stop(TRUE)));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(again.h, gst_event_new_segment(&segment)));
  ASSERT_EQ(gst_harness_push(again.h, PictureBuffer(pictures[1], w, h, 0, GST_SECOND / 30)),
            GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(again.h, gst_event_new_eos()));
  GstBuffer* after = Pull(again.h);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(BufferBytes(after), expected[1]);
  gst_buffer_unref(after);
  GstBuffer* more = Pull(again.h);
  EXPECT_EQ(more, nullptr) << "the flushed frame must not come out";
  if (more) gst_buffer_unref(more);
}

// A damaged, a truncated and a garbage buffer each give a warning; the stream goes on.
TEST(NicDec, CorruptBuffersWarnAndStreamContinues) {
  std::vector<Bytes> frames = Encode({MakePicture(32, 24, 6), MakePicture(32, 24, 7)}, 32, 24);
  Bytes damaged = frames[0];
  damaged[damaged.size() / 2 + 10] ^= 0x5a;  // payload byte: CRC mismatch
  Bytes truncated(frames[0].begin(), frames[0].begin() + frames[0].size() / 2);
  Bytes garbage(300, 0x37);

  Harness dec("nicdec");
  BusWatch bus(dec.h->element);
  gst_harness_set_src_caps_str(dec.h, "image/x-nic,parsed=true,framerate=30/1");
  std::vector<Bytes> inputs = {frames[0], damaged, truncated, garbage, frames[1]};
  for (size_t i = 0; i < inputs.size(); ++i)
    EXPECT_EQ(gst_harness_push(dec.h, WrapBytes(inputs[i], i * GST_SECOND / 30)), GST_FLOW_OK)
        << "input " << i;
  EXPECT_EQ(gst_harness_buffers_received(dec.h), 2u);
  GstBuffer* first = Pull(dec.h);
  ASSERT_NE(first, nullptr);
  GstBuffer* last = Pull(dec.h);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(GST_BUFFER_PTS(first), 0u);
  EXPECT_EQ(GST_BUFFER_PTS(last), 4 * GST_SECOND / 30);
  gst_buffer_unref(first);
  gst_buffer_unref(last);
  EXPECT_EQ(bus.Count(GST_MESSAGE_WARNING), 3);
  EXPECT_EQ(bus.Count(GST_MESSAGE_ERROR), 0);
}

// QoS: a frame already late when it arrives is dropped without decoding (and a QoS message
// posted); frames in time are decoded. The first frame is always decoded.
TEST(NicDec, DropsFramesLateForQos) {
  std::vector<Bytes> frames =
      Encode({MakePicture(16, 16, 12), MakePicture(16, 16, 13), MakePicture(16, 16, 14)}, 16, 16);
  Harness dec("nicdec");
  BusWatch bus(dec.h->element);
  gst_harness_set_src_caps_str(dec.h, "image/x-nic,parsed=true,framerate=30/1");
  const GstClockTime pts[] = {0, GST_SECOND / 30, 10 * GST_SECOND};
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(gst_harness_push(dec.h, WrapBytes(frames[i], pts[i], GST_SECOND / 30)), GST_FLOW_OK);
    // Then downstream reports being 1 s late at running time 1 s: frames before ~3 s are late.
    if (i == 0) {
      ASSERT_TRUE(gst_harness_push_upstream_event(
          dec.h, gst_event_new_qos(GST_QOS_TYPE_UNDERFLOW, 0.5, GST_SECOND, GST_SECOND)));
    }
  }
  ExpectOutputTimestamps(dec.h, {0, 10 * GST_SECOND});
  EXPECT_EQ(bus.Count(GST_MESSAGE_QOS), 1);
  EXPECT_EQ(bus.Count(GST_MESSAGE_WARNING), 0);
}

// Live deadline: with a live upstream (the harness answers latency queries as live) a frame that
// arrives more than a frame after its running time, by the pipeline clock, is dropped unless it
// is the first; frames in time are decoded.
TEST(NicDec, DropsFramesBehindALiveSource) {
  std::vector<Bytes> frames =
      Encode({MakePicture(16, 16, 15), MakePicture(16, 16, 16), MakePicture(16, 16, 17)}, 16, 16);
  Harness dec("nicdec");
  gst_harness_use_testclock(dec.h);
  gst_harness_set_src_caps_str(dec.h, "image/x-nic,parsed=true,framerate=30/1");
  ASSERT_TRUE(gst_harness_set_time(dec.h, 5 * GST_SECOND));
  const GstClockTime pts[] = {0, GST_SECOND, 5 * GST_SECOND};
  for (size_t i = 0; i < 3; ++i)
    ASSERT_EQ(gst_harness_push(dec.h, WrapBytes(frames[i], pts[i], GST_SECOND / 30)), GST_FLOW_OK);
  ExpectOutputTimestamps(dec.h, {0, 5 * GST_SECOND});
}

// A frame from other weights (model fingerprint) can never decode: a clear error, not warnings.
TEST(NicDec, ForeignModelIsAnError) {
  Bytes frame = Encode({MakePicture(16, 16, 8)}, 16, 16)[0];
  frame[11] ^= 0xff;  // model fingerprint, then a valid CRC again
  FixCrc(&frame);
  Harness dec("nicdec");
  BusWatch bus(dec.h->element);
  gst_harness_set_src_caps_str(dec.h, "image/x-nic,parsed=true");
  EXPECT_EQ(gst_harness_push(dec.h, WrapBytes(frame, 0)), GST_FLOW_ERROR);
  std::optional<std::string> error = bus.PopError();
  ASSERT_TRUE(error.has_value());
  std::printf("error: %s\n", error->c_str());
}

// The output follows the frame headers when the size changes mid-stream.
TEST(NicDec, RenegotiatesWhenTheSizeChanges) {
  Bytes small = Encode({MakePicture(16, 16, 9)}, 16, 16)[0];
  Bytes wide = Encode({MakePicture(40, 8, 9)}, 40, 8)[0];
  Harness dec("nicdec");
  gst_harness_set_src_caps_str(dec.h, "image/x-nic,parsed=true");
  for (const Bytes* frame : {&small, &wide}) {
    ASSERT_EQ(gst_harness_push(dec.h, WrapBytes(*frame, 0)), GST_FLOW_OK);
    GstBuffer* out = Pull(dec.h);
    ASSERT_NE(out, nullptr);
    GstCaps* caps = dec.SinkCaps();
    GstVideoInfo info;
    ASSERT_TRUE(gst_video_info_from_caps(&info, caps));
    EXPECT_EQ(GST_VIDEO_INFO_WIDTH(&info), frame == &small ? 16 : 40);
    EXPECT_EQ(GST_VIDEO_INFO_HEIGHT(&info), frame == &small ? 16 : 8);
    gst_caps_unref(caps);
    gst_buffer_unref(out);
  }
}

// Garbage, frames, a damaged frame, more garbage, split at odd boundaries.
Bytes DamagedStream(const std::vector<Bytes>& frames) {
  Bytes stream;
  stream.reserve(4096);
  stream.insert(stream.end(), 123, 0x4e);  // 'N' bytes: near-misses of the magic
  auto append = [&stream](const Bytes& b) { stream.insert(stream.end(), b.begin(), b.end()); };
  append(frames[0]);
  append(frames[1]);
  Bytes damaged = frames[2];
  damaged[damaged.size() - 9] ^= 1;
  append(damaged);
  const Bytes lone_magic = {'N', 'I', 'C', 'F', 9, 9, 9};  // a magic without a frame
  append(lone_magic);
  append(frames[3]);
  append(Bytes(frames[0].begin(), frames[0].begin() + 30));  // cut short by the end
  return stream;
}

void PushInChunks(GstHarness* h, const Bytes& stream, size_t chunk) {
  for (size_t pos = 0; pos < stream.size(); pos += chunk) {
    Bytes piece(stream.begin() + pos, stream.begin() + std::min(stream.size(), pos + chunk));
    ASSERT_EQ(gst_harness_push(h, WrapBytes(piece)), GST_FLOW_OK);
  }
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
}

TEST(NicParse, SplitsAndResynchronises) {
  std::vector<Bytes> pictures;
  for (int i = 0; i < 4; ++i) pictures.push_back(MakePicture(24, 16, 10 + i));
  std::vector<Bytes> frames = Encode(pictures, 24, 16);
  Harness parse("nicparse");
  gst_harness_set_src_caps_str(parse.h, "image/x-nic");
  PushInChunks(parse.h, DamagedStream(frames), 7);

  ASSERT_EQ(gst_harness_buffers_received(parse.h), 3u);
  for (int expected : {0, 1, 3}) {
    GstBuffer* out = Pull(parse.h);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(BufferBytes(out), frames[expected]) << "frame " << expected;
    EXPECT_NEAR(FrameQp(out), 24.0, 1e-6);
    gst_buffer_unref(out);
  }
  GstCaps* caps = parse.SinkCaps();
  GstStructure* s = gst_caps_get_structure(caps, 0);
  int width = 0, height = 0, fps_n = 0, fps_d = 0;
  gboolean parsed = FALSE;
  EXPECT_TRUE(gst_structure_get_int(s, "width", &width));
  EXPECT_TRUE(gst_structure_get_int(s, "height", &height));
  EXPECT_TRUE(gst_structure_get_fraction(s, "framerate", &fps_n, &fps_d));
  EXPECT_TRUE(gst_structure_get_boolean(s, "parsed", &parsed));
  EXPECT_EQ(width, 24);
  EXPECT_EQ(height, 16);
  EXPECT_EQ(fps_n, 25);  // none upstream: the default
  EXPECT_EQ(fps_d, 1);
  EXPECT_TRUE(parsed);
  gst_caps_unref(caps);
}

TEST(NicParse, TakesTheUpstreamFramerateAndTimestamps) {
  std::vector<Bytes> frames = Encode({MakePicture(8, 8, 1), MakePicture(8, 8, 2)}, 8, 8);
  Harness parse("nicparse");
  gst_harness_set_src_caps_str(parse.h, "image/x-nic,framerate=10/1");
  // A byte stream, as from filesrc or multifilesrc: timestamps come from the framerate.
  GstSegment bytes;
  gst_segment_init(&bytes, GST_FORMAT_BYTES);
  ASSERT_TRUE(gst_harness_push_event(parse.h, gst_event_new_segment(&bytes)));
  Bytes stream = frames[0];
  stream.insert(stream.end(), frames[1].begin(), frames[1].end());
  PushInChunks(parse.h, stream, 1000);
  ASSERT_EQ(gst_harness_buffers_received(parse.h), 2u);
  for (int i = 0; i < 2; ++i) {
    GstBuffer* out = Pull(parse.h);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(GST_BUFFER_PTS(out), i * GST_SECOND / 10);
    EXPECT_EQ(GST_BUFFER_DURATION(out), GST_SECOND / 10);
    gst_buffer_unref(out);
  }
  GstCaps* caps = parse.SinkCaps();
  int fps_n = 0, fps_d = 0;
  EXPECT_TRUE(
      gst_structure_get_fraction(gst_caps_get_structure(caps, 0), "framerate", &fps_n, &fps_d));
  EXPECT_EQ(fps_n, 10);
  EXPECT_EQ(fps_d, 1);
  gst_caps_unref(caps);
}

// Without parsed=true caps, nicdec splits the byte stream itself.
TEST(NicDec, DecodesAnUnparsedByteStream) {
  std::vector<Bytes> pictures;
  for (int i = 0; i < 4; ++i) pictures.push_back(MakePicture(24, 16, 20 + i));
  std::vector<Bytes> frames = Encode(pictures, 24, 16);
  Harness dec("nicdec");
  gst_harness_set_src_caps_str(dec.h, "image/x-nic");
  PushInChunks(dec.h, DamagedStream(frames), 11);
  EXPECT_EQ(gst_harness_buffers_received(dec.h), 3u);
  NicContextHolder direct;
  for (int expected : {0, 1, 3}) {
    GstBuffer* out = Pull(dec.h);
    ASSERT_NE(out, nullptr);
    GstCaps* caps = dec.SinkCaps();
    EXPECT_EQ(RgbPixels(out, caps), direct.Decode(frames[expected])) << "frame " << expected;
    gst_caps_unref(caps);
    gst_buffer_unref(out);
  }
}

TEST(NicTypeFind, RecognisesTheMagic) {
  Bytes frame = Encode({MakePicture(20, 10, 1)}, 20, 10)[0];
  GstTypeFindProbability probability = GST_TYPE_FIND_NONE;
  GstCaps* caps = gst_type_find_helper_for_data(nullptr, frame.data(), frame.size(), &probability);
  ASSERT_NE(caps, nullptr);
  EXPECT_STREQ(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "image/x-nic");
  EXPECT_EQ(probability, GST_TYPE_FIND_MAXIMUM);
  gst_caps_unref(caps);

  Bytes not_nic(frame.size(), 0x11);
  caps = gst_type_find_helper_for_data(nullptr, not_nic.data(), not_nic.size(), &probability);
  if (caps) {
    EXPECT_STRNE(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "image/x-nic");
    gst_caps_unref(caps);
  }
}

// `model` takes an installed model's name as well as a path (libnic resolves it).
TEST(NicEnc, ModelByName) {
  Harness enc("nicenc model=nic-default");
  gst_harness_set_src_caps_str(enc.h, RawCaps(16, 16).c_str());
  ASSERT_EQ(
      gst_harness_push(enc.h, PictureBuffer(MakePicture(16, 16, 0), 16, 16, 0, GST_SECOND / 30)),
      GST_FLOW_OK);
  GstBuffer* out = Pull(enc.h);
  ASSERT_NE(out, nullptr);
  const Bytes frame = BufferBytes(out);
  gst_buffer_unref(out);
  NicFrameInfo info;
  ASSERT_EQ(nic_peek_frame(frame.data(), frame.size(), &info), NIC_OK);
  const char* shipped = std::getenv("NIC_GST_TRAINED_MODEL");
  ASSERT_NE(shipped, nullptr);
  NicOptions o;
  nic_options_init(&o);
  o.model_path = shipped;
  NicContext* ctx = nullptr;
  ASSERT_EQ(nic_context_create(&o, &ctx), NIC_OK) << nic_last_error();
  char expected[17];
  std::snprintf(expected, sizeof expected, "%016llx", (unsigned long long)info.model_fingerprint);
  EXPECT_STREQ(nic_context_model_fingerprint(ctx), expected);
  nic_context_destroy(ctx);
}

// Start-up failures are element errors with a message naming the cause.
std::string StartError(const char* property, const char* value) {
  GstElement* enc = gst_element_factory_make("nicenc", nullptr);
  EXPECT_NE(enc, nullptr);
  std::string text;
  {
    BusWatch bus(enc);
    g_object_set(enc, property, value, nullptr);
    EXPECT_EQ(gst_element_set_state(enc, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    text = bus.PopError().value_or("");
    gst_element_set_state(enc, GST_STATE_NULL);
  }
  gst_object_unref(enc);
  return text;
}

TEST(NicEnc, MissingModelOrDeviceFailsClearly) {
  std::string model_error = StartError("model", "/nonexistent/model.safetensors");
  EXPECT_NE(model_error.find("/nonexistent/model.safetensors"), std::string::npos) << model_error;
  std::string device_error = StartError("device", "cuda:7");
  EXPECT_NE(device_error.find("cuda"), std::string::npos) << device_error;
  std::string name_error = StartError("model", "nic-none");
  EXPECT_NE(name_error.find("no model named 'nic-none'"), std::string::npos) << name_error;
  std::printf("model: %s\ndevice: %s\n", model_error.c_str(), device_error.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  testing::InitGoogleTest(&argc, argv);
  int result = RUN_ALL_TESTS();
  gst_deinit();  // lets GST_TRACERS=leaks report anything left over
  return result;
}
