// The training loop of nic-train: one run folder (config.json, checkpoint.pt, train.log,
// model-stepN.safetensors), resumed where it stopped. Variable rate in one model: each batch item
// draws a rate anchor and weighs distortion with that anchor's lambda.
//
// The pieces, in the order a run goes through them: the configuration (a new run's options, or
// the run folder's own), the start (resume a checkpoint, or copy trained weights in), the step,
// the progress report, checkpoints, and validation by real coding.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "channel_masks.h"
#include "model/config.h"
#include "model/image_codec_model.h"
#include "model/weights.h"
#include "training_data.h"

namespace nic {

struct CodecWeights;
class DataParallel;

struct TrainOptions {
  std::string data = "../shared/data/train";
  std::string valid = "../shared/data/valid";
  std::string run = "runs/default";
  std::string device = "cpu";
  int64_t steps = 20000;
  int batch = 8;  // the whole batch: data-parallel processes share it
  int crop = 128;
  double lr = 1e-4;
  int64_t lr_decay_at = 0;  // step from which lr is divided by 10 (0 = never)
  // Linear lr ramp over the first steps of a fresh Adam state: its first updates are about lr
  // for every parameter whatever the gradient's size, which wrecks an already trained model.
  int64_t warmup_steps = 500;
  // Decay per step of the weights' moving average, which is what gets validated and exported:
  // with batches of 2 the raw weights wander by tenths of a dB from one validation to the next.
  double ema_decay = 0.999;
  int threads = 2;
  // Arithmetic of the float networks' convolutions: "float32", or "bfloat16" under autocast
  // (weights, optimizer, integer scale networks and rate terms stay float32), or "auto" (the
  // constructor picks one for the device).
  std::string precision = "float32";
  double checkpoint_minutes = 5;
  int64_t validate_every = 2000;
  int64_t log_every = 50;
  uint64_t seed = 1;
  std::string init_from;  // weights file to start a new run from (when the run has no checkpoint)
  std::vector<double> anchor_lambdas;  // empty: the default config's, or those of --init-from
  std::string architecture;            // empty: the default config's, or that of --init-from
  double distribution_shape = 0;       // 0: the default config's, or that of --init-from
  bool no_context_scales = false;      // ablation: nic-evc-2 with the hyperprior's scales only
  ModelConfig config;                  // for a new run; a resumed run keeps its own
  // Mask decay (train/channel_masks.h): the run trains masks that cut its model (the teacher,
  // from --init-from) down to the student's widths; it validates and exports the student.
  MaskDecayOptions mask_decay;
  // A new run from init_from with the model's transforms widened to these widths and its latents
  // to this count (zero: as the file's), computing what the file's model computes
  // (train/widening.h).
  std::array<int, 3> widen_to{};
  int widen_latents_to = 0;
  // A new run whose later coding steps mix their means' inputs to this many channels first
  // (ModelConfig::context_mean_mix); from an --init-from model without the mix, its means are
  // factored on a few training crops (train/context_mixing.h). Zero: as the file's.
  int context_mean_mix = 0;
};

class Trainer {
 public:
  // Sets up the run: configuration, model, optimizer; resumes its checkpoint or starts from
  // options.init_from. Throws Error on bad options or files.
  explicit Trainer(const TrainOptions& options);
  ~Trainer();

  // Writes what the run ships (the moving average, else the weights) as a weights file.
  void export_weights(const std::string& path, FloatStorage storage = FloatStorage::kFloat32);
  // Trains until options.steps or a stop request (SIGINT, SIGTERM: checkpoints first).
  // Data-parallel (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; train/data_parallel.h): every
  // process reads the same run folder and trains its share of each batch; only the main process
  // (rank 0) writes the folder (config, checkpoints, log, validation).
  void train();

 private:
  struct Progress;  // per-anchor sums since the last progress line

  ModelConfig configure(const CodecWeights* init);
  void check_mask_decay_options(bool resume);
  void start_from_weights(const CodecWeights& init);
  double learning_rate() const;
  void step_once(double lr, std::mt19937_64& rng, const torch::Tensor& lambdas, Progress& progress);
  void report(Progress& progress, double lr);
  void save_checkpoint();
  void validate();
  void log(const std::string& line);

  TrainOptions options_;
  torch::Device device_;
  std::string config_path_, checkpoint_path_;
  ModelConfig config_;
  ImageCodecModel model_{nullptr};
  ImageCodecModel ema_{nullptr};  // the moving average, when the run keeps one
  ChannelMasks masks_{nullptr};   // mask decay runs only
  // What the run ships: the student in a mask-decay run, else the moving average or weights.
  ImageCodecModel shipped();
  std::unique_ptr<torch::optim::Adam> optimizer_;
  int64_t step_ = 0;
  int64_t optimizer_start_ = 0;
  std::string start_note_;  // how the run started, for its log
  std::unique_ptr<TrainingImages> images_;
  std::unique_ptr<DataParallel> data_parallel_;  // null in a single process
  struct LogFile;
  std::unique_ptr<LogFile> log_;
};

}  // namespace nic
