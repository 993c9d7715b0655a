# The default model's training recipe (models/README.md), sourced by scripts/train-default.sh
# (the CPU, in the background), scripts/decay-copy.sh (the final decay) and scripts/gpu-check.sh
# train (a borrowed GPU): the architecture, the eight rate anchors, the crop and the learning
# rate. Each adds its own batch, warmup, logging and precision (the CPU scripts: nic-train's
# --precision auto, bfloat16 with AMX and float32 without). The CPU scripts (and
# scripts/stop-training.sh) also share the helpers below.
# shellcheck shell=bash
# The scripts that source this file use default_recipe; its commas separate rate anchors.
# shellcheck disable=SC2034,SC2054
default_recipe=(--architecture nic-evc-2 --anchor-lambdas 0.3,0.13,0.06,0.027,0.012,0.005,0.0021,0.0009
  --crop 256 --lr 1e-4)

# Builds the trainer if this tree has none yet (a fresh clone runs the training scripts first).
build_trainer_if_missing() {
  [ -x build/train/nic-train ] && return
  [ -d build ] || meson setup build >/dev/null
  ninja -C build train/nic-train
}

# The pids of the trainers running from RUN/nic-train (the copy scripts/train-default.sh starts),
# matched by executable, so that RUN may be any path to the folder.
run_trainer_pids() {
  local exe pid
  exe=$(realpath -e "$1/nic-train" 2>/dev/null) || return 0
  for pid in $(pgrep -x nic-train); do
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then echo "$pid"; fi
  done
}
