#!/usr/bin/env bash
# scripts/gpu-check.sh as far as it runs without a GPU: `prepare`, `run` and `train` as a
# rehearsal on the CPU (NIC_GPU_CHECK_REHEARSAL=1, small sizes). The carried folder must hold
# everything the GPU machine needs, the report every section: the GPU tests (skipped here), the
# C API's frames/s with and without the pipeline, the ffmpeg bench, and no failure anywhere; and
# the training's two exports must come back in parts that make weights the codec loads; the
# ablation must train and validate every arm and bring back weights of the best.
# Usage: gpu-check-rehearsal.sh SOURCE_ROOT BUILD_ROOT DATA_DIR
set -euo pipefail
src="$1" build="$2" data="$3"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export NIC_GPU_CHECK_REHEARSAL=1 NIC_GPU_CHECK_CARRY="$tmp/carry" NIC_BUILD_DIR="$build" \
  NIC_DATA_DIR="$data" OUT="$tmp/out"
"$src/scripts/gpu-check.sh" prepare >"$tmp/prepare.log" 2>&1 \
  || { cat "$tmp/prepare.log"; fail "gpu-check.sh prepare"; }
for f in bin/nic bin/gpu-tests bin/ffmpeg bin/nic-train bin/nic-stream-fps lib/libnic.so.0 \
  data/wiki_043.png ffmpeg-fps.sh data/valid; do
  [ -e "$tmp/carry/$f" ] || fail "prepare did not gather $f"
done
"$src/scripts/gpu-check.sh" run >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; fail "gpu-check.sh run"; }
report="$tmp/out/gpu-check.txt"
[ -f "$report" ] || fail "no report at $report"
cat "$report"
grep -q '^gpu-tests: SKIPPED' "$report" || fail "the GPU tests should report themselves skipped here"
for delay in 0 1; do
  grep -Eq "^128x64  device cpu  precision auto  pipeline delay $delay  encode [0-9.]+ frames/s  decode [0-9.]+ frames/s" \
    "$report" || fail "no C API frames/s line for pipeline delay $delay"
done
grep -Eq '^128x64 +[0-9]+ ' "$report" || fail "no ffmpeg-fps row"
if grep -Eqi 'failed|could not' "$report"; then fail "a part of the check failed"; fi

"$src/scripts/gpu-check.sh" train 40 >"$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "gpu-check.sh train"; }
for name in nic-gpu-lr1 nic-gpu; do
  ls "$tmp/out/$name.safetensors.part-"* >/dev/null 2>&1 || { cat "$tmp/train.log"; fail "train exported no $name"; }
  cat "$tmp/out/$name.safetensors.part-"* >"$tmp/$name.safetensors"
  "$build/tools/nic" encode "$tmp/carry/data/wiki_043.png" -o "$tmp/$name.nic" --model "$tmp/$name.safetensors" \
    || fail "the codec does not load the reassembled $name weights"
done
rm -rf "$tmp/out"
"$src/scripts/gpu-check.sh" ablation 30 >"$tmp/ablation.log" 2>&1 || { cat "$tmp/ablation.log"; fail "gpu-check.sh ablation"; }
cat "$tmp/out/ablation.txt"
arms=$(grep -c '^[a-z0-9.-]* (' "$tmp/out/ablation.txt")
rows=$(grep -c '^[a-z0-9.-]* | [0-9.]*, [0-9.]* |' "$tmp/out/ablation.txt")
[ "$arms" -ge 2 ] && [ "$rows" -eq "$arms" ] || { cat "$tmp/ablation.log"; fail "ablation: $rows validated of $arms arms"; }
best=("$tmp"/out/ablation-*.safetensors.part-00)
[ -f "${best[0]}" ] || fail "ablation brought back no weights"
cat "${best[0]%.part-00}".part-* >"$tmp/best.safetensors"
"$build/tools/nic" encode "$tmp/carry/data/wiki_043.png" -o "$tmp/best.nic" --model "$tmp/best.safetensors" \
  || fail "the codec does not load the ablation's weights"
echo "gpu-check rehearsal: OK"
