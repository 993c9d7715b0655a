/* nic: neural image codec. The stable C API of libnic.
 *
 * Every function returns a NicStatus; on failure nic_last_error() gives a message for the
 * calling thread. Handles are opaque. Pixels are 8-bit RGB, interleaved (R,G,B per pixel),
 * rows `stride` bytes apart. qp runs from NIC_QP_MIN (best quality, most bits) to NIC_QP_MAX
 * (fewest bits), fractional values allowed.
 */
#ifndef NIC_NIC_H
#define NIC_NIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NIC_QP_MIN 0.0f
#define NIC_QP_MAX 63.0f
#define NIC_QP_DEFAULT 24.0f /* what every interface uses when no qp or bitrate is given */

/* Encoder effort: 1 codes each frame from one pass of the analysis transform (real time); each
 * step up refines the frame's latents with twice as many gradient steps on its own
 * rate-distortion loss (fewer bits for the same quality, the decoder unchanged). The frames of
 * every effort decode with every decoder. */
#define NIC_EFFORT_MIN 1
#define NIC_EFFORT_MAX 9
#define NIC_EFFORT_DEFAULT 1
/* Largest accepted frame side and pixel count (bounds allocation on corrupt input). */
#define NIC_MAX_DIMENSION 16384u
#define NIC_MAX_PIXELS (16384u * 16384u)

typedef enum NicStatus {
  NIC_OK = 0,
  NIC_ERROR_INVALID_ARGUMENT = 1, /* a parameter is out of range or NULL */
  NIC_ERROR_IO = 2,               /* a file could not be read or written */
  NIC_ERROR_MODEL = 3,            /* the weights file is missing, unreadable or malformed */
  NIC_ERROR_DEVICE = 4,           /* the requested device (e.g. CUDA) is not available */
  NIC_ERROR_TRUNCATED = 5,        /* the stream ends before the frame does */
  NIC_ERROR_CORRUPT = 6,          /* the stream is damaged (bad magic, CRC, lengths, symbols) */
  NIC_ERROR_MODEL_MISMATCH = 7,   /* the frame was encoded with another model */
  NIC_ERROR_UNSUPPORTED = 8,      /* a valid stream feature this build does not support */
  NIC_ERROR_OUT_OF_MEMORY = 9,
  NIC_ERROR_INTERNAL = 10,
  NIC_ERROR_LIMIT = 11 /* the frame is larger than the context's max_pixels */
} NicStatus;

/* A short name for a status ("corrupt stream", ...). Never NULL. */
const char* nic_status_string(NicStatus status);

/* The message of the last failure on this thread ("" if none). Valid until the next call. */
const char* nic_last_error(void);

/* Library version string, e.g. "0.1.0". */
const char* nic_version(void);

/* ---- Codec context: a loaded model on a device ---- */

typedef struct NicContext NicContext;

typedef struct NicOptions {
  const char* model_path; /* a weights file or an installed model's name; NULL or "": default */
  const char* device;     /* NULL or "cpu", "cuda", "cuda:N" */
  int threads;            /* CPU threads for this context's calls; 0 = one per core. Frames of
                             up to 128x128 pixels run on one thread, where a team costs more
                             than it gains. Set per call on the calling thread: LibTorch's
                             process-wide count and other contexts are left as they are */
  int effort;             /* encoder effort, NIC_EFFORT_MIN .. NIC_EFFORT_MAX */
  uint64_t max_pixels;    /* largest frame (width * height) the context encodes or decodes; 0 =
                             NIC_MAX_PIXELS. A larger frame fails with NIC_ERROR_LIMIT before any
                             of its memory is allocated (a host's bound on what a stream from a
                             stranger may cost, as dav1d's frame_size_limit) */
  int memory_pool;        /* 1: keep freed CPU tensor memory for reuse between frames, so that
                             each frame does not fault its activations in afresh (on glibc
                             malloc about twice the frame rate at 1080p, for about 1.3 GB more
                             memory; tcmalloc hosts gain nothing). LibTorch has one CPU
                             allocator per process: while any context with the pool is open, it
                             is nic's pool, and when the last one closes LibTorch's default is
                             back. Open and close such contexts while no other thread runs
                             LibTorch CPU work (LibTorch swaps its allocator without a lock). A
                             host that installed its own CPU allocator keeps it. 0 (the
                             default): LibTorch's allocator is left alone */
  uint64_t tile_pixels;   /* the transforms run over a larger frame in tiles of at most this many
                             pixels (whole 64x64 blocks, so at least 4096), so that
                             peak memory follows the tile, not the frame; the stream is the same
                             either way. Frames coded in tiles are coded at effort 1. 0 = the
                             default, 2^21 (1920x1088 runs whole, 3840x2160 in four tiles) */
  const char* precision;  /* arithmetic of the float networks (transforms, means): NULL or "auto"
                             = float16 on a GPU; on the CPU bfloat16 where it has AMX (several
                             times faster there), else float32; "float32", "float16",
                             "bfloat16". Parsing never depends on it: the scale networks are
                             integer-exact, and a frame decodes on any device and precision */
} NicOptions;

