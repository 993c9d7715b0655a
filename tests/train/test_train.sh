#!/usr/bin/env bash
# nic-train as a user runs it, on a tiny model: train with validation, stop and resume from the
# checkpoint, export (also in float16), code with the export, start a run from it with other rate
# anchors, and the error paths (exit status 1 with a message).
# usage: test_train.sh NIC_TRAIN NIC_CLI SAMPLE_PNG
set -u
train=$1 nic=$2 sample=$3
. "$(dirname "$0")/../checks.sh"

# Reads of the weights files (safetensors_check.py: config, tensor, float16, data-parallel).
weights() { python3 "$(dirname "$0")/safetensors_check.py" "$@"; }

mkdir -p "$tmp/data"
cp "$sample" "$tmp/data/a.png"
tiny=(--widths 16,16,16 --latent 32 --hyper 16 --data "$tmp/data" --valid "$tmp/data"
      --batch 1 --crop 64 --threads 2 --log-every 2)

# A new run: progress lines, validation with real coding, a checkpoint.
"$train" --run "$tmp/run" "${tiny[@]}" --steps 2 --validate-every 2 >"$tmp/out" 2>&1 && ok \
  || bad "new run: $(cat "$tmp/out")"
log=$tmp/run/train.log
grep -q "^step 2 .*steps/s .*ETA .*| a[0-3] loss .* bpp .* psnr" "$log" && ok || bad "progress line: $(cat "$log")"
grep -q "moving average validation (1 images, real coding):  qp 0.0 bpp .*qp 63.0 bpp" "$log" && ok \
  || bad "validation line: $(cat "$log")"
[ -f "$tmp/run/checkpoint.pt" ] && [ -f "$tmp/run/model-step2.safetensors" ] && ok || bad "checkpoint / step-2 weights"

# --validate codes a weights file as the run's validation did: the same line, times aside.
"$train" --validate "$tmp/run/model-step2.safetensors" --valid "$tmp/data" --threads 2 >"$tmp/out" 2>&1 && ok \
  || bad "--validate: $(cat "$tmp/out")"
in_run=$(grep "moving average validation" "$log" | sed 's/^.*real coding)://; s/  | encode.*//')
alone=$(sed 's/^.*real coding)://; s/  | encode.*//' "$tmp/out")
[[ "$alone" == *"| unquantized psnr "* ]] && [ "$alone" = "$in_run" ] && ok \
  || bad "--validate differs from the run's validation: '$alone' against '$in_run'"

# Resume: continues from step 2, not from 0.
"$train" --run "$tmp/run" "${tiny[@]}" --steps 4 --validate-every 0 >"$tmp/out" 2>&1 && ok || bad "resume: $(cat "$tmp/out")"
grep -q "step 2 -> 4" "$log" && grep -q "^step 4 " "$log" && ok || bad "resume did not continue at step 2: $(cat "$log")"

# Export, and the codec uses it.
"$train" --run "$tmp/run" --export "$tmp/a.safetensors" >/dev/null 2>&1 && ok || bad "export"
"$nic" encode "$sample" -o "$tmp/a.nic" --qp 30 --model "$tmp/a.safetensors" >/dev/null \
  && "$nic" decode "$tmp/a.nic" -o "$tmp/a.png" --model "$tmp/a.safetensors" >/dev/null && ok \
  || bad "round trip with the exported weights"

# --export-float16 (what ships): the large float tensors as float16, the rest as before; the
# codec reads it and codes the photo as the float32 export does, up to the rounding.
"$train" --run "$tmp/run" --export "$tmp/a16.safetensors" --export-float16 >/dev/null 2>&1 && ok \
  || bad "export in float16"
weights float16 "$tmp/a.safetensors" "$tmp/a16.safetensors" && ok || bad "float16 export's tensors"
size32=$(stat -c %s "$tmp/a.safetensors") size16=$(stat -c %s "$tmp/a16.safetensors")
[ $((size16 * 10)) -lt $((size32 * 7)) ] && ok || bad "float16 export is $size16 bytes against $size32"
"$nic" encode "$sample" -o "$tmp/a16.nic" --qp 30 --model "$tmp/a16.safetensors" >/dev/null \
  && "$nic" decode "$tmp/a16.nic" -o "$tmp/a16.png" --model "$tmp/a16.safetensors" >/dev/null && ok \
  || bad "round trip with the float16 weights"
