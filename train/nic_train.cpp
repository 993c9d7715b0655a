// nic-train: trains the nic model on the CPU (or a GPU with a CUDA LibTorch), variable rate in
// one model, with checkpoints that let training continue across sessions.
#include <torch/torch.h>

#if defined(__GLIBC__) && !defined(NIC_TRAIN_WITH_TCMALLOC)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include "common/error.h"
#include "model/device.h"
#include "model/image_codec_model.h"
#include "model/weights.h"
#include "training_data.h"
#include "validation.h"

namespace {

using Clock = std::chrono::steady_clock;

// Set by SIGINT/SIGTERM: the loop checkpoints after the current step and exits.
volatile std::sig_atomic_t stop_requested = 0;
void request_stop(int) { stop_requested = 1; }

struct TrainOptions {
  std::string data = "../shared/data/train";
  std::string valid = "../shared/data/valid";
  std::string run = "runs/default";
  std::string device = "cpu";
  int64_t steps = 20000;
  int batch = 8;
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
  double checkpoint_minutes = 5;
  int64_t validate_every = 2000;
  int64_t log_every = 50;
  uint64_t seed = 1;
  std::string init_from;  // weights file to start a new run from (when the run has no checkpoint)
  std::vector<double> anchor_lambdas;  // empty: the default config's, or those of --init-from
  std::string architecture;            // empty: the default config's, or that of --init-from
  double distribution_shape = 0;       // 0: the default config's, or that of --init-from
  bool no_context_scales = false;      // ablation: nic-evc-2 with the hyperprior's scales only
  nic::ModelConfig config;  // for a new run; a resumed run keeps its own
};

void usage() {
  std::puts(
      "usage: nic-train [options]\n"
      "  --data DIR              training PNGs (default ../shared/data/train)\n"
      "  --valid DIR             validation PNGs (default ../shared/data/valid)\n"
      "  --run DIR               run folder: checkpoint, log, exported weights (default "
      "runs/default)\n"
      "  --steps N               train until step N (default 20000)\n"
      "  --batch N --crop N      batch size and crop side (default 8, 128)\n"
      "  --lr X                  Adam learning rate (default 1e-4)\n"
      "  --lr-decay-at N         divide lr by 10 from step N on (default never)\n"
      "  --warmup-steps N        ramp lr up linearly over the first N steps of a new optimizer\n"
      "                          state (new run or --init-from; default 500)\n"
      "  --ema-decay X           validate and export a moving average of the weights with this\n"
      "                          decay per step (default 0.999; 0 = the raw weights)\n"
      "  --threads N --device D  CPU threads (default 2); cpu, cuda or cuda:N\n"
      "  --checkpoint-minutes X  checkpoint period (default 5)\n"
      "  --validate-every N      real encode/decode of the validation set every N steps (default "
      "2000)\n"
      "  --log-every N           progress line period in steps (default 50)\n"
      "  --widths A,B,C --latent N --hyper N --blocks N   size of a new model\n"
      "  --architecture NAME     nic-evc-2 (default: four coding steps with context scales) or\n"
      "                          nic-evc-1 (two steps, bitstream version 1); with --init-from a\n"
      "                          nic-evc-1 file, nic-evc-2 keeps what the two share\n"
      "  --distribution-shape B  shape of the latents' generalized Gaussian for a new run\n"
      "                          (2 = Gaussian, the default; HPCM uses 1.5)\n"
      "  --no-context-scales     nic-evc-2 whose scales all come from the hyperprior (ablation)\n"
      "  --anchor-lambdas L0,L1,...  rate anchors of a new run, finest first (default\n"
      "                          0.027,0.012,0.005,0.001); with --init-from, anchors whose lambda\n"
      "                          the file has keep their learned step\n"
      "  --init-from WEIGHTS     start a run without checkpoint from a weights file (e.g. the\n"
      "                          shipped model: training continues on another machine)\n"
      "  --export PATH           write the run's current weights as safetensors and exit");
}

std::array<int, 3> parse_widths(const std::string& s) {
  std::array<int, 3> w{};
  if (std::sscanf(s.c_str(), "%d,%d,%d", &w[0], &w[1], &w[2]) != 3)
    throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "--widths needs three numbers, e.g. 64,96,128");
  return w;
}

std::vector<double> parse_lambdas(const std::string& s) {
  std::vector<double> lambdas;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end || !(v > 0) || (!lambdas.empty() && v >= lambdas.back()))
      throw nic::Error(NIC_ERROR_INVALID_ARGUMENT,
                       "--anchor-lambdas needs positive, decreasing numbers, e.g. 0.027,0.012,0.005,0.001");
    lambdas.push_back(v);
  }
  if (lambdas.size() < 2 || lambdas.size() > 16)
    throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "--anchor-lambdas needs 2..16 values");
  return lambdas;
}