/* Fills *options with the defaults. */
void nic_options_init(NicOptions* options);

/* Path of the default model this library looks for (environment NIC_MODEL, a path or a model
   name, overrides it). */
const char* nic_default_model_path(void);

/* Installed models: the weights files in the folder the default model is installed in (and, for a
   build used in place, the source tree's models/), each named by its file name without
   ".safetensors" ("nic-default"); NicOptions.model_path takes a name or a path.
   nic_model_count() looks the folders up afresh and returns how many there are; nic_model_name(i)
   and nic_model_path(i) give each one's name and path (NULL when i is out of range), valid until
   the next nic_model_count() call on the same thread. */
size_t nic_model_count(void);
const char* nic_model_name(size_t index);
const char* nic_model_path(size_t index);

/* The model that encoded frames with this fingerprint (NicFrameInfo.model_fingerprint): the path
   of the installed model, or of the default model (NIC_MODEL may name a file that is not
   installed), whose file has it; NULL when none has. Decoders that were given no model use it to
   pick the model a stream needs. Reads every candidate file once per process (about 30 ms per
   25 MB); the path is valid until the next call on the same thread. */
const char* nic_find_model(uint64_t model_fingerprint);

NicStatus nic_context_create(const NicOptions* options, NicContext** out_context);
void nic_context_destroy(NicContext* context);

/* 16 hex digits identifying the loaded weights; frames record it. */
const char* nic_context_model_fingerprint(const NicContext* context);

/* Size and arithmetic of the loaded model: what a choice between models of the family trades
   (README, models/README.md). kMAC/px: thousands of multiply-accumulates per pixel of the frame. */
typedef struct NicModelComplexity {
  double encoder_kmacs_per_pixel; /* analysis transform and entropy model */
  double decoder_kmacs_per_pixel; /* synthesis transform and entropy model */
  uint64_t parameters;            /* float parameters of the networks */
} NicModelComplexity;
NicStatus nic_context_model_complexity(const NicContext* context, NicModelComplexity* out);

/* ---- Frames ---- */

typedef struct NicFrameInfo {
  uint32_t width;
  uint32_t height;
  float qp;                   /* the frame's quantization parameter */
  uint64_t model_fingerprint; /* of the model that encoded it */
  size_t frame_size;          /* bytes of the whole frame unit, header and CRC included */
  uint32_t version;           /* bitstream version */
} NicFrameInfo;

/* A byte buffer allocated by libnic; release with nic_buffer_free. */
typedef struct NicBuffer {
  uint8_t* data;
  size_t size;
} NicBuffer;

void nic_buffer_free(NicBuffer* buffer);

/* Encodes one RGB frame at quantization parameter qp into *out (a complete frame unit). */
NicStatus nic_encode_rgb(NicContext* context, const uint8_t* rgb, uint32_t width, uint32_t height,
                         size_t stride, float qp, NicBuffer* out);

/* Reads the header of the frame at the start of data (no model needed). Checks the header's
 * consistency; the payload CRC is checked by nic_decode_rgb. */
NicStatus nic_peek_frame(const uint8_t* data, size_t size, NicFrameInfo* info);