bytes32=$(stat -c %s "$tmp/a.nic") bytes16=$(stat -c %s "$tmp/a16.nic")
psnr32=$("$nic" psnr "$sample" "$tmp/a.png") psnr16=$("$nic" psnr "$sample" "$tmp/a16.png")
python3 -c "import sys; a, b, p, q = map(float, sys.argv[1:]); sys.exit(abs(a - b) > 0.02 * a or abs(p - q) > 0.1)" \
  "$bytes32" "$bytes16" "$psnr32" "$psnr16" && ok \
  || bad "float16 weights code differently: $bytes16 bytes, $psnr16 dB against $bytes32, $psnr32 dB"
expect_fail "--export-float16 alone" "goes with --export" "$train" --run "$tmp/run" --export-float16

# Training in bfloat16 (the float networks under autocast), from the exported weights, which
# auto picks on a CPU with AMX; a CPU without AMX refuses bfloat16 (oneDNN corrupted the heap
# there: docs/design.md) and auto trains in float32.
if grep -qw amx_bf16 /proc/cpuinfo; then native=bfloat16; else native=float32; fi
"$train" --run "$tmp/bf" --init-from "$tmp/a.safetensors" "${tiny[@]}" --steps 6 \
  --validate-every 0 --precision auto >"$tmp/out" 2>&1 && ok || bad "auto precision run: $(cat "$tmp/out")"
grep -q "step 4 -> 6, .*precision $native\$" "$tmp/bf/train.log" \
  && grep -q "^step 6 .*| a[0-3] loss [0-9]" "$tmp/bf/train.log" && ok \
  || bad "auto precision run's log (expected $native): $(cat "$tmp/bf/train.log")"
if [ $native = float32 ]; then
  expect_fail "bfloat16 without AMX" "needs AMX" "$train" --run "$tmp/bf16" \
    --init-from "$tmp/a.safetensors" "${tiny[@]}" --steps 6 --precision bfloat16
fi

# From those weights with a lower last lambda: the other anchors keep their learned steps (one
# warmup step moves them by about 1e-7) and the new one starts coarser than its neighbour.
"$train" --run "$tmp/run2" --init-from "$tmp/a.safetensors" --anchor-lambdas 0.027,0.012,0.005,0.0005 \
  "${tiny[@]}" --steps 5 --validate-every 0 >"$tmp/out" 2>&1 && ok || bad "init with new anchors: $(cat "$tmp/out")"
grep -q "rate anchors differ" "$tmp/run2/train.log" && ok || bad "no note of the new anchors"
"$train" --run "$tmp/run2" --export "$tmp/b.safetensors" >/dev/null 2>&1 && ok || bad "export run2"
lambdas=$(weights config "$tmp/b.safetensors")
[ "$lambdas" = "[0.027, 0.012, 0.005, 0.0005]" ] && ok || bad "config of the new anchors: $lambdas"
read -r -a old <<<"$(weights tensor "$tmp/a.safetensors" q_anchor_log2)"
read -r -a new <<<"$(weights tensor "$tmp/b.safetensors" q_anchor_log2)"
awk -v o="${old[*]:0:3}" -v n="${new[*]:0:3}" 'BEGIN {
  split(o, a); split(n, b); for (i = 1; i <= 3; ++i) if (a[i] - b[i] > 1e-4 || b[i] - a[i] > 1e-4) exit 1 }' \
  && ok || bad "kept anchors changed: ${old[*]} -> ${new[*]}"
awk -v a="${new[2]}" -v b="${new[3]}" 'BEGIN { exit !(b > a + 0.1) }' && ok || bad "new anchor not coarser: ${new[*]}"

# Architectures: from the nic-evc-2 weights (the default) into nic-evc-1 keeps what they share
# and names the rest; the ablation variants (scales from the hyperprior only, generalized
# Gaussian latents) train, export and code.
"$train" --run "$tmp/run3" --init-from "$tmp/a.safetensors" --architecture nic-evc-1 "${tiny[@]}" \
  --steps 5 --validate-every 0 >"$tmp/out" 2>&1 && ok || bad "init nic-evc-1: $(cat "$tmp/out")"
grep -q "tensors are new to .* means.step2_body" "$tmp/run3/train.log" && ok \
  || bad "no note of the fresh tensors: $(cat "$tmp/run3/train.log")"
"$train" --run "$tmp/run4" "${tiny[@]}" --no-context-scales --distribution-shape 1.5 --steps 2 \
  --validate-every 2 >"$tmp/out" 2>&1 && ok || bad "ablation run: $(cat "$tmp/out")"
grep -q '"context_scales":false' "$tmp/run4/config.json" && grep -q '"latent_distribution_shape":1.5' \
  "$tmp/run4/config.json" && ok || bad "ablation config: $(cat "$tmp/run4/config.json")"