// Initial log2 quantization step of each new anchor. An anchor whose lambda the old model also
// has keeps its learned step; any other sits on the straight line
// log2(step) = a + b * log2(lambda) fitted through all the old anchors (learned steps lie close
// to such a line). Adam moves a step by about lr per update, so a poor start would take
// thousands of steps to correct.
torch::Tensor anchor_steps_for(const std::vector<double>& old_lambdas, const torch::Tensor& old_steps,
                               const std::vector<double>& new_lambdas) {
  std::vector<double> xs, ys;
  std::vector<int> kept(new_lambdas.size(), -1);
  for (size_t k = 0; k < new_lambdas.size(); ++k)
    for (size_t j = 0; j < old_lambdas.size(); ++j)
      if (std::abs(new_lambdas[k] / old_lambdas[j] - 1.0) < 1e-9) kept[k] = int(j);
  for (size_t j = 0; j < old_lambdas.size(); ++j) {
    xs.push_back(std::log2(old_lambdas[j]));
    ys.push_back(old_steps[int64_t(j)].item<double>());
  }
  // Least squares over all the old anchors.
  const double n = double(xs.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < xs.size(); ++i) sx += xs[i], sy += ys[i], sxx += xs[i] * xs[i], sxy += xs[i] * ys[i];
  const double b = (n * sxy - sx * sy) / (n * sxx - sx * sx), a = (sy - b * sx) / n;
  std::vector<float> steps(new_lambdas.size());
  for (size_t k = 0; k < new_lambdas.size(); ++k)
    steps[k] = kept[k] >= 0 ? float(ys[size_t(kept[k])]) : float(a + b * std::log2(new_lambdas[k]));
  return torch::tensor(steps);
}

class Log {
 public:
  explicit Log(const std::string& path) : file_(path, std::ios::app) {}
  void line(const std::string& text) {
    std::cout << text << std::endl;
    file_ << text << std::endl;
  }

 private:
  std::ofstream file_;
};

// Copies parameters and buffers by name. Between two models of the same architecture every one
// is copied; the rate anchors' steps only when both have the same number (otherwise the caller
// sets them). From a nic-evc-1 model into a nic-evc-2 one, what both have (transforms,
// hyperprior, first-step means, hyperprior scale network) is copied and the context networks
// keep their initialisation. Returns the names that were not copied.
std::vector<std::string> copy_weights(nic::ImageCodecModel& from, nic::ImageCodecModel& to) {
  torch::NoGradGuard no_grad;
  std::vector<std::string> skipped;
  auto params = from->named_parameters();
  for (auto& p : to->named_parameters()) {
    const torch::Tensor* source = params.find(p.key());
    if (!source || source->sizes() != p.value().sizes()) {
      if (p.key() != "q_anchor_log2") skipped.push_back(p.key());
      continue;
    }
    p.value().copy_(*source);
  }
  auto buffers = from->named_buffers();
  for (auto& b : to->named_buffers()) {
    const torch::Tensor* source = buffers.find(b.key());
    if (source && source->sizes() == b.value().sizes())
      b.value().copy_(*source);
    else
      skipped.push_back(b.key());
  }
  return skipped;
}

// ema = decay * ema + (1 - decay) * model, parameter by parameter (same architecture, so the
// two parameter lists pair up in order).
void update_moving_average(nic::ImageCodecModel& model, nic::ImageCodecModel& ema, double decay) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = model->parameters(), averages = ema->parameters();
  for (size_t i = 0; i < params.size(); ++i) averages[i].mul_(decay).add_(params[i], 1.0 - decay);
}

