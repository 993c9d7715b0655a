#!/usr/bin/env bash
# Continues training the default model in the background: resumes RUN's checkpoint if it has one,
# else starts RUN from the shipped weights (models/nic-default.safetensors, with an lr warmup for
# the fresh Adam state). Logs to RUN/train.log (nic-train's own) and RUN/console.log.
# usage: scripts/train-default.sh [RUN_DIR] [TARGET_STEP] [extra nic-train options...]
#   follow: tail -f RUN_DIR/train.log     stop (checkpoints first): pkill -TERM -f nic-train
#   export: build/train/nic-train --run RUN_DIR --export models/nic-default.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-/work/runs/default}
steps=${2:-200000}
shift $(( $# < 2 ? $# : 2 ))
[ -x build/train/nic-train ] || { [ -d build ] || meson setup build >/dev/null; ninja -C build train/nic-train; }
mkdir -p "$run"
# The recipe of the shipped model (models/README.md): 256x256 crops, batch 2, Adam 1e-4.
nohup build/train/nic-train --run "$run" --init-from models/nic-default.safetensors \
  --steps "$steps" --crop 256 --batch 2 --lr 1e-4 --warmup-steps 500 --log-every 100 "$@" \
  >>"$run/console.log" 2>&1 &
echo "nic-train started (pid $!): tail -f $run/train.log"