grep -q "moving average validation (1 images, real coding):  qp 0.0 bpp" "$tmp/run4/train.log" && ok \
  || bad "ablation validation: $(cat "$tmp/run4/train.log")"
expect_fail "unknown architecture" "unknown architecture" "$train" --run "$tmp/z" --architecture nic-evc-9
expect_fail "bad distribution shape" "0.5 .. 4" "$train" --run "$tmp/z2" --distribution-shape 9

# Mask decay (train/channel_masks.h): from the tiny model to a student of half its widths. The
# log names the spaces and the cut masks fall to 0 with the decay; validation and export give the
# student, which codes; the run resumes only with its own options.
md=(--data "$tmp/data" --valid "$tmp/data" --batch 1 --crop 64 --threads 2 --log-every 2
    --mask-decay-to 8,8,8 --mask-decay-steps 4)
"$train" --run "$tmp/md" --init-from "$tmp/a.safetensors" "${md[@]}" --steps 8 --validate-every 8 \
  >"$tmp/out" 2>&1 && ok || bad "mask decay run: $(cat "$tmp/out")"
grep -q "mask decay (decay): 24 channel spaces, .* channels to cut" "$tmp/md/train.log" && ok \
  || bad "mask decay summary: $(cat "$tmp/md/train.log")"
grep -q "^step 8 .*largest cut mask 0.0000" "$tmp/md/train.log" && ok \
  || bad "cut masks did not reach 0: $(cat "$tmp/md/train.log")"
grep -q "student validation (1 images, real coding):  qp 0.0 bpp" "$tmp/md/train.log" && ok \
  || bad "student validation: $(cat "$tmp/md/train.log")"
"$train" --run "$tmp/md" --export "$tmp/student.safetensors" "${md[@]}" >/dev/null 2>&1 \
  && head -c 8192 "$tmp/student.safetensors" | grep -aq 'widths\\":\[8,8,8\]' \
  && "$nic" encode "$sample" -o "$tmp/s.nic" --qp 30 --model "$tmp/student.safetensors" >/dev/null \
  && "$nic" decode "$tmp/s.nic" -o "$tmp/s.png" --model "$tmp/student.safetensors" >/dev/null && ok \
  || bad "student export and round trip"
expect_fail "mask-decay run resumed without its options" "started with --mask-decay-to 8,8,8" \
  "$train" --run "$tmp/md" "${tiny[@]}" --steps 9
"$train" --run "$tmp/md-l1" --init-from "$tmp/a.safetensors" "${md[@]}" --mask-decay-method l1 \
  --mask-l1 0.1 --steps 2 --validate-every 0 >"$tmp/out" 2>&1 && ok || bad "l1 run: $(cat "$tmp/out")"
expect_fail "mask decay without a teacher" "needs the teacher" "$train" --run "$tmp/md-none" "${md[@]}"
expect_fail "student wider than teacher" "student's widths" "$train" --run "$tmp/md-wide" \
  --init-from "$tmp/a.safetensors" "${md[@]}" --mask-decay-to 8,32,8

# Widening and context mixing: a run starts from the tiny model with wider transforms, more
# latents and its means' inputs mixed first (the exactness of the start is for
# tests/test_widening.cpp and tests/test_context_mixing.cpp); it trains, exports and codes at the
# new sizes.
wd=(--data "$tmp/data" --valid "$tmp/data" --batch 1 --crop 64 --threads 2)
"$train" --run "$tmp/wide" --init-from "$tmp/a.safetensors" "${wd[@]}" --widen-to 24,24,24 \
  --widen-latents-to 48 --context-mean-mix 40 --steps 8 --validate-every 0 >"$tmp/out" 2>&1 \
  && grep -q "widened .* to widths 24,24,24 and 48 latents" "$tmp/wide/train.log" \
  && grep -q "mixed the inputs of the later steps' means to 40 channels" "$tmp/wide/train.log" \
  && "$train" --run "$tmp/wide" --export "$tmp/wide.safetensors" >/dev/null 2>&1 \
  && head -c 8192 "$tmp/wide.safetensors" | grep -aq 'context_mean_mix\\":40' \
  && head -c 8192 "$tmp/wide.safetensors" | grep -aq 'latent_channels\\":48,.*widths\\":\[24,24,24\]' \
  && "$nic" encode "$sample" -o "$tmp/w.nic" --qp 30 --model "$tmp/wide.safetensors" >/dev/null \
  && "$nic" decode "$tmp/w.nic" -o "$tmp/w.png" --model "$tmp/wide.safetensors" >/dev/null && ok \
  || bad "widened run: $(cat "$tmp/out")"