// ema is null when the run keeps no moving average.
struct Checkpoint {
  static void save(const std::string& path, nic::ImageCodecModel& model, nic::ImageCodecModel& ema,
                   torch::optim::Adam& opt, int64_t step, int64_t optimizer_start) {
    torch::serialize::OutputArchive archive;
    model->save(archive);
    if (ema) {
      torch::serialize::OutputArchive ema_archive;
      ema->save(ema_archive);
      archive.write("ema", ema_archive);
    }
    torch::serialize::OutputArchive opt_archive;
    opt.save(opt_archive);
    archive.write("optimizer", opt_archive);
    archive.write("step", torch::tensor(step));
    archive.write("optimizer_start", torch::tensor(optimizer_start));
    const std::string tmp = path + ".tmp";
    archive.save_to(tmp);
    std::filesystem::rename(tmp, path);
  }
  // Returns the step and sets optimizer_start (the step at which the Adam state was created).
  static int64_t load(const std::string& path, nic::ImageCodecModel& model,
                      nic::ImageCodecModel& ema, torch::optim::Adam& opt, torch::Device device,
                      int64_t& optimizer_start) {
    torch::serialize::InputArchive archive;
    archive.load_from(path, device);
    model->load(archive);
    if (ema) {
      // Checkpoints from before the moving average existed start it from the current weights.
      torch::serialize::InputArchive ema_archive;
      if (archive.try_read("ema", ema_archive)) ema->load(ema_archive);
      else copy_weights(model, ema);
    }
    torch::serialize::InputArchive opt_archive;
    archive.read("optimizer", opt_archive);
    opt.load(opt_archive);
    torch::Tensor step, start;
    archive.read("step", step);
    // Checkpoints from before the warmup existed: their optimizer state is warm.
    optimizer_start = archive.try_read("optimizer_start", start) ? start.item<int64_t>() : -(1 << 30);
    return step.item<int64_t>();
  }
};