/* Where the next frame of a byte stream is (nic_scan_frame). */
typedef struct NicFrameScan {
  size_t skip;       /* bytes at the start of data that belong to no frame: drop them */
  size_t frame_size; /* > 0: a complete frame at data + skip (header valid, CRC correct);
                        0: none yet: keep the bytes from skip on and append more */
  NicFrameInfo info; /* the frame's header, when frame_size > 0 */
} NicFrameScan;

/* Resynchronisation for stream readers (parsers, files with damage): finds the first complete
 * frame in data whose header is valid and whose CRC is correct, skipping damaged frames and
 * junk. Needs no model. Damaged input is not an error: it is skipped. Returns
 * NIC_ERROR_INVALID_ARGUMENT only when data (with size > 0) or scan is NULL. */
NicStatus nic_scan_frame(const uint8_t* data, size_t size, NicFrameScan* scan);

/* Decodes the frame at the start of data into rgb (width*height pixels as given by
 * nic_peek_frame, rows stride bytes apart). capacity is the size of the rgb buffer in bytes.
 * info may be NULL. */
NicStatus nic_decode_rgb(NicContext* context, const uint8_t* data, size_t size, uint8_t* rgb,
                         size_t stride, size_t capacity, NicFrameInfo* info);

/* ---- Analysis: one frame coded at several qps ----
 * The analysis transform is most of an encode's time and does not depend on qp. An analysis
 * keeps its result, so that the frame can be coded again at other qps or under a rate controller
 * for the cost of quantization and entropy coding alone: two-pass encoding, RD sweeps, rate-control
 * experiments. The frames are byte for byte those of nic_encode_rgb. An analysis belongs to the
 * context that made it and holds about 10 bytes per pixel with the default model (21 MB at
 * 1920x1080), plus 12 bytes per pixel (the image) when the context's effort is above 1: each
 * nic_encode_analysis then refines the latents for its qp. */

typedef struct NicFrameAnalysis NicFrameAnalysis;

NicStatus nic_analyze_rgb(NicContext* context, const uint8_t* rgb, uint32_t width, uint32_t height,
                          size_t stride, NicFrameAnalysis** out_analysis);
void nic_frame_analysis_destroy(NicFrameAnalysis* analysis);

/* Codes the analysed frame at quantization parameter qp into *out. */
NicStatus nic_encode_analysis(NicContext* context, const NicFrameAnalysis* analysis, float qp,
                              NicBuffer* out);

/* ---- Rate control ---- */

/* Encodes at the qp (searched with the entropy model's exact bit estimate) whose frame is the
 * largest not exceeding target_bytes; if even qp 63 exceeds it, the qp 63 frame is returned.
 * Above effort 1 the search runs on the single-pass latents and the chosen qp is refined (raised
 * if the refined frame overflows).
 * *qp_used (may be NULL) receives the chosen qp. */
NicStatus nic_encode_rgb_target_size(NicContext* context, const uint8_t* rgb, uint32_t width,
                                     uint32_t height, size_t stride, size_t target_bytes,
                                     NicBuffer* out, float* qp_used);

typedef enum NicRateControlMode {
  NIC_RATE_CONSTANT_QP = 0, /* every frame at config.qp */
  NIC_RATE_CBR = 1,         /* every frame within its budget plus the buffer */
  NIC_RATE_ABR = 2          /* average bitrate over a window of frames; frames vary more (VBR) */
} NicRateControlMode;

typedef struct NicRateControlConfig {
  NicRateControlMode mode;
  float qp;              /* constant-qp mode */
  double bitrate;        /* bits per second (CBR, ABR) */
  double framerate;      /* frames per second (CBR, ABR) */
  double buffer_seconds; /* CBR buffer: a frame may borrow up to bitrate * buffer_seconds bits */
  int window_frames;     /* ABR: frames over which the average is held */
  float min_qp, max_qp;  /* qp range the controller may use */
  double max_bitrate;    /* ABR: peak rate in bits per second (0 = none). A leaky bucket that
                            drains at max_bitrate and holds max_bitrate * buffer_seconds bits
                            caps every frame, as a VBV does; must be >= bitrate. CBR ignores it:
                            its bucket drains at bitrate. */
} NicRateControlConfig;

typedef struct NicRateController NicRateController;

/* Fills *config with defaults: constant qp 24, 1 s buffer, 30-frame window, qp range 0..63,
 * no peak rate. */
