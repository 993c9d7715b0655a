#include "checkpoint.h"

#include <filesystem>

#include "run_start.h"

namespace nic {

void save_checkpoint(const std::string& path, const TrainingState& state) {
  torch::serialize::OutputArchive archive;
  state.model->save(archive);
  if (state.ema) {
    torch::serialize::OutputArchive ema_archive;
    state.ema->save(ema_archive);
    archive.write("ema", ema_archive);
  }
  torch::serialize::OutputArchive opt_archive;
  state.optimizer.save(opt_archive);
  archive.write("optimizer", opt_archive);
  archive.write("step", torch::tensor(state.step));
  archive.write("optimizer_start", torch::tensor(state.optimizer_start));
  const std::string tmp = path + ".tmp";
  archive.save_to(tmp);
  std::filesystem::rename(tmp, path);
}

void load_checkpoint(const std::string& path, TrainingState& state, torch::Device device) {
  torch::serialize::InputArchive archive;
  archive.load_from(path, device);
  state.model->load(archive);
  if (state.ema) {
    // Checkpoints from before the moving average existed start it from the current weights.
    torch::serialize::InputArchive ema_archive;
    if (archive.try_read("ema", ema_archive))
      state.ema->load(ema_archive);
    else
      copy_weights(state.model, state.ema);
  }
  torch::serialize::InputArchive opt_archive;
  archive.read("optimizer", opt_archive);
  state.optimizer.load(opt_archive);
  torch::Tensor step, start;
  archive.read("step", step);
  state.step = step.item<int64_t>();
  // Checkpoints from before the warmup existed: their optimizer state is warm.
  state.optimizer_start =
      archive.try_read("optimizer_start", start) ? start.item<int64_t>() : -(1 << 30);
}

}  // namespace nic
