#include "trainer.h"

#if defined(__GLIBC__) && !defined(NIC_TRAIN_WITH_TCMALLOC)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "checkpoint.h"
#include "common/error.h"
#include "context_mixing.h"
#include "data_parallel.h"
#include "model/complexity.h"
#include "model/device.h"
#include "model/weights.h"
#include "run_start.h"
#include "validation.h"
#include "widening.h"

namespace nic {

namespace {

// Learning rate of mask-decay masks relative to the weights' (Trainer::step_once).
constexpr double kMaskLrScale = 10;

// Training crops whose means inputs --context-mean-mix measures to factor a trained model's means
// (train/context_mixing.h): 64 half-resolution positions each at a crop of 256, some 12,000 in
// all, several times the inputs' channel count even with 256 latents (1,536 in the last step).
constexpr int kMixCalibrationCrops = 192;

using Clock = std::chrono::steady_clock;

// Set by SIGINT/SIGTERM: the loop checkpoints after the current step and exits.
volatile std::sig_atomic_t stop_requested = 0;
void request_stop(int) { stop_requested = 1; }

// ema = decay * ema + (1 - decay) * model, parameter by parameter (same architecture, so the
// two parameter lists pair up in order).
void update_moving_average(ImageCodecModel& model, ImageCodecModel& ema, double decay) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = model->parameters(), averages = ema->parameters();
  for (size_t i = 0; i < params.size(); ++i) averages[i].mul_(decay).add_(params[i], 1.0 - decay);
}

std::string format_duration(double seconds) {
  const int64_t s = int64_t(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ldh%02ldm", long(s / 3600), long(s / 60 % 60));
  return buf;
}

// Every step frees and reallocates the same large activation buffers. glibc's malloc hands the
// heap top back to the kernel after a step and faults it in again (zeroed) in the next; the
// build links tcmalloc when it is there, and without it a 1 GiB top pad keeps most of the heap
// mapped (the speeds: models/README.md).
void keep_freed_heap_mapped() {
#if defined(__GLIBC__) && !defined(NIC_TRAIN_WITH_TCMALLOC)
  mallopt(M_TOP_PAD, 1 << 30);
#endif
}

// The arithmetic to train the float networks in. "auto" takes bfloat16 where the hardware
// multiplies it natively (a CUDA GPU, a CPU with AMX) and float32 elsewhere. On a CPU without
// AMX, bfloat16 training was slower than float32 and oneDNN corrupted the heap
// (docs/design.md), so an explicit request for it stops here rather than crash hours later.
std::string training_precision(const std::string& requested, const torch::Device& device) {
  const bool native_bfloat16 = device.is_cuda() || cpu_has_amx_bfloat16();
  if (requested == "auto") return native_bfloat16 ? "bfloat16" : "float32";
  require(requested == "float32" || requested == "bfloat16", NIC_ERROR_INVALID_ARGUMENT,
          "--precision " + requested + ": use float32, bfloat16 or auto");
  require(requested == "float32" || native_bfloat16, NIC_ERROR_INVALID_ARGUMENT,
          "--precision bfloat16 on the CPU needs AMX (amx_bf16), which this CPU lacks: use "
          "float32 or auto");
  return requested;
}

}  // namespace

// The run's log: train.log in the run folder, echoed to stdout.
struct Trainer::LogFile {
  explicit LogFile(const std::string& path) : file(path, std::ios::app) {}
  std::ofstream file;
};

struct Trainer::Progress {
  explicit Progress(size_t anchors) : bpp(anchors), mse(anchors), loss(anchors), count(anchors) {}
  std::vector<double> bpp, mse, loss;
  std::vector<int64_t> count;
  Clock::time_point since = Clock::now();
  int64_t steps = 0;
  int64_t skipped = 0;  // steps whose gradient was not finite
};

Trainer::Trainer(const TrainOptions& options)
    : options_(options),
      device_(parse_device(options.device)),
      config_path_(options.run + "/config.json"),
      checkpoint_path_(options.run + "/checkpoint.pt") {
  options_.precision = training_precision(options_.precision, device_);
  keep_freed_heap_mapped();
  at::set_num_threads(options_.threads);
  const int processes = DataParallel::world_size_from_environment();
  require(options_.batch % processes == 0, NIC_ERROR_INVALID_ARGUMENT,
          "--batch " + std::to_string(options_.batch) + " does not split over " +
              std::to_string(processes) + " processes");
  data_parallel_ = DataParallel::from_environment();
  const bool main_process = !data_parallel_ || data_parallel_->is_main();
  if (main_process) std::filesystem::create_directories(options_.run);
  // The main process writes a new run's config first; the others then read the same folder.
  if (data_parallel_ && !main_process) data_parallel_->barrier();
  const bool resume = std::filesystem::exists(checkpoint_path_);
  CodecWeights init;
  if (!resume && !options_.init_from.empty()) init = load_weights(options_.init_from, torch::kCPU);
  config_ = configure(init.model ? &init : nullptr);
  if (data_parallel_ && main_process) data_parallel_->barrier();

  torch::manual_seed(options_.seed);
  model_ = ImageCodecModel(config_);
  model_->to(device_);
  optimizer_ = std::make_unique<torch::optim::Adam>(model_->parameters(),
                                                    torch::optim::AdamOptions(options_.lr));
  check_mask_decay_options(resume);
  if (options_.mask_decay.enabled()) {
    // The masks are part of the model (checkpoints hold them) with their own optimizer group:
    // they move kMaskLrScale times faster than the weights, so that a penalty can move them
    // within a run. A moving average of weights whose masks are being cut means nothing.
    masks_ = ChannelMasks(*model_, student_config_for(config_, options_.mask_decay.student_widths),
                          options_.mask_decay);
    model_->register_module("channel_masks", masks_);
    optimizer_->add_param_group(torch::optim::OptimizerParamGroup(
        masks_->parameters(), std::make_unique<torch::optim::AdamOptions>(options_.lr)));
    options_.ema_decay = 0;
    start_note_ += masks_->summary() + "\n";
  }
  if (options_.ema_decay > 0) {
    ema_ = ImageCodecModel(config_);
    ema_->to(device_);
    copy_weights(model_, ema_);
  }
  if (resume) {
    TrainingState state{model_, ema_, *optimizer_};
    load_checkpoint(checkpoint_path_, state, device_);
    step_ = state.step;
    optimizer_start_ = state.optimizer_start;
  } else if (init.model) {
    start_from_weights(init);
  }
  if (data_parallel_) {
    // Every process starts from the main process's weights (the same seed makes them equal
    // already; this makes sure).
    std::vector<torch::Tensor> state = model_->parameters();
    for (const torch::Tensor& b : model_->buffers()) state.push_back(b);
    if (ema_)
      for (const torch::Tensor& p : ema_->parameters()) state.push_back(p);
    data_parallel_->broadcast_from_main(state);
  }
  if (main_process) log_ = std::make_unique<LogFile>(options_.run + "/train.log");
  while (!start_note_.empty() && start_note_.back() == '\n') start_note_.pop_back();
  if (!start_note_.empty()) log(start_note_);
}

Trainer::~Trainer() = default;

// A new run's config (the options applied, checked, written to the run folder), or the folder's.
ModelConfig Trainer::configure(const CodecWeights* init) {
  ModelConfig c = options_.config;
  if (!init && std::filesystem::exists(config_path_)) {
    std::ifstream in(config_path_);
    std::stringstream text;
    text << in.rdbuf();
    return ModelConfig::from_json(text.str());
  }
  if (init) c = init->config;
  if (options_.widen_to[0] > 0) {
    require(init != nullptr, NIC_ERROR_INVALID_ARGUMENT,
            "--widen-to widens the model of a new run's --init-from WEIGHTS");
    c.widths = options_.widen_to;
  }
  if (options_.widen_latents_to > 0) {
    require(init != nullptr, NIC_ERROR_INVALID_ARGUMENT,
            "--widen-latents-to widens the model of a new run's --init-from WEIGHTS");
    c.latent_channels = options_.widen_latents_to;
  }
  if (options_.context_mean_mix > 0) {
    require(c.context_mean_mix == 0 || c.context_mean_mix == options_.context_mean_mix,
            NIC_ERROR_INVALID_ARGUMENT,
            "--context-mean-mix: the --init-from model mixes its means' inputs to " +
                std::to_string(c.context_mean_mix) + " channels already");
    c.context_mean_mix = options_.context_mean_mix;
  }
  if (!options_.anchor_lambdas.empty()) c.anchor_lambdas = options_.anchor_lambdas;
  if (!options_.architecture.empty()) c.architecture = options_.architecture;
  if (options_.distribution_shape > 0) c.latent_distribution_shape = options_.distribution_shape;
  if (options_.no_context_scales) c.context_scales = false;
  c = ModelConfig::from_json(c.to_json());  // throws on a bad architecture or shape
  if (!data_parallel_ || data_parallel_->is_main())
    std::ofstream(config_path_) << c.to_json() << "\n";
  return c;
}

// Same parameter names: copy them over; Adam's moments start afresh.
void Trainer::start_from_weights(const CodecWeights& init) {
  ImageCodecModel source = init.model;
  if (source->config.widths != config_.widths ||
      source->config.latent_channels != config_.latent_channels) {
    source = widen_model(*source, config_.widths, config_.latent_channels);
    start_note_ += "widened " + options_.init_from + " to widths " + widths_text(config_.widths) +
                   " and " + std::to_string(config_.latent_channels) + " latents\n";
  }
  if (source->config.context_mean_mix != config_.context_mean_mix) {
    // The factorization is measured on crops drawn as training draws them.
    std::mt19937_64 rng(options_.seed);
    const torch::Tensor crops =
        TrainingImages(options_.data, options_.crop).sample_batch(kMixCalibrationCrops, rng);
    const MixedModel mixed = mix_context_inputs(*source, config_.context_mean_mix,
                                                context_input_moments(*source, crops));
    source = mixed.model;
    std::ostringstream line;
    line << "mixed the inputs of the later steps' means to " << config_.context_mean_mix
         << " channels (measured on " << kMixCalibrationCrops
         << " training crops); the factored convolutions keep";
    for (double kept : mixed.kept)
      line << " " << std::fixed << std::setprecision(2) << 100 * kept << "%";
    line << " of their output energy";
    start_note_ += line.str() + "\n";
  }
  const std::vector<std::string> fresh = copy_weights(source, model_);
  if (!fresh.empty()) {
    std::ostringstream line;
    line << fresh.size() << " tensors are new to " << options_.init_from
         << " and start initialised:";
    for (const std::string& name : fresh) line << " " << name;
    start_note_ += line.str() + "\n";
  }
  if (config_.anchor_lambdas != init.config.anchor_lambdas) {
    torch::NoGradGuard no_grad;
    model_->q_anchor_log2.copy_(anchor_steps_for(
        init.config.anchor_lambdas, source->q_anchor_log2.cpu(), config_.anchor_lambdas));
    std::ostringstream line;
    line << start_note_ << "rate anchors differ from " << options_.init_from
         << "'s; their log2 steps start at";
    for (int64_t k = 0; k < model_->q_anchor_log2.size(0); ++k)
      line << " " << model_->q_anchor_log2[k].item<float>();
    start_note_ = line.str();
  }
  if (ema_) copy_weights(model_, ema_);
  if (auto it = init.metadata.find("nic.training_steps"); it != init.metadata.end())
    step_ = std::stoll(it->second);
  optimizer_start_ = step_;
}

// The main process's log: the others train quietly.
void Trainer::log(const std::string& line) {
  if (!log_) return;
  std::cout << line << std::endl;
  log_->file << line << std::endl;
}

// A mask-decay run records its options in the run folder: its checkpoint holds masks that only
// the same options recreate.
void Trainer::check_mask_decay_options(bool resume) {
  const MaskDecayOptions& m = options_.mask_decay;
  std::string wanted;
  if (m.enabled()) {
    wanted =
        "--mask-decay-to " + widths_text(m.student_widths) + " --mask-decay-method " + m.method;
  }
  const std::string path = options_.run + "/mask-decay";
  std::string recorded;
  if (std::ifstream in(path); in) std::getline(in, recorded);
  if (resume)
    require(recorded == wanted, NIC_ERROR_INVALID_ARGUMENT,
            "the run in " + options_.run + " was started " +
                (recorded.empty() ? std::string("without mask decay") : "with " + recorded) +
                ": resume it with the same options");
  else if (!wanted.empty() && (!data_parallel_ || data_parallel_->is_main()))
    std::ofstream(path) << wanted << "\n";
  require(wanted.empty() || resume || !options_.init_from.empty(), NIC_ERROR_INVALID_ARGUMENT,
          "mask decay needs the teacher: --init-from WEIGHTS");
}

ImageCodecModel Trainer::shipped() {
  if (masks_) return masks_->cut();
  return ema_ ? ema_ : model_;
}

void Trainer::export_weights(const std::string& path, FloatStorage storage) {
  ImageCodecModel weights = shipped();
  save_weights(path, weights, {{"nic.training_steps", std::to_string(step_)}}, storage);
  log("exported step " + std::to_string(step_) +
      (storage == FloatStorage::kFloat16 ? " in float16" : "") + " (" +
      (masks_ ? "student"
       : ema_ ? "moving average"
              : "weights") +
      ") to " + path);
}

double Trainer::learning_rate() const {
  double lr =
      (options_.lr_decay_at > 0 && step_ >= options_.lr_decay_at) ? options_.lr * 0.1 : options_.lr;
  if (step_ - optimizer_start_ < options_.warmup_steps)
    lr *= double(step_ - optimizer_start_ + 1) / double(options_.warmup_steps);
  return lr;
}

void Trainer::train() {
  model_->set_training_bfloat16(options_.precision == "bfloat16");
  log("nic-train: " + config_.to_json() + " step " + std::to_string(step_) + " -> " +
      std::to_string(options_.steps) + ", batch " + std::to_string(options_.batch) + "x" +
      std::to_string(options_.crop) + ", threads " + std::to_string(options_.threads) +
      ", device " + options_.device + ", precision " + options_.precision +
      (data_parallel_
           ? ", data-parallel over " + std::to_string(data_parallel_->world_size()) + " processes"
           : ""));
  const int64_t params = count_parameters(*model_);
  std::ostringstream size;
  size.setf(std::ios::fixed);
  size.precision(1);
  // The scaling-law study (bench/scaling.py) reads this line.
  size << "parameters: " << params << ", " << macs_per_pixel(*model_).total() / 1e3
       << " kMAC/px (analysis, synthesis and entropy model)";
  log(size.str());
  images_ = std::make_unique<TrainingImages>(options_.data, options_.crop);
  log("training images: " + std::to_string(images_->image_count()) + " from " + options_.data);

  const torch::Tensor lambdas = torch::tensor(config_.anchor_lambdas, torch::kFloat32).to(device_);
  std::mt19937_64 rng(options_.seed + uint64_t(step_) * 7919);
  Progress progress(config_.anchor_lambdas.size());
  auto last_checkpoint = Clock::now();

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  model_->train();
  const bool main_process = !data_parallel_ || data_parallel_->is_main();
  while (step_ < options_.steps && !stop_requested) {
    const double lr = learning_rate();
    step_once(lr, rng, lambdas, progress);
    // A stop asked of any process stops them all at the same step.
    if (data_parallel_) stop_requested = data_parallel_->any(stop_requested);
    if (step_ % options_.log_every == 0 || step_ == options_.steps) report(progress, lr);

    const bool checkpoint_due =
        std::chrono::duration<double>(Clock::now() - last_checkpoint).count() >
        options_.checkpoint_minutes * 60;
    const bool validate_due = options_.validate_every > 0 && step_ % options_.validate_every == 0;
    if (main_process &&
        (checkpoint_due || validate_due || step_ == options_.steps || stop_requested)) {
      save_checkpoint();
      last_checkpoint = Clock::now();
    }
    if (main_process && (validate_due || step_ == options_.steps)) validate();
  }
  if (stop_requested) log("stopped at step " + std::to_string(step_) + ", checkpoint saved");
}

// One optimizer step on a batch of random crops, each item at a random rate anchor. Every
// data-parallel process draws the whole batch (the same random numbers) and trains its share.
void Trainer::step_once(double lr, std::mt19937_64& rng, const torch::Tensor& lambdas,
                        Progress& progress) {
  auto& groups = optimizer_->param_groups();
  for (size_t g = 0; g < groups.size(); ++g)  // group 1: the masks of a mask-decay run
    static_cast<torch::optim::AdamOptions&>(groups[g].options())
        .lr(g == 0 ? lr : lr * kMaskLrScale);
  const int64_t anchors = lambdas.size(0);
  torch::Tensor x = images_->sample_batch(options_.batch, rng);
  torch::Tensor anchor = torch::randint(anchors, {options_.batch}, torch::kInt64);
  BatchShare share;
  if (data_parallel_) {
    const int64_t per_process = options_.batch / data_parallel_->world_size();
    share = {options_.batch, per_process * data_parallel_->rank()};
    x = x.slice(0, share.offset, share.offset + per_process);
    anchor = anchor.slice(0, share.offset, share.offset + per_process);
  }
  x = x.to(device_);
  anchor = anchor.to(device_);
  if (masks_) masks_->apply();
  TrainOutput out = model_->forward_train(x, anchor, share);
  const double pixels = double(x.size(2) * x.size(3));
  torch::Tensor mse = (out.x_hat - x).pow(2).mean({1, 2, 3});
  torch::Tensor bpp = (out.y_bits + out.z_bits) / pixels;
  torch::Tensor loss_items = lambdas.index_select(0, anchor) * (255.0 * 255.0) * mse + bpp;
  torch::Tensor loss = loss_items.mean();
  if (masks_) loss = loss + masks_->penalty();

  optimizer_->zero_grad();
  loss.backward();
  if (data_parallel_) data_parallel_->average_gradients(model_->parameters());
  // A gradient that is not finite anywhere (a NaN, an overflow) skips the update: one such step
  // would turn every weight into NaN and end the run. Data-parallel processes average first, so
  // they all skip the same steps.
  const double norm = torch::nn::utils::clip_grad_norm_(model_->parameters(), 1.0);
  if (std::isfinite(norm))
    optimizer_->step();
  else
    ++progress.skipped;
  if (masks_) masks_->decay(step_ + 1 - optimizer_start_);
  if (ema_) {
    // A shorter average while the optimizer state is young, so that a new run's average does
    // not hold on to its random initialisation.
    const double n = double(step_ - optimizer_start_);
    update_moving_average(model_, ema_, std::min(options_.ema_decay, (1 + n) / (10 + n)));
  }
  ++step_;
  ++progress.steps;

  auto a = anchor.cpu();
  auto m = mse.detach().cpu(), b = bpp.detach().cpu(), l = loss_items.detach().cpu();
  for (int64_t i = 0; i < a.size(0); ++i) {
    if (!std::isfinite(l[i].item<double>())) continue;
    const size_t k = size_t(a[i].item<int64_t>());
    progress.mse[k] += m[i].item<double>();
    progress.bpp[k] += b[i].item<double>();
    progress.loss[k] += l[i].item<double>();
    ++progress.count[k];
  }
}

// One progress line: speed, ETA, lr, and per anchor the mean loss, bpp and PSNR since the last.
void Trainer::report(Progress& p, double lr) {
  const double secs = std::chrono::duration<double>(Clock::now() - p.since).count();
  const double rate = double(p.steps) / secs;
  std::ostringstream line;
  line.setf(std::ios::fixed);
  line.precision(3);
  line << "step " << step_ << "  " << rate << " steps/s  ETA "
       << format_duration(double(options_.steps - step_) / rate) << "  lr " << std::scientific << lr
       << std::fixed;
  for (size_t k = 0; k < p.count.size(); ++k) {
    if (!p.count[k]) continue;
    const double psnr = 10.0 * std::log10(1.0 / (p.mse[k] / double(p.count[k])));
    line << "  | a" << k << " loss " << p.loss[k] / double(p.count[k]) << " bpp "
         << p.bpp[k] / double(p.count[k]);
    line.precision(2);
    line << " psnr " << psnr;
    line.precision(3);
    p.mse[k] = p.bpp[k] = p.loss[k] = 0;
    p.count[k] = 0;
  }
  if (p.skipped) line << "  | skipped " << p.skipped << " steps (gradient not finite)";
  p.skipped = 0;
  if (masks_) {
    line.precision(4);
    const ChannelMasksImpl::MaskStatistics stats = masks_->statistics();
    line << "  | largest cut mask " << stats.largest_removed << ", cut mean " << stats.mean_removed
         << ", kept mean " << stats.mean_kept;
  }
  log(line.str());
  p.since = Clock::now();
  p.steps = 0;
}

void Trainer::save_checkpoint() {
  nic::save_checkpoint(checkpoint_path_,
                       TrainingState{model_, ema_, *optimizer_, step_, optimizer_start_});
}

// Exports the shipped weights (and the raw ones, to see what the average gains) and codes the
// validation photos with each.
void Trainer::validate() {
  const std::string stem = options_.run + "/model-step" + std::to_string(step_);
  auto save_and_validate = [&](ImageCodecModel& weights, const std::string& path,
                               const std::string& name) {
    save_weights(path, weights, {{"nic.training_steps", std::to_string(step_)}});
    log(name + " " + validate_weights(path, options_.valid, options_.threads, options_.device));
  };
  if (masks_) {
    ImageCodecModel student = masks_->cut();
    save_and_validate(student, stem + "-student.safetensors", "student");
  } else if (ema_) {
    save_and_validate(ema_, stem + ".safetensors", "moving average");
    save_and_validate(model_, stem + "-raw.safetensors", "raw weights");
  } else {
    save_and_validate(model_, stem + ".safetensors", "weights");
  }
}

}  // namespace nic
