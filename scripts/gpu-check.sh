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
#   scripts/gpu-check.sh train MINUTES
#       There, with the device minutes left after `run`: nic-train --device cuda from the shipped
#       weights on the training photos gathered by `prepare` (a fixed subset that fits the
#       carry), for MINUTES, then exports the moving average into $OUT in 15 MB parts. Here:
#       cat nic-gpu.safetensors.part-* > W.safetensors, then compare W with bench/rd.sh.
#
# NIC_GPU_CHECK_REHEARSAL=1 runs prepare and run here, on the CPU, small (the test
# gpu-check-rehearsal): a 1 MB training set, only the CPU, 2 frames at 128x64, and the GPU tests
# allowed to skip. NIC_GPU_CHECK_CARRY (default .gpu-check) and NIC_BUILD_DIR (default build) move
# the carried folder and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
carry="$(realpath -m "${NIC_GPU_CHECK_CARRY:-.gpu-check}")"
build="${NIC_BUILD_DIR:-build}"
rehearsal="${NIC_GPU_CHECK_REHEARSAL:-0}"
photo_name=wiki_043.png
train_budget_mb=26  # of training photos to carry: the tree (with a 23 MB model), binaries take 35 of the 64
[ "$rehearsal" = 1 ] && train_budget_mb=1

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
  # A fixed, shuffled subset of the training photos, as many as the budget holds.
  mkdir -p "$carry/data/train"
  local used=0 size
  while read -r f; do
    size=$(stat -c %s "$f")
    [ $((used + size)) -le $((train_budget_mb << 20)) ] || continue
    cp "$f" "$carry/data/train/"
    used=$((used + size))
  done < <(ls "$data"/train/*.png | shuf --random-source=<(yes nic))
  echo "training photos: $(ls "$carry/data/train" | wc -l) ($((used >> 20)) MB)"
  cp bench/ffmpeg-fps.sh "$carry/"
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
  local gpu_settings="cuda:auto cuda:float32" stream_settings="cuda:0 cuda:1 cpu:0 cpu:1"
  local hd_size=1920:1080 stream_frames=16 fps_frames=8 fps_sizes="768x512 1920x1080"
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
    # The GPU in its default float16 and in float32 (what half precision buys), then the CPU.
    for setting in $gpu_settings cpu:auto; do
      local device=${setting%%:*} precision=${setting#*:}
      echo "## ffmpeg -c:v nic on $device, precision $precision (bench/ffmpeg-fps.sh, $fps_frames frames)"
      FFMPEG="$carry/bin/ffmpeg" NIC_BENCH_DEVICE=$device NIC_BENCH_PRECISION=$precision \
        NIC_BENCH_PHOTO="$NIC_SAMPLE_IMAGE" timeout 200 bash "$carry/ffmpeg-fps.sh" "$fps_frames" $fps_sizes 2>&1 \
        || echo "ffmpeg-fps on $device ($precision): failed ($?)"
      echo
    done
  } 2>&1 | tee "$report"
}

train() {
  local minutes=${1:?train needs MINUTES}
  [ -x "$carry/bin/nic-train" ] || { echo "no $carry/bin/nic-train: run prepare and carry $carry" >&2; exit 1; }
  local out="${OUT:-/tmp/gpu-check-out}" run_dir=/tmp/nic-gpu-run
  mkdir -p "$out"
  use_machine_libtorch
  local device=cuda
  [ -e /dev/nvidiactl ] || device=cpu  # a rehearsal here
  # The model card's recipe with a larger batch; the run stops at the time limit (SIGTERM
  # checkpoints first) and the moving average is exported.
  timeout --signal=TERM "$((minutes * 60))" "$carry/bin/nic-train" --run "$run_dir" \
    --init-from models/nic-default.safetensors --device "$device" --threads "$(nproc)" \
    --data "$carry/data/train" --steps 100000000 --crop 256 --batch 16 --lr 1e-4 \
    --warmup-steps 200 --log-every 50 --validate-every 0 2>&1 | tee "$out/gpu-train.log" | tail -n 5 || true
  "$carry/bin/nic-train" --run "$run_dir" --export "$run_dir/nic-gpu.safetensors" >/dev/null
  split -b 15m -d "$run_dir/nic-gpu.safetensors" "$out/nic-gpu.safetensors.part-"
  ls -l "$out"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  train) train "${2:-}" ;;
  *) echo "usage: scripts/gpu-check.sh prepare|run|train MINUTES (see the comment at its top)" >&2; exit 2 ;;
esac
