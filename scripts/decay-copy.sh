#!/usr/bin/env bash
# Makes a candidate for shipping from a stopped training run, as the model card's recipe does: a
# copy of RUN trains DECAY_STEPS more steps with the learning rate divided by 10, then the run's
# undecayed weights, the decayed ones and the shipped model are validated side by side (float16
# exports, as shipped) and the BD-rates between them printed. RUN itself is left as it was, to
# train on at the full rate with scripts/train-default.sh.
# usage: scripts/decay-copy.sh [--lr LR] RUN [DECAY_STEPS] [REFERENCES_RD_CSV]
#   --lr LR: the rate RUN trains at, if not the recipe's (1e-4); the copy trains at LR/10
#   DECAY_STEPS: default 3000 (about 25 minutes on 2 cores)
#   REFERENCES_RD_CSV: the rd.csv of a `bench/rd.sh` run on the same photos, for BD-rates against
#   the reference codecs (`bench/rd.sh --codecs "jpeg webp avif jxl" --out DIR` makes one)
# Writes RUN-decay-N/ (N: RUN's step): undecayed-N.safetensors, decayed-M.safetensors, a
# validate-*.log for each and shipped, and bd.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
run_lr=()
if [ "${1:-}" = --lr ]; then
  [ $# -ge 2 ] && [[ $2 =~ ^[0-9.]+(e-?[0-9]+)?$ ]] || { echo "$0: --lr needs a number" >&2; exit 2; }
  run_lr=(--lr "$2")
  shift 2
fi
[ $# -ge 1 ] && [ -f "$1/checkpoint.pt" ] || {
  echo "usage: $0 [--lr LR] RUN [DECAY_STEPS] [REFERENCES_RD_CSV] (RUN: a run folder with a checkpoint)" >&2
  exit 2
}
run=${1%/}
decay_steps=${2:-3000}
references=${3:-}
[[ $decay_steps =~ ^[1-9][0-9]*$ ]] || { echo "$0: DECAY_STEPS must be a positive number" >&2; exit 2; }
source scripts/default-recipe.sh
if [ -n "$(run_trainer_pids "$run")" ]; then
  echo "$0: a trainer is running on $run; stop it first: scripts/stop-training.sh $run" >&2
  exit 1
fi
build_trainer_if_missing
trainer=build/train/nic-train

# The step the run stopped at is in its export's metadata.
undecayed=$(mktemp --suffix=.safetensors)
trap 'rm -f "$undecayed"' EXIT
"$trainer" --run "$run" --export "$undecayed" --export-float16 >/dev/null
step=$(head -c 65536 "$undecayed" | grep -ao '"nic.training_steps":"[0-9]*"' | grep -o '[0-9]\+' || true)
[ -n "$step" ] || { echo "$0: no step in the export of $run" >&2; exit 1; }
target=$((step + decay_steps))
out=$run-decay-$step
[ ! -e "$out" ] || { echo "$0: $out exists; remove it to decay step $step again" >&2; exit 1; }
mkdir -p "$out"
mv "$undecayed" "$out/undecayed-$step.safetensors"
cp "$run/checkpoint.pt" "$run/config.json" "$out/"
cp "$trainer" "$out/nic-train"

echo "decay-copy: $run step $step -> $target at lr/10 in $out (log: $out/train.log)"
"$out/nic-train" --run "$out" "${default_recipe[@]}" "${run_lr[@]}" --steps "$target" \
  --lr-decay-at "$step" --batch 2 --log-every 100 --validate-every 0 --precision auto \
  >>"$out/console.log" 2>&1
"$trainer" --run "$out" --export "$out/decayed-$target.safetensors" --export-float16 >/dev/null

for weights in models/nic-default.safetensors "$out/undecayed-$step.safetensors" \
  "$out/decayed-$target.safetensors"; do
  name=$(basename "$weights" .safetensors)
  echo "decay-copy: validating $name"
  "$trainer" --validate "$weights" --threads 2 >"$out/validate-$name.log"
done
python3 bench/validation_bd.py ${references:+--references "$references"} \
  "shipped=$out/validate-nic-default.log" "undecayed-$step=$out/validate-undecayed-$step.log" \
  "decayed-$target=$out/validate-decayed-$target.log" | tee "$out/bd.txt"
echo "decay-copy: to ship: cp $out/decayed-$target.safetensors models/nic-default.safetensors"
