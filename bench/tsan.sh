#!/usr/bin/env bash
# Runs the concurrency tests (tests/test_threads.cpp: two contexts with different thread counts
# coding at once from two threads, and the process-state tests) under ThreadSanitizer: sets up a
# clang build tree with -Db_sanitize=thread (build-tsan; the first time about 15 minutes on 2
# cores), builds the test and the small test model, runs it, and exits 1 on any report.
# LibTorch itself is not instrumented: TSan sees libnic, the C API and the test, which is where
# contexts share state; races inside LibTorch's own kernels are out of its view, and the memory
# functions called inside LibTorch and OpenMP are suppressed (bench/tsan.supp says why).
# usage: bench/tsan.sh [--gtest_filter=...]
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build-tsan
if [ ! -d "$tree" ]; then
  # Without CUDA: LibTorch's CUDA half only adds static destructors TSan complains about.
  CC=clang CXX=clang++ meson setup "$tree" -Db_sanitize=thread -Db_lundef=false -Dcuda=disabled \
    -Dbuildtype=debugoptimized -Dgstreamer=disabled -Dffmpeg=disabled >/dev/null
fi
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0 second_deadlock_stack=1 report_signal_unsafe=0 suppressions=$PWD/bench/tsan.supp}
# The small test model is written by nic-train, itself built with TSan here.
ninja -C "$tree" tests/threads-tests tests/test-model.safetensors
log=$tree/tsan.log
rc=0
NIC_TEST_MODEL=$PWD/$tree/tests/test-model.safetensors OMP_NUM_THREADS=2 \
  "$tree/tests/threads-tests" "$@" > "$log" 2>&1 || rc=$?
reports=$(grep -c '^WARNING: ThreadSanitizer' "$log" || true)
tail -n 3 "$log"
echo "tsan: exit $rc, $reports ThreadSanitizer report(s); log: $log"
[ "$rc" -eq 0 ] && [ "$reports" -eq 0 ]