std::string format_duration(double seconds) {
  const int64_t s = int64_t(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ldh%02ldm", long(s / 3600), long(s / 60 % 60));
  return buf;
}

// Every step frees and reallocates the same large activation buffers. glibc's malloc hands the
// heap top back to the kernel after a step and faults it in again (zeroed) in the next, which
// took about a third of a step's time on this machine. The build links tcmalloc when it is there
// (2.57 steps/s at 256x256x2 against 1.9 with glibc's defaults); without it, a 1 GiB top pad
// keeps most of the heap mapped (2.25 steps/s).
void keep_freed_heap_mapped() {
#if defined(__GLIBC__) && !defined(NIC_TRAIN_WITH_TCMALLOC)
  mallopt(M_TOP_PAD, 1 << 30);
#endif
}

int run(const TrainOptions& opt, const std::string& export_path) {
  keep_freed_heap_mapped();
  at::set_num_threads(opt.threads);
  const torch::Device device = nic::parse_device(opt.device);
  std::filesystem::create_directories(opt.run);
  const std::string config_path = opt.run + "/config.json";
  const std::string checkpoint_path = opt.run + "/checkpoint.pt";

  // A new run's config: the options applied, checked, written to the run folder.
  auto start_config = [&](nic::ModelConfig& c) {
    if (!opt.anchor_lambdas.empty()) c.anchor_lambdas = opt.anchor_lambdas;
    if (!opt.architecture.empty()) c.architecture = opt.architecture;
    if (opt.distribution_shape > 0) c.latent_distribution_shape = opt.distribution_shape;
    if (opt.no_context_scales) c.context_scales = false;
    c = nic::ModelConfig::from_json(c.to_json());  // throws on a bad architecture or shape
    std::ofstream(config_path) << c.to_json() << "\n";
  };
  nic::ModelConfig config = opt.config;
  const bool resume = std::filesystem::exists(checkpoint_path);
  nic::CodecWeights init;
  if (!resume && !opt.init_from.empty()) {
    init = nic::load_weights(opt.init_from, torch::kCPU);
    config = init.config;
    start_config(config);
  } else if (std::filesystem::exists(config_path)) {
    std::ifstream in(config_path);
    std::stringstream text;
    text << in.rdbuf();
    config = nic::ModelConfig::from_json(text.str());
  } else {
    start_config(config);
  }

  torch::manual_seed(opt.seed);
  nic::ImageCodecModel model(config);
  model->to(device);
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(opt.lr));
  nic::ImageCodecModel ema{nullptr};
  if (opt.ema_decay > 0) {
    ema = nic::ImageCodecModel(config);
    ema->to(device);
    copy_weights(model, ema);
  }
  int64_t step = 0;
  int64_t optimizer_start = 0;
  std::string init_note;
  if (resume) {
    step = Checkpoint::load(checkpoint_path, model, ema, optimizer, device, optimizer_start);
  } else if (init.model) {
    // Same parameter names: copy them over; Adam's moments start afresh.
    const std::vector<std::string> fresh = copy_weights(init.model, model);
    if (!fresh.empty()) {
      std::ostringstream line;
      line << fresh.size() << " tensors are new to " << opt.init_from << " and start initialised:";
      for (const std::string& name : fresh) line << " " << name;
      init_note += line.str() + "\n";
    }
    if (config.anchor_lambdas != init.config.anchor_lambdas) {
      torch::NoGradGuard no_grad;
      model->q_anchor_log2.copy_(anchor_steps_for(
          init.config.anchor_lambdas, init.model->q_anchor_log2.cpu(), config.anchor_lambdas));
      std::ostringstream line;
      line << init_note << "rate anchors differ from " << opt.init_from
           << "'s; their log2 steps start at";
      for (int64_t k = 0; k < model->q_anchor_log2.size(0); ++k)
        line << " " << model->q_anchor_log2[k].item<float>();
      init_note = line.str();
    }
    if (ema) copy_weights(model, ema);
    if (auto it = init.metadata.find("nic.training_steps"); it != init.metadata.end())
      step = std::stoll(it->second);
    optimizer_start = step;
  }
  Log log(opt.run + "/train.log");
  while (!init_note.empty() && init_note.back() == '\n') init_note.pop_back();
  if (!init_note.empty()) log.line(init_note);
  // What is validated and exported: the moving average when the run keeps one.
  nic::ImageCodecModel shipped = ema ? ema : model;
  const std::string shipped_name = ema ? "moving average" : "weights";

  if (!export_path.empty()) {
    nic::save_weights(export_path, shipped, {{"nic.training_steps", std::to_string(step)}});
    log.line("exported step " + std::to_string(step) + " (" + shipped_name + ") to " + export_path);
    return 0;
  }

  log.line("nic-train: " + config.to_json() + " step " + std::to_string(step) + " -> " +
           std::to_string(opt.steps) + ", batch " + std::to_string(opt.batch) + "x" +
           std::to_string(opt.crop) + ", threads " + std::to_string(opt.threads) + ", device " +
           opt.device);
  int64_t params = 0;
  for (const auto& p : model->parameters()) params += p.numel();
  log.line("parameters: " + std::to_string(params));

  nic::TrainingImages images(opt.data, opt.crop);
  log.line("training images: " + std::to_string(images.image_count()) + " from " + opt.data);

  const int anchors = int(config.anchor_lambdas.size());
  torch::Tensor lambdas = torch::tensor(config.anchor_lambdas, torch::kFloat32).to(device);
  std::mt19937_64 rng(opt.seed + uint64_t(step) * 7919);

  // Running sums per anchor since the last progress line.
  std::vector<double> sum_bpp(anchors), sum_mse(anchors), sum_loss(anchors);
  std::vector<int64_t> count(anchors);
  auto window_start = Clock::now();
  auto last_checkpoint = Clock::now();
  int64_t window_steps = 0;

  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  model->train();
  while (step < opt.steps && !stop_requested) {
    double lr = (opt.lr_decay_at > 0 && step >= opt.lr_decay_at) ? opt.lr * 0.1 : opt.lr;
    if (step - optimizer_start < opt.warmup_steps)
      lr *= double(step - optimizer_start + 1) / double(opt.warmup_steps);
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);

    torch::Tensor x = images.sample_batch(opt.batch, rng).to(device);
    torch::Tensor anchor = torch::randint(anchors, {opt.batch}, torch::kInt64).to(device);
    nic::TrainOutput out = model->forward_train(x, anchor);
    const double pixels = double(x.size(2) * x.size(3));
    torch::Tensor mse = (out.x_hat - x).pow(2).mean({1, 2, 3});
    torch::Tensor bpp = (out.y_bits + out.z_bits) / pixels;
    torch::Tensor loss_items = lambdas.index_select(0, anchor) * (255.0 * 255.0) * mse + bpp;
    torch::Tensor loss = loss_items.mean();

    optimizer.zero_grad();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    optimizer.step();
    if (ema) {
      // A shorter average while the optimizer state is young, so that a new run's average does
      // not hold on to its random initialisation.
      const double n = double(step - optimizer_start);
      update_moving_average(model, ema, std::min(opt.ema_decay, (1 + n) / (10 + n)));
    }
    ++step;
    ++window_steps;

    auto a = anchor.cpu();
    auto m = mse.detach().cpu(), b = bpp.detach().cpu(), l = loss_items.detach().cpu();
    for (int i = 0; i < opt.batch; ++i) {
      const int k = int(a[i].item<int64_t>());
      sum_mse[k] += m[i].item<double>();
      sum_bpp[k] += b[i].item<double>();
      sum_loss[k] += l[i].item<double>();
      ++count[k];
    }

    if (step % opt.log_every == 0 || step == opt.steps) {
      const double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double rate = window_steps / secs;
      std::ostringstream line;
      line.setf(std::ios::fixed);
      line.precision(3);
      line << "step " << step << "  " << rate << " steps/s  ETA "
           << format_duration((opt.steps - step) / rate) << "  lr " << std::scientific << lr
           << std::fixed;
      for (int k = 0; k < anchors; ++k) {
        if (!count[k]) continue;
        const double psnr = 10.0 * std::log10(1.0 / (sum_mse[k] / count[k]));
        line << "  | a" << k << " loss " << sum_loss[k] / count[k] << " bpp "
             << sum_bpp[k] / count[k];
        line.precision(2);
        line << " psnr " << psnr;
        line.precision(3);
        sum_mse[k] = sum_bpp[k] = sum_loss[k] = 0;
        count[k] = 0;
      }
      log.line(line.str());
      window_start = Clock::now();
      window_steps = 0;
    }

    const bool checkpoint_due =
        std::chrono::duration<double>(Clock::now() - last_checkpoint).count() >
        opt.checkpoint_minutes * 60;
    const bool validate_due = opt.validate_every > 0 && step % opt.validate_every == 0;
    if (checkpoint_due || validate_due || step == opt.steps || stop_requested) {
      Checkpoint::save(checkpoint_path, model, ema, optimizer, step, optimizer_start);
      last_checkpoint = Clock::now();
    }
    if (validate_due || step == opt.steps) {
      const std::string stem = opt.run + "/model-step" + std::to_string(step);
      auto save_and_validate = [&](nic::ImageCodecModel& weights, const std::string& path,
                                   const std::string& name) {
        nic::save_weights(path, weights, {{"nic.training_steps", std::to_string(step)}});
        log.line(name + " " + nic::validate_weights(path, opt.valid, anchors, opt.threads, opt.device));
      };
      save_and_validate(shipped, stem + ".safetensors", shipped_name);
      // The raw weights too, to see what the average gains.
      if (ema) save_and_validate(model, stem + "-raw.safetensors", "raw weights");
    }
  }
  if (stop_requested) log.line("stopped at step " + std::to_string(step) + ", checkpoint saved");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  TrainOptions opt;
  std::string export_path;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--help" || arg == "-h") {
        usage();
        return 0;
      } else if (arg == "--data") opt.data = value();
      else if (arg == "--valid") opt.valid = value();
      else if (arg == "--run") opt.run = value();
      else if (arg == "--device") opt.device = value();
      else if (arg == "--steps") opt.steps = std::stoll(value());
      else if (arg == "--batch") opt.batch = std::stoi(value());
      else if (arg == "--crop") opt.crop = std::stoi(value());
      else if (arg == "--lr") opt.lr = std::stod(value());
      else if (arg == "--lr-decay-at") opt.lr_decay_at = std::stoll(value());
      else if (arg == "--warmup-steps") opt.warmup_steps = std::stoll(value());
      else if (arg == "--ema-decay") opt.ema_decay = std::stod(value());
      else if (arg == "--threads") opt.threads = std::stoi(value());
      else if (arg == "--checkpoint-minutes") opt.checkpoint_minutes = std::stod(value());
      else if (arg == "--validate-every") opt.validate_every = std::stoll(value());
      else if (arg == "--log-every") opt.log_every = std::stoll(value());
      else if (arg == "--seed") opt.seed = std::stoull(value());
      else if (arg == "--widths") opt.config.widths = parse_widths(value());
      else if (arg == "--latent") opt.config.latent_channels = std::stoi(value());
      else if (arg == "--hyper") opt.config.hyper_channels = std::stoi(value());
      else if (arg == "--blocks") opt.config.blocks_per_stage = std::stoi(value());
      else if (arg == "--anchor-lambdas") opt.anchor_lambdas = parse_lambdas(value());
      else if (arg == "--architecture") opt.architecture = value();
      else if (arg == "--distribution-shape") opt.distribution_shape = std::stod(value());
      else if (arg == "--no-context-scales") opt.no_context_scales = true;
      else if (arg == "--export") export_path = value();
      else if (arg == "--init-from") opt.init_from = value();
      else throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "unknown option " + arg + " (see --help)");
    }
    if (opt.batch < 1 || opt.crop < 64 || opt.crop % 64 || opt.threads < 1)
      throw nic::Error(NIC_ERROR_INVALID_ARGUMENT,
                       "--batch must be >= 1, --crop a multiple of 64, --threads >= 1");
    if (opt.ema_decay < 0 || opt.ema_decay >= 1)
      throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "--ema-decay must be in [0, 1)");
    return run(opt, export_path);
  } catch (const nic::Error& e) {
    std::fprintf(stderr, "nic-train: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nic-train: %s\n", e.what());
    return 1;
  }
}