void nic_rate_control_config_init(NicRateControlConfig* config);
NicStatus nic_rate_controller_create(const NicRateControlConfig* config,
                                     NicRateController** out_controller);
/* Changes mode, bitrate or qp mid-stream (applied from the next frame); the buffer state stays. */
NicStatus nic_rate_controller_reconfigure(NicRateController* controller,
                                          const NicRateControlConfig* config);
void nic_rate_controller_destroy(NicRateController* controller);

/* Counts a frame of the stream that was coded outside the controller (e.g. at a qp forced by the
 * application with nic_encode_rgb), so that the buffer and the average stay right. */
NicStatus nic_rate_controller_frame_coded(NicRateController* controller, size_t bytes);

/* Encodes the next frame of a stream under the controller; *qp_used (may be NULL) gets its qp. */
NicStatus nic_encode_rgb_controlled(NicContext* context, NicRateController* controller,
                                    const uint8_t* rgb, uint32_t width, uint32_t height,
                                    size_t stride, NicBuffer* out, float* qp_used);

/* The same for an analysed frame (see NicFrameAnalysis). */
NicStatus nic_encode_analysis_controlled(NicContext* context, NicRateController* controller,
                                         const NicFrameAnalysis* analysis, NicBuffer* out,
                                         float* qp_used);

/* ---- Pipelined stream encoding ----
 * A stream encoder codes a stream's frames in order, in two stages that can overlap: the
 * analysis networks (most of a frame's work) and the coding (qp choice, quantization, entropy
 * coding). With a delay of one frame, frame N+1's networks run on the encoder's worker thread (on
 * a GPU, on a CUDA stream of their own) while frame N is coded on the calling thread, so that the
 * stream's throughput is set by the slower stage rather than by their sum; each call then returns
 * the frame sent one call before, and calls without a frame drain the pipeline. The frames are
 * byte for byte those of nic_encode_rgb and nic_encode_rgb_controlled at any delay. */

typedef struct NicStreamEncoder NicStreamEncoder;

/* One frame on a GPU; none on the CPU, where both stages share the same cores and the pipeline
 * was slower (1920x1080 on 2 cores: 0.48 against 0.58 frames/s, docs/design.md). */
#define NIC_STREAM_DELAY_AUTO (-1)

typedef struct NicStreamFrame {
  const uint8_t* rgb; /* 8-bit RGB, copied before the call returns */
  uint32_t width, height;
  size_t stride;
  float qp;          /* >= 0: coded at this qp (a controller counts the frame, as with
                        nic_rate_controller_frame_coded); < 0: the rate controller's choice */
  int64_t user_data; /* handed back with the coded frame (a timestamp, an index) */
} NicStreamFrame;

typedef struct NicCodedFrame {
  float qp;          /* the qp the frame was coded at */
  int64_t user_data; /* the frame's NicStreamFrame.user_data */
} NicCodedFrame;

/* controller may be NULL (every frame then gives its qp). The context and the controller must
 * outlive the encoder, and while it lives the context codes for it alone: no other encode or
 * decode calls on it. delay: 0, 1 or NIC_STREAM_DELAY_AUTO. */
NicStatus nic_stream_encoder_create(NicContext* context, NicRateController* controller, int delay,
                                    NicStreamEncoder** out_encoder);
/* Frames still in the pipeline are dropped: drain it first to have them. */
void nic_stream_encoder_destroy(NicStreamEncoder* encoder);
/* The delay the encoder runs with: 0 or 1 frames. */
int nic_stream_encoder_delay(const NicStreamEncoder* encoder);

/* Sends the next frame (NULL: none, drain) and receives the oldest frame not yet received, coded,
 * into *out and *coded (may be NULL); out->size is 0 when there is none yet (the pipeline
 * fills) or none left (drained). An invalid frame fails before anything changes. When an
 * earlier frame failed on its way through the pipeline, the call that would have returned it
 * fails with its status: that frame is lost, and the frame sent with the call is taken. */
NicStatus nic_stream_encoder_encode(NicStreamEncoder* encoder, const NicStreamFrame* frame,
                                    NicBuffer* out, NicCodedFrame* coded);

#ifdef __cplusplus
}
#endif

#endif /* NIC_NIC_H */
