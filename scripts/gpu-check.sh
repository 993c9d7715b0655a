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
#       GPU tests (frames crossing between CPU and GPU, refined frames) and the ffmpeg speed bench
#       on the GPU and on the CPU, and prints one table, also written to $OUT/gpu-check.txt.
#       Without a GPU (here, say) the tests fail rather than skip: NIC_EXPECT_GPU=1.
set -euo pipefail
cd "$(dirname "$0")/.."
carry=.gpu-check
photo_name=wiki_043.png

prepare() {
  local data="${NIC_DATA_DIR:-../shared/data}"
  [ -f "$data/valid/$photo_name" ] || { echo "no $data/valid/$photo_name (NIC_DATA_DIR)" >&2; exit 1; }
  [ -d build ] || meson setup build >/dev/null
  ninja -C build >/dev/null
  rm -rf "$carry"
  mkdir -p "$carry/bin" "$carry/lib" "$carry/data"
  cp build/tools/nic build/tests/gpu-tests build/ffmpeg-codec/prefix/bin/ffmpeg "$carry/bin/"
  cp -L build/core/libnic.so.0 "$carry/lib/"
  # The libraries outside LibTorch and the C/C++ runtime, which the GPU machine's image may lack.
  ldd "$carry"/bin/* "$carry"/lib/* | awk '/=> \// { print $3 }' | sort -u \
    | grep -vE '/opt/nic/libtorch|/libnic\.so|/lib(c|m|dl|rt|pthread|util|gcc_s|stdc\+\+|z)\.so' \
    | while read -r lib; do cp -L "$lib" "$carry/lib/"; done
  cp "$data/valid/$photo_name" "$carry/data/"
  cp bench/ffmpeg-fps.sh "$carry/"
  echo "prepared $carry ($(du -sh "$carry" | cut -f1)): $(ls "$carry/lib" | tr '\n' ' ')"
  echo 'now: device run, command "bash scripts/gpu-check.sh run", carry [".gpu-check"]'
}

run() {
  [ -x "$carry/bin/nic" ] || { echo "no $carry/bin/nic: run 'scripts/gpu-check.sh prepare' first and carry $carry" >&2; exit 1; }
  local out="${OUT:-/tmp/gpu-check-out}"
  mkdir -p "$out"
  local report="$out/gpu-check.txt"
  local torch_lib
  torch_lib="$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))' 2>/dev/null \
    || echo /opt/nic/libtorch/torch/lib)"
  export LD_LIBRARY_PATH="$PWD/$carry/lib:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export NIC_DEFAULT_MODEL_FILE="$PWD/models/nic-default.safetensors" NIC_MODEL="$PWD/models/nic-default.safetensors"
  export NIC_SAMPLE_IMAGE="$PWD/$carry/data/$photo_name" NIC_EXPECT_GPU=1
  {
    echo "# nic gpu-check, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
    echo "PyTorch: $(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1)"
    echo "LibTorch used: $torch_lib; CPU cores: $(nproc)"
    echo
    echo "## GPU tests (tests/test_gpu.cpp)"
    local status=0
    timeout 300 "$carry/bin/gpu-tests" 2>&1 | grep -vE '^\[ *(RUN|OK) *\]|^$' || status=$?
    echo "gpu-tests: $([ $status -eq 0 ] && echo PASSED || echo "FAILED (status $status)")"
    echo
    for device in cuda cpu; do
      echo "## ffmpeg -c:v nic on $device (bench/ffmpeg-fps.sh, 8 frames)"
      FFMPEG="$carry/bin/ffmpeg" NIC_BENCH_DEVICE=$device NIC_BENCH_PHOTO="$NIC_SAMPLE_IMAGE" \
        timeout 240 bash "$carry/ffmpeg-fps.sh" 8 768x512 1920x1080 2>&1 || echo "ffmpeg-fps on $device: failed ($?)"
      echo
    done
  } 2>&1 | tee "$report"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: scripts/gpu-check.sh prepare|run (see the comment at its top)" >&2; exit 2 ;;
esac
