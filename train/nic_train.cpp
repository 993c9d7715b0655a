// nic-train: trains the nic model on the CPU (or a GPU with a CUDA LibTorch), variable rate in
// one model, with checkpoints that let training continue across sessions. This file reads the
// command line; the run itself is train/trainer.h.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "toolkit/tool_support.h"
#include "trainer.h"
#include "validation.h"

namespace {

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
      "  --precision P           float32 (default) or bfloat16: the float networks' convolutions\n"
      "                          in bfloat16 (autocast), weights and rate terms in float32; on\n"
      "                          the CPU only with AMX. auto: bfloat16 where it is native (CUDA,\n"
      "                          AMX), float32 elsewhere\n"
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
      "  --mask-decay-to A,B,C   mask decay: train masks that cut the --init-from model (the\n"
      "                          teacher) to these widths; validation and --export give the\n"
      "                          student, to fine-tune in a new run (train/channel_masks.h)\n"
      "  --mask-decay-method M   decay (default: the cut channels fade under a falling envelope)\n"
      "                          or l1 (L1 penalty on the masks, the baseline)\n"
      "  --mask-decay-steps N    decay: steps over which the cut channels fade (default 4000)\n"
      "  --mask-l1 X             l1: weight of mean |mask| in the loss (default 0.02)\n"
      "  --init-from WEIGHTS     start a run without checkpoint from a weights file (e.g. the\n"
      "                          shipped model: training continues on another machine)\n"
      "  --widen-to A,B,C        with --init-from: start from the file's model with wider\n"
      "                          transforms that compute the same (new channels read as zero)\n"
      "  --widen-latents-to N    with --init-from: the same with N latent channels (new latents\n"
      "                          start as quiet copies of old ones; train/widening.h)\n"
      "  --context-mean-mix R    a new run whose later coding steps mix their means' inputs to\n"
      "                          R channels first (cheaper with many latents); with --init-from\n"
      "                          a model without the mix, its means are factored on training\n"
      "                          crops (train/context_mixing.h)\n"
      "  --export PATH           write the run's current weights as safetensors and exit\n"
      "  --export-float16        with --export: store the large float tensors as float16 (half\n"
      "                          the file; what ships; model/weights.h)\n"
      "  --validate WEIGHTS      code the --valid photos with a weights file as a run's\n"
      "                          validation does (same line, same settings), print it and exit");
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
      throw nic::Error(
          NIC_ERROR_INVALID_ARGUMENT,
          "--anchor-lambdas needs positive, decreasing numbers, e.g. 0.027,0.012,0.005,0.001");
    lambdas.push_back(v);
  }
  if (lambdas.size() < 2 || lambdas.size() > 16)
    throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "--anchor-lambdas needs 2..16 values");
  return lambdas;
}

}  // namespace

// Far beyond any run, small enough to be exact in a double.
constexpr int64_t kMaxSteps = int64_t(1) << 40;

