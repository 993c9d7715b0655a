#!/usr/bin/env bash
# The GPU check: one prepared run on a borrowed GPU machine (DEVELOPERS.md, the device tool).
#
#   scripts/gpu-check.sh prepare
#       Here: builds the tree and gathers into .gpu-check/ (ignored by git) what the GPU machine
#       lacks: the nic CLI, libnic, the patched ffmpeg, the GPU test program, the few libraries
#       they need beyond LibTorch and the C runtime, and a validation photo.
#   scripts/gpu-check.sh run
#       There (device tool: command "bash scripts/gpu-check.sh run", carry [".gpu-check"]): uses
#       the LibTorch of that machine's PyTorch (the same 2.11 that install-deps.sh pins), runs the
#       GPU tests (frames crossing between CPU and GPU, refined frames), the C API's steady-state
#       1920x1080 frames/s with and without the stream encoder's pipeline (bench/stream_fps.cpp)
#       and the ffmpeg speed bench, on the GPU and on the CPU, and prints one table, also written
#       to $OUT/gpu-check.txt.
#       Without a GPU (here, say) the tests fail rather than skip: NIC_EXPECT_GPU=1.
#   scripts/gpu-check.sh train SECONDS [PERCENT [NIC-TRAIN OPTIONS...]]
#       There, with the device time left after `run`: nic-train --device cuda from the shipped
#       weights with the default recipe (scripts/default-recipe.sh), batch 16, on the training
#       photos gathered by `prepare` (a fixed subset that fits the carry), plus any further
#       options (e.g. --widen-latents-to 256 for an equal-time comparison with a default run).
#       PERCENT of SECONDS (default 67) at the recipe's learning rate, then the rest at a tenth
#       of it (the decay that ends a training). The final moving average (float16, as
#       shipped) goes to $OUT in 15 MB parts, nic-gpu.safetensors.part-*, and the one before the
#       decay, nic-gpu-lr1.safetensors.part-*, where both fit the device tool's 64 MiB. Here:
#       cat nic-gpu.safetensors.part-* > W.safetensors, then nic-train --validate W.
#   scripts/gpu-check.sh ablation SECONDS [PERCENT]
#       There: issue 14's ablation at equal time. One run per arm (ablation_arms below: the
#       recipe unchanged, and one change each: context scales off, the Gaussian or the
#       generalized Gaussian of shape 1.5, the seven rate anchors without the top one, 256 latents,
#       wider transforms), all from the shipped weights, side by side on the one GPU for SECONDS
#       like `train`. Then each run is validated on the 12 carried validation photos (every
#       other one of the 24) and $OUT/ablation.txt gets each arm's last speed and the BD-rates
#       against the unchanged run (bench/validation_bd.py); the arm whose shape the shipped
#       model has repeats the unchanged run, which shows the noise. Weights of the best arms
#       come back as ablation-ARM.safetensors.part-* where they fit.
#
# NIC_GPU_CHECK_REHEARSAL=1 runs them here, on the CPU, small (the test
# gpu-check-rehearsal): a 1 MB training set, one validation photo, only the CPU, 2 frames at
# 128x64, the GPU tests allowed to skip, batch 2, two ablation arms. NIC_GPU_CHECK_SUBSET (default nic) seeds the choice of training
# photos, so that another session can carry another subset. NIC_GPU_CHECK_CARRY (default
# .gpu-check) and NIC_BUILD_DIR (default build) move the carried folder and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
carry="$(realpath -m "${NIC_GPU_CHECK_CARRY:-.gpu-check}")"
build="${NIC_BUILD_DIR:-build}"
rehearsal="${NIC_GPU_CHECK_REHEARSAL:-0}"
photo_name=wiki_043.png
carry_limit=$((64 << 20))  # the device tool's limit on the working tree and the carried folder

