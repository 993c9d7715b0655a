#!/usr/bin/env bash
# Continues training the default model in the background: resumes RUN's checkpoint if it has one,
# else starts RUN from INIT (default: the shipped models/nic-default.safetensors once it is a
# nic-evc-2 model, else ../shared/checkpoints/nic-evc-1-step89923.safetensors) in the nic-evc-2
# architecture with the rate anchors of the model card, with an lr warmup for the fresh
# Adam state. Logs to
# RUN/train.log (nic-train's own) and RUN/console.log.
# usage: [INIT=weights.safetensors] scripts/train-default.sh [RUN_DIR] [TARGET_STEP] [extra nic-train options...]
#   follow: tail -f RUN_DIR/train.log
#   stop this run's trainer only (it checkpoints first): scripts/stop-training.sh RUN_DIR
#   export: build/train/nic-train --run RUN_DIR --export models/nic-default.safetensors --export-float16
#   a candidate to ship, decayed and validated: scripts/decay-copy.sh RUN_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-/work/runs/v2}
steps=${2:-400000}
shift $(( $# < 2 ? $# : 2 ))
shared_init=../shared/checkpoints/nic-evc-1-step89923.safetensors
shipped=models/nic-default.safetensors
if head -c 8192 "$shipped" | grep -aq 'nic-evc-2' || [ ! -f "$shared_init" ]; then
  init=${INIT:-$shipped}
else
  init=${INIT:-$shared_init}
fi
source scripts/default-recipe.sh
build_trainer_if_missing
mkdir -p "$run"
# The trainer runs from a copy in the run folder, so that rebuilding the tree cannot touch it.
cp build/train/nic-train "$run/nic-train"
# The recipe (scripts/default-recipe.sh) in the precision nic-train picks for this CPU, with
# batch 2 and validation every 4000 steps (all 24 photos at 7 qps, twice: about 10 minutes on 2
# cores).
nohup "$run/nic-train" --run "$run" --init-from "$init" "${default_recipe[@]}" \
  --steps "$steps" --batch 2 --warmup-steps 500 --log-every 100 \
  --validate-every 4000 --precision auto "$@" >>"$run/console.log" 2>&1 &
echo "nic-train started (pid $!): tail -f $run/train.log"