int main(int argc, char** argv) {
  nic::TrainOptions opt;
  std::string export_path, validate_path;
  bool export_float16 = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, arg + " needs a value");
        return argv[++i];
      };
      auto number = [&] { return nic::tools::parse_number(arg, value()); };
      auto integer = [&](int64_t lo, int64_t hi) {
        return nic::tools::parse_integer(arg, value(), lo, hi);
      };
      if (arg == "--help" || arg == "-h") {
        usage();
        return 0;
      } else if (arg == "--data")
        opt.data = value();
      else if (arg == "--valid")
        opt.valid = value();
      else if (arg == "--run")
        opt.run = value();
      else if (arg == "--device")
        opt.device = value();
      else if (arg == "--steps")
        opt.steps = integer(0, kMaxSteps);
      else if (arg == "--batch")
        opt.batch = int(integer(1, 4096));
      else if (arg == "--crop")
        opt.crop = int(integer(nic::ModelConfig::kPadMultiple, 8192));
      else if (arg == "--lr")
        opt.lr = number();
      else if (arg == "--lr-decay-at")
        opt.lr_decay_at = integer(0, kMaxSteps);
      else if (arg == "--warmup-steps")
        opt.warmup_steps = integer(0, kMaxSteps);
      else if (arg == "--ema-decay")
        opt.ema_decay = number();
      else if (arg == "--precision")
        opt.precision = value();
      else if (arg == "--threads")
        opt.threads = int(integer(1, 256));
      else if (arg == "--checkpoint-minutes")
        opt.checkpoint_minutes = number();
      else if (arg == "--validate-every")
        opt.validate_every = integer(0, kMaxSteps);
      else if (arg == "--log-every")
        opt.log_every = integer(1, kMaxSteps);
      else if (arg == "--seed")
        opt.seed = uint64_t(integer(0, int64_t(1) << 52));
      else if (arg == "--widths")
        opt.config.widths = parse_widths(value());
      else if (arg == "--latent")
        opt.config.latent_channels = int(integer(1, 4096));
      else if (arg == "--hyper")
        opt.config.hyper_channels = int(integer(1, 4096));
      else if (arg == "--blocks")
        opt.config.blocks_per_stage = int(integer(0, 64));
      else if (arg == "--anchor-lambdas")
        opt.anchor_lambdas = parse_lambdas(value());
      else if (arg == "--architecture")
        opt.architecture = value();
      else if (arg == "--distribution-shape")
        opt.distribution_shape = number();
      else if (arg == "--no-context-scales")
        opt.no_context_scales = true;
      else if (arg == "--export")
        export_path = value();
      else if (arg == "--export-float16")
        export_float16 = true;
      else if (arg == "--validate")
        validate_path = value();
      else if (arg == "--widen-to")
        opt.widen_to = parse_widths(value());
      else if (arg == "--widen-latents-to")
        opt.widen_latents_to = int(integer(1, 4096));
      else if (arg == "--context-mean-mix")
        opt.context_mean_mix = int(integer(1, 4096));
      else if (arg == "--mask-decay-to")
        opt.mask_decay.student_widths = parse_widths(value());
      else if (arg == "--mask-decay-method")
        opt.mask_decay.method = value();
      else if (arg == "--mask-decay-steps")
        opt.mask_decay.decay_steps = integer(1, kMaxSteps);
      else if (arg == "--mask-l1")
        opt.mask_decay.l1_strength = number();
      else if (arg == "--init-from")
        opt.init_from = value();
      else
        throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "unknown option " + arg + " (see --help)");
    }
    constexpr int kCropMultiple = nic::ModelConfig::kPadMultiple;
    if (opt.batch < 1 || opt.crop < kCropMultiple || opt.crop % kCropMultiple || opt.threads < 1)
      throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "--batch must be >= 1, --crop a multiple of " +
                                                       std::to_string(kCropMultiple) +
                                                       ", --threads >= 1");
    if (opt.mask_decay.l1_strength < 0)
      throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "--mask-l1 must be >= 0");
    if (opt.ema_decay < 0 || opt.ema_decay >= 1)
      throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "--ema-decay must be in [0, 1)");
    if (!validate_path.empty()) {
      std::puts(nic::validate_weights(validate_path, opt.valid, opt.threads, opt.device).c_str());
      return 0;
    }
    if (export_float16 && export_path.empty())
      throw nic::Error(NIC_ERROR_INVALID_ARGUMENT, "--export-float16 goes with --export PATH");
    nic::Trainer trainer(opt);
    if (!export_path.empty())
      trainer.export_weights(
          export_path, export_float16 ? nic::FloatStorage::kFloat16 : nic::FloatStorage::kFloat32);
    else
      trainer.train();
    return 0;
  } catch (const nic::Error& e) {
    std::fprintf(stderr, "nic-train: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nic-train: %s\n", e.what());
    return 1;
  }
}