# Bytes the device tool sends besides the carried folder: tracked and untracked, unignored files.
tree_bytes() {
  { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -r stat -c %s 2>/dev/null \
    | awk '{ n += $1 } END { print n + 0 }'
}

# pack_photo PNG DIR: the photo into DIR, as lossless WebP where cwebp is here; prints its bytes.
pack_photo() {
  local name out
  name="$(basename "$1" .png)"
  if command -v cwebp >/dev/null; then
    out="$2/$name.webp"
    cwebp -quiet -lossless -z 6 -mt "$1" -o "$out"
  else
    out="$2/$name.png"
    cp "$1" "$out"
  fi
  stat -c %s "$out"
}

prepare() {
  local data="${NIC_DATA_DIR:-../shared/data}"
  [ -f "$data/valid/$photo_name" ] || { echo "no $data/valid/$photo_name (NIC_DATA_DIR)" >&2; exit 1; }
  [ -d "$build" ] || meson setup "$build" >/dev/null
  ninja -C "$build" >/dev/null
  rm -rf "$carry"
  mkdir -p "$carry/bin" "$carry/lib" "$carry/data"
  cp "$build"/tools/nic "$build"/tests/gpu-tests "$build"/ffmpeg-codec/prefix/bin/ffmpeg \
    "$build"/train/nic-train "$build"/bench/nic-stream-fps "$carry/bin/"
  cp -L "$build"/core/libnic.so.0 "$carry/lib/"
  # The libraries outside LibTorch and the C/C++ runtime, which the GPU machine's image may lack.
  ldd "$carry"/bin/* "$carry"/lib/* | awk '/=> \// { print $3 }' | sort -u \
    | grep -vE '/opt/nic/libtorch|/libnic\.so|/lib(c|m|dl|rt|pthread|util|gcc_s|stdc\+\+|z)\.so' \
    | while read -r lib; do cp -L "$lib" "$carry/lib/"; done
  cp "$data/valid/$photo_name" "$carry/data/"
  cp bench/ffmpeg-fps.sh "$carry/"
  # Every other validation photo (12 of 24), which `ablation` validates its runs on; then a fixed,
  # shuffled subset of the training photos, as many as the carry's limit leaves room for (1 MiB
  # to spare). Both as lossless WebP where cwebp is here: about 27% smaller than PNG, so more
  # photos travel; `train` and `ablation` turn them back into PNG.
  mkdir -p "$carry/data/train" "$carry/data/valid"
  local f
  while read -r f; do pack_photo "$f" "$carry/data/valid" >/dev/null; done \
    < <(ls "$data"/valid/*.png | awk 'NR % 2 == 1' | head -n "$([ "$rehearsal" = 1 ] && echo 1 || echo 12)")
  local budget=$((carry_limit - $(tree_bytes) - $(du -sb "$carry" | cut -f1) - (1 << 20)))
  [ "$rehearsal" = 1 ] && budget=$((1 << 20))
  local used=0 size
  while read -r f; do
    # Lossless WebP keeps well over half of a photo's PNG bytes: skip those that cannot fit.
    [ $((used + $(stat -c %s "$f") / 2)) -gt "$budget" ] && continue
    size=$(pack_photo "$f" "$carry/data/train")
    if [ $((used + size)) -gt "$budget" ]; then
      rm "$carry/data/train/$(basename "$f" .png)".*
      continue
    fi
    used=$((used + size))
  done < <(ls "$data"/train/*.png | shuf --random-source=<(yes "${NIC_GPU_CHECK_SUBSET:-nic}"))
  echo "training photos: $(ls "$carry/data/train" | wc -l) of $(ls "$data"/train/*.png | wc -l) ($((used >> 20)) MB)"
  echo "validation photos: $(ls "$carry/data/valid" | wc -l)"
  echo "prepared $carry ($(du -sh "$carry" | cut -f1)): $(ls "$carry/lib" | tr '\n' ' ')"
  echo 'now: device run, command "bash scripts/gpu-check.sh run", carry [".gpu-check"]'
}

# The GPU machine's PyTorch LibTorch (here: install-deps.sh's), after the carried libraries.
use_machine_libtorch() {
  torch_lib="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null \
    || echo /opt/nic/libtorch/torch/lib)"
  export LD_LIBRARY_PATH="$carry/lib:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

run() {
  [ -x "$carry/bin/nic" ] || { echo "no $carry/bin/nic: run 'scripts/gpu-check.sh prepare' first and carry $carry" >&2; exit 1; }
  local out="${OUT:-/tmp/gpu-check-out}"
  mkdir -p "$out"
  local report="$out/gpu-check.txt"
  use_machine_libtorch
  export NIC_DEFAULT_MODEL_FILE="$PWD/models/nic-default.safetensors" NIC_MODEL="$PWD/models/nic-default.safetensors"
  export NIC_SAMPLE_IMAGE="$carry/data/$photo_name"
  # What a GPU machine runs, or (rehearsal) a small version of it on the CPU.
  # The pipeline settings alternate and repeat: the first check's 16-frame runs differed by 26%
  # between two measurements of the same decoder, as much as the effect they were to show.
  local gpu_settings="cuda:auto:auto cuda:auto:0 cuda:float32:auto"
  local stream_settings="cuda:0 cuda:1 cuda:0 cuda:1 cpu:0 cpu:1"
  local hd_size=1920:1080 stream_frames=48 fps_frames=8 fps_sizes="768x512 1920x1080"
  if [ "$rehearsal" = 1 ]; then
    gpu_settings="" stream_settings="cpu:0 cpu:1" hd_size=128:64 stream_frames=2 fps_frames=2
    fps_sizes=128x64
  else
    export NIC_EXPECT_GPU=1
  fi
  {
    echo "# nic gpu-check, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
    echo "PyTorch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1)"
    echo "LibTorch used: $torch_lib; CPU cores: $(nproc)"
    echo
    echo "## GPU tests (tests/test_gpu.cpp)"
    local status=0 verdict=PASSED
    timeout 300 "$carry/bin/gpu-tests" > "$out/gpu-tests.log" 2>&1 || status=$?
    grep -vE '^\[ *(RUN|OK) *\]|^$' "$out/gpu-tests.log" || true
    # 77: the test program's "skipped" (no GPU, and no NIC_EXPECT_GPU to insist).
    if [ $status -eq 77 ]; then
      verdict=SKIPPED
    elif [ $status -ne 0 ]; then
      verdict="FAILED (status $status)"
    fi
    echo "gpu-tests: $verdict"
    echo
    # Whether frame N+1's networks overlapping frame N's entropy coding pays (nic.h, stream encoder).
    echo "## C API, ${hd_size/:/x}, steady state (bench/stream_fps.cpp, $stream_frames frames; auto precision)"
    local hd="$out/hd.png"
    "$carry/bin/ffmpeg" -nostdin -loglevel error -y -i "$NIC_SAMPLE_IMAGE" -vf "scale=$hd_size" \
      -pix_fmt rgb24 "$hd" || echo "could not make the 1080p picture"
    for setting in $stream_settings; do
      timeout 120 "$carry/bin/nic-stream-fps" --device "${setting%%:*}" --pipeline "${setting#*:}" \
        --frames "$stream_frames" "$hd" 2>&1 || echo "nic-stream-fps $setting: failed ($?)"
    done
    rm -f "$hd"
    echo
    # The GPU in its default float16, without the pipeline, and in float32 (what half precision
    # buys), then the CPU. Settings are device:precision:pipeline.
    for setting in $gpu_settings cpu:auto:auto; do
      local device precision pipeline
      IFS=: read -r device precision pipeline <<< "$setting"
      echo "## ffmpeg -c:v nic on $device, precision $precision, pipeline $pipeline (bench/ffmpeg-fps.sh, $fps_frames frames)"
      FFMPEG="$carry/bin/ffmpeg" NIC_BENCH_DEVICE=$device NIC_BENCH_PRECISION=$precision NIC_BENCH_PIPELINE=$pipeline \
        NIC_BENCH_PHOTO="$NIC_SAMPLE_IMAGE" timeout 200 bash "$carry/ffmpeg-fps.sh" "$fps_frames" $fps_sizes 2>&1 \
        || echo "ffmpeg-fps on $device ($precision, pipeline $pipeline): failed ($?)"
      echo
    done
  } 2>&1 | tee "$report"
}

# unpack_photos SRC DST: the carried photos of SRC as PNG in DST (nic-train reads PNG): WebP
# through dwebp where it is installed (here), else Python's Pillow (the GPU machine's image has it).
unpack_photos() {
  local src="$1" dir="$2" f
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$src"/*.png "$dir/" 2>/dev/null || true
  if command -v dwebp >/dev/null; then
    for f in "$src"/*.webp; do
      [ -e "$f" ] && dwebp -quiet "$f" -o "$dir/$(basename "$f" .webp).png"
    done
  else
    python3 - "$src" "$dir" <<'PY'
import pathlib, sys
from PIL import Image
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.webp")):
    Image.open(f).convert("RGB").save(pathlib.Path(sys.argv[2]) / (f.stem + ".png"), compress_level=1)
PY
  fi
  echo "$(basename "$src") photos: $(ls "$dir" | wc -l)"
}

# train_run RUN_DIR LOG SECONDS PERCENT THREADS PHOTOS [OPTIONS...]: nic-train from the shipped
# weights with the default recipe and OPTIONS for SECONDS: PERCENT of it at the recipe's lr, the
# rest at a tenth. Exports the moving averages to RUN_DIR/nic-gpu-lr1.safetensors (before the
# decay) and RUN_DIR/nic-gpu.safetensors.
train_run() {
  local run_dir=$1 log=$2 seconds=$3 percent=$4 threads=$5 photos=$6
  shift 6
  local device=cuda precision=bfloat16 batch=16 log_every=50
  [ -e /dev/nvidiactl ] || device=cpu precision=float32  # a rehearsal here
  [ "$rehearsal" = 1 ] && batch=2 log_every=5
  rm -rf "$run_dir"
  source scripts/default-recipe.sh
  local common=(--run "$run_dir" --device "$device" --precision "$precision" --threads "$threads"
    --data "$photos" --steps 100000000 --batch "$batch" --warmup-steps 200 --log-every "$log_every"
    --validate-every 0 --checkpoint-minutes 2 "${default_recipe[@]}" "$@")
  local start now
  start=$(date +%s)
  # Each part runs until its end time (SIGTERM checkpoints first; a hung one is killed 30 s
  # later and leaves its last periodic checkpoint); then its moving average is exported.
  part() {
    local until=$1 name=$2
    shift 2
    now=$(date +%s)
    timeout -k 30 --signal=TERM "$((until > now ? until - now : 1))" "$carry/bin/nic-train" \
      "${common[@]}" "$@" >>"$log" 2>&1 || true
    if [ ! -f "$run_dir/checkpoint.pt" ]; then
      echo "nic-train left no checkpoint (log: $log)"
      tail -n 20 "$log"
      return 1
    fi
    "$carry/bin/nic-train" --run "$run_dir" --export "$run_dir/$name.safetensors" --export-float16 >>"$log" 2>&1
  }
  local decay_from=$((start + seconds * percent / 100)) end=$((start + seconds))
  local init=(--init-from models/nic-default.safetensors)
  if [ "$percent" -gt 0 ]; then
    part "$decay_from" nic-gpu-lr1 "${init[@]}" || return 1
    init=()  # the decay resumes the run
  fi
  part "$end" nic-gpu --lr-decay-at 1 "${init[@]}"
}

# bring_back FILE NAME: FILE to $OUT in 15 MB parts NAME.part-*, if it fits the device tool's
# 64 MiB (2 MiB to spare).
bring_back() {
  local file=$1 name=$2 out="${OUT:-/tmp/gpu-check-out}"
  [ -f "$file" ] || return 0
  if [ $(($(du -sb "$out" | cut -f1) + $(stat -c %s "$file"))) -gt $((62 << 20)) ]; then
    echo "$name stays behind: $out has no room for it"
    return 0
  fi
  split -b 15m -d "$file" "$out/$name.part-"
}

check_carried() {
  [ -x "$carry/bin/nic-train" ] || { echo "no $carry/bin/nic-train: run prepare and carry $carry" >&2; exit 1; }
}

train() {
  local seconds=${1:?train needs SECONDS} percent=${2:-67}
  shift $(($# < 2 ? $# : 2))
  check_carried
  local out="${OUT:-/tmp/gpu-check-out}" run_dir=/tmp/nic-gpu-run photos=/tmp/nic-gpu-photos
  mkdir -p "$out"
  use_machine_libtorch
  unpack_photos "$carry/data/train" "$photos"
  local log="$out/gpu-train.log"
  train_run "$run_dir" "$log" "$seconds" "$percent" "$(nproc)" "$photos" "$@" || true
  bring_back "$run_dir/nic-gpu.safetensors" nic-gpu.safetensors
  bring_back "$run_dir/nic-gpu-lr1.safetensors" nic-gpu-lr1.safetensors
  grep -E 'steps/s|stopped|exported' "$log" | tail -n 6
  ls -l "$out"
}

# Issue 14's ablation: each arm changes one thing in the default recipe (name:options).
ablation_arms=(
  "default:"
  "no-context-scales:--no-context-scales"
  "gaussian:--distribution-shape 2"
  "shape-1.5:--distribution-shape 1.5"
  "seven-anchors:--anchor-lambdas 0.13,0.06,0.027,0.012,0.005,0.0021,0.0009"
  "latents-256:--widen-latents-to 256"
  "widths-96-144-192:--widen-to 96,144,192"
)

ablation() {
  local seconds=${1:?ablation needs SECONDS} percent=${2:-67}
  check_carried
  local out="${OUT:-/tmp/gpu-check-out}" runs=/tmp/nic-ablation photos=/tmp/nic-gpu-photos
  local valid=/tmp/nic-gpu-valid device=cuda
  [ -e /dev/nvidiactl ] || device=cpu
  # A rehearsal runs two arms: the default and one that widens (options with values).
  local arms=("${ablation_arms[@]}")
  [ "$rehearsal" = 1 ] && arms=("${ablation_arms[0]}" "${ablation_arms[5]}")
  mkdir -p "$out" "$runs"
  use_machine_libtorch
  unpack_photos "$carry/data/train" "$photos"
  unpack_photos "$carry/data/valid" "$valid"
  local threads=$(($(nproc) / ${#arms[@]}))
  [ "$threads" -ge 1 ] || threads=1
  local arm name pids=()
  # All arms side by side on the one GPU, for the same wall time.
  for arm in "${arms[@]}"; do
    name=${arm%%:*}
    # shellcheck disable=SC2086  # the options split into words
    train_run "$runs/$name" "$out/ablation-$name.log" "$seconds" "$percent" "$threads" "$photos" \
      ${arm#*:} > "$out/ablation-$name.console" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  # Validation of each arm's final moving average, also side by side.
  pids=()
  for arm in "${arms[@]}"; do
    name=${arm%%:*}
    [ -f "$runs/$name/nic-gpu.safetensors" ] || continue
    timeout 300 "$carry/bin/nic-train" --validate "$runs/$name/nic-gpu.safetensors" --valid "$valid" \
      --device "$device" --threads "$threads" > "$out/validate-$name.log" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  local table=() steps rates=""
  for arm in "${arms[@]}"; do
    name=${arm%%:*}
    grep -q "validation (" "$out/validate-$name.log" 2>/dev/null && table+=("$name=$out/validate-$name.log")
  done
  [ ${#table[@]} -gt 0 ] && rates=$(python3 bench/validation_bd.py "${table[@]}" 2>&1)
  {
    echo "# ablation, $(date -u +%FT%TZ): ${#arms[@]} arms for ${seconds} s each (${percent}% at lr 1e-4), $(ls "$valid" | wc -l) validation photos, device $device"
    for arm in "${arms[@]}"; do
      name=${arm%%:*}
      steps=$(grep -oE '^step [0-9]+ +[0-9.]+ steps/s' "$out/ablation-$name.log" 2>/dev/null | tail -n 1 || true)
      echo "$name (${arm#*:}): last ${steps:-no progress line}; $(grep -m1 '^parameters' "$out/ablation-$name.log" 2>/dev/null)"
    done
    echo "$rates"
  } 2>&1 | tee "$out/ablation.txt"
  # The arms' weights, best BD-rate against the unchanged arm first, as many as fit.
  [ ${#table[@]} -gt 0 ] && tail -n +2 <<< "$rates" | sort -t'|' -k4,4g | cut -d' ' -f1 \
    | while read -r name; do bring_back "$runs/$name/nic-gpu.safetensors" "ablation-$name.safetensors"; done
  ls -l "$out"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  train) shift; train "$@" ;;
  ablation) shift; ablation "$@" ;;
  *) echo "usage: scripts/gpu-check.sh prepare|run|train SECONDS [PERCENT [OPTIONS]]|ablation SECONDS [PERCENT] (see the comment at its top)" >&2; exit 2 ;;
esac