expect_fail "narrowing by --widen-to" "at least the model's" "$train" --run "$tmp/narrow" \
  --init-from "$tmp/a.safetensors" "${wd[@]}" --widen-to 8,8,8
expect_fail "fewer latents by --widen-latents-to" "at least the model's" "$train" \
  --run "$tmp/narrow-latents" --init-from "$tmp/a.safetensors" "${wd[@]}" --widen-latents-to 16
expect_fail "--widen-to without weights" "--init-from WEIGHTS" "$train" --run "$tmp/wide-none" \
  "${wd[@]}" --widen-to 24,24,24
expect_fail "--widen-latents-to without weights" "--init-from WEIGHTS" "$train" \
  --run "$tmp/wide-latents-none" "${wd[@]}" --widen-latents-to 48
expect_fail "--context-mean-mix on a mixed model" "to 40 channels already" "$train" \
  --run "$tmp/remix" --init-from "$tmp/wide.safetensors" "${wd[@]}" --context-mean-mix 24

# Data-parallel (c10d, Gloo on loopback): two processes with one item each take the same steps
# as one process with the batch of two, within float tolerance, and only rank 0 writes the run.
dp=(--widths 16,16,16 --latent 32 --hyper 16 --data "$tmp/data" --valid "$tmp/data" --batch 2
    --crop 64 --threads 1 --steps 3 --validate-every 0 --lr 1e-3 --warmup-steps 0 --seed 5)
cp "$sample" "$tmp/data/b.png"
"$train" --run "$tmp/dp-start" "${dp[@]}" --export "$tmp/dp-start.safetensors" >/dev/null 2>&1 \
  && "$train" --run "$tmp/dp-one" "${dp[@]}" >"$tmp/out" 2>&1 \
  && "$train" --run "$tmp/dp-one" --export "$tmp/dp-one.safetensors" >/dev/null 2>&1 && ok \
  || bad "single-process reference: $(cat "$tmp/out")"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export MASTER_ADDR=127.0.0.1 MASTER_PORT=$port WORLD_SIZE=2
RANK=1 timeout 120 "$train" --run "$tmp/dp-two" "${dp[@]}" >"$tmp/out1" 2>&1 &
rank1=$!
RANK=0 timeout 120 "$train" --run "$tmp/dp-two" "${dp[@]}" >"$tmp/out0" 2>&1; status0=$?
wait "$rank1"; status1=$?
unset MASTER_ADDR MASTER_PORT WORLD_SIZE
[ "$status0" -eq 0 ] && [ "$status1" -eq 0 ] && ok \
  || bad "data-parallel run: rank 0 exit $status0: $(cat "$tmp/out0"); rank 1 exit $status1: $(cat "$tmp/out1")"
grep -q "data-parallel over 2 processes" "$tmp/dp-two/train.log" && ok || bad "no data-parallel note in the log"
[ ! -s "$tmp/out1" ] && ok || bad "rank 1 wrote output: $(cat "$tmp/out1")"
"$train" --run "$tmp/dp-two" --export "$tmp/dp-two.safetensors" >/dev/null 2>&1 && ok || bad "export dp-two"
weights data-parallel "$tmp/dp-start.safetensors" "$tmp/dp-one.safetensors" "$tmp/dp-two.safetensors" \
  && ok || bad "data-parallel weights differ from one process's"
expect_fail "batch that does not split" "does not split" env WORLD_SIZE=2 RANK=0 MASTER_ADDR=127.0.0.1 \
  MASTER_PORT=1 "$train" --run "$tmp/dp-bad" "${dp[@]}" --batch 3

# Bad input.
expect_fail "increasing lambdas" "decreasing" "$train" --run "$tmp/x" --anchor-lambdas 0.001,0.01
expect_fail "lambda not a number" "decreasing" "$train" --run "$tmp/x" --anchor-lambdas 0.02,abc
expect_fail "one lambda" "2..16" "$train" --run "$tmp/x" --anchor-lambdas 0.02
expect_fail "crop not a multiple of 64" "multiple of 64" "$train" --run "$tmp/x" --crop 100
expect_fail "unknown option" "unknown option" "$train" --run "$tmp/x" --frobnicate 1
expect_fail "missing data folder" "cannot list" "$train" --run "$tmp/x" "${tiny[@]}" --data "$tmp/none" --steps 1
expect_fail "unknown precision" "float32, bfloat16 or auto" "$train" --run "$tmp/x" --precision float16
expect_fail "--validate of a missing file" "$tmp/missing.safetensors" "$train" --validate "$tmp/missing.safetensors"
expect_fail "missing init file" "$tmp/none.safetensors" "$train" --run "$tmp/y" --init-from "$tmp/none.safetensors"

finish
