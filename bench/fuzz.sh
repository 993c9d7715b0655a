#!/usr/bin/env bash
# Fuzzes nic's parsers with libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer
# (fuzz/README.md): sets up a clang build tree with -Dfuzzing=true (build-fuzz), seeds each
# target's working corpus from fuzz/corpus/<target>, runs each target for SECONDS or RUNS inputs,
# and prints one line per target. A crash, leak or broken property leaves its input in
# OUT/<target>/ (crash-*, leak-*, timeout-*) and makes the script exit 1: copy it into
# fuzz/corpus/<target>/ once fixed, so the test suite replays it from then on.
# usage: bench/fuzz.sh [--seconds S | --runs N] [--out DIR] [TARGET...]
#   targets: frame_parse symbol_decoder safetensors decode (default: all)
#   decode builds libnic with clang and the small test model (the first time, about 15 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60 runs=-1 out=build-fuzz/runs
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; seconds=0; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(frame_parse symbol_decoder safetensors decode)
tree=build-fuzz
if [ ! -d "$tree" ]; then
  CC=clang CXX=clang++ meson setup "$tree" -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized -Dgstreamer=disabled -Dffmpeg=disabled >/dev/null
fi
build=()
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_$t.cpp" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  build+=("fuzz/fuzz_$t")
  [ "$t" = decode ] && build+=(tests/test-model.safetensors)
done
ninja -C "$tree" "${build[@]}" >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export NIC_FUZZ_MODEL=$PWD/$tree/tests/test-model.safetensors
status=0
printf '%-16s %12s %10s %8s %s\n' target inputs "inputs/s" corpus result
for t in "${targets[@]}"; do
  work=$out/$t
  mkdir -p "$work/corpus"
  cp -n fuzz/corpus/"$t"/* "$work/corpus/" 2>/dev/null || true
  args=(-artifact_prefix="$work/" -print_final_stats=1 -max_len=4096 -timeout=10 -rss_limit_mb=4096)
  [ "$seconds" -gt 0 ] && args+=(-max_total_time="$seconds")
  [ "$runs" -ge 0 ] && args+=(-runs="$runs")
  case $t in frame_parse|decode) args+=(-dict=fuzz/nic-frame.dict) ;; esac
  # LibTorch keeps process-lifetime allocations: leak checking only for the torch-free targets.
  [ "$t" = decode ] && export ASAN_OPTIONS=${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}
  rc=0
  "$tree/fuzz/fuzz_$t" "${args[@]}" "$work/corpus" > "$work/log.txt" 2>&1 || rc=$?
  inputs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log.txt" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log.txt" | tail -n1)
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc): $(ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | tr '\n' ' ')"
    status=1
  fi
  printf '%-16s %12s %10s %8s %s\n' "$t" "${inputs:-?}" "${rate:-?}" "$(ls "$work/corpus" | wc -l)" "$result"
done
exit $status
