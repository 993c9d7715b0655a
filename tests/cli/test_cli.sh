#!/usr/bin/env bash
# The nic CLI as a user runs it: round trips, info, multi-frame streams, and every error path
# (non-zero exit status with a message, never a crash).
# usage: test_cli.sh NIC_BINARY MODEL SAMPLE_PNG
set -u -o pipefail
nic=$1 model=$2 sample=$3
. "$(dirname "$0")/../checks.sh"

export NIC_MODEL=$model

# Round trip with every option spelled out.
if "$nic" encode "$sample" -o "$tmp/a.nic" --qp 12.5 --model "$model" --device cpu --threads 2 >"$tmp/out"; then ok; else bad "encode"; fi
grep -q "qp 12.50" "$tmp/out" && ok || bad "encode output: $(cat "$tmp/out")"
if "$nic" decode "$tmp/a.nic" -o "$tmp/a.png" --threads 1 >/dev/null; then ok; else bad "decode"; fi
"$nic" info "$tmp/a.nic" >"$tmp/info" && grep -q "qp 12.50" "$tmp/info" && ok || bad "info: $(cat "$tmp/info")"
size=$(stat -c %s "$tmp/a.nic")
grep -q "$size bytes" "$tmp/info" && ok || bad "info byte count"
psnr=$("$nic" psnr "$sample" "$tmp/a.png")
awk -v p="$psnr" 'BEGIN { exit !(p > 5 && p < 99) }' && ok || bad "psnr $psnr"

# Encoder effort: a refined frame decodes like any other.
"$nic" encode "$sample" -o "$tmp/e.nic" --qp 30 --effort 2 >/dev/null && ok || bad "--effort 2"
"$nic" decode "$tmp/e.nic" -o "$tmp/e.png" >/dev/null && ok || bad "decoding an effort-2 frame"

# A raw stream of several frames decodes to a numbered sequence.
"$nic" encode "$sample" -o "$tmp/b.nic" --qp 40 >/dev/null
cat "$tmp/a.nic" "$tmp/b.nic" >"$tmp/stream.nic"
"$nic" info "$tmp/stream.nic" | grep -c "^frame" | grep -qx 2 && ok || bad "info on 2 frames"
"$nic" decode "$tmp/stream.nic" -o "$tmp/f%02d.png" >/dev/null && [ -f "$tmp/f00.png" ] && [ -f "$tmp/f01.png" ] && ok || bad "pattern decode"
"$nic" decode "$tmp/a.nic" -o "$tmp/a2.png" >/dev/null
cmp -s "$tmp/f00.png" "$tmp/a2.png" && ok || bad "frame 0 differs from the single decode"
expect_fail "2 frames without a pattern" "pattern" "$nic" decode "$tmp/stream.nic" -o "$tmp/x.png"

# Resynchronisation: a damaged frame between two good ones costs that frame only. The good ones
# decode as before; the damage is reported and the status is non-zero.
cp "$tmp/b.nic" "$tmp/b-flip.nic"
printf '\xff' | dd of="$tmp/b-flip.nic" bs=1 seek=$(( $(stat -c %s "$tmp/b.nic") / 2 )) conv=notrunc 2>/dev/null
{ cat "$tmp/a.nic" "$tmp/b-flip.nic"; printf 'JUNK'; cat "$tmp/b.nic"; printf 'JUNK'; } >"$tmp/damaged.nic"
expect_fail "damaged frame in a stream" "skipped" "$nic" decode "$tmp/damaged.nic" -o "$tmp/d%02d.png"
[ -f "$tmp/d00.png" ] && [ -f "$tmp/d01.png" ] && [ ! -f "$tmp/d02.png" ] && ok || bad "the 2 good frames around the damaged one"
"$nic" decode "$tmp/b.nic" -o "$tmp/b.png" >/dev/null
cmp -s "$tmp/d01.png" "$tmp/b.png" && ok || bad "the frame after the damage differs from its own decode"
"$nic" info "$tmp/damaged.nic" >"$tmp/dinfo" 2>/dev/null  # status 1: the damage
grep -c "^frame" "$tmp/dinfo" | grep -qx 2 && ok || bad "info lists the 2 good frames: $(cat "$tmp/dinfo")"

# Target size: the chosen qp gives the largest frame not over the target, within 3% of it.
"$nic" encode "$sample" -o "$tmp/q0.nic" --qp 0 >/dev/null
"$nic" encode "$sample" -o "$tmp/q63.nic" --qp 63 >/dev/null
target=$(( ($(stat -c %s "$tmp/q0.nic") + $(stat -c %s "$tmp/q63.nic")) / 2 ))
"$nic" encode "$sample" -o "$tmp/t.nic" --target-bytes "$target" >"$tmp/out" && ok || bad "--target-bytes"
got=$(stat -c %s "$tmp/t.nic")
[ "$got" -le "$target" ] && [ $((got * 100)) -ge $((target * 97)) ] && ok \
  || bad "--target-bytes $target gave $got bytes: $(cat "$tmp/out")"
pixels=$("$nic" info "$tmp/t.nic" | sed -n 's/.* \([0-9]*\)x\([0-9]*\).*/\1 \2/p' | head -n 1 | awk '{ print $1 * $2 }')
bpp=$(awk -v t="$target" -v p="$pixels" 'BEGIN { printf "%.6f", t * 8 / p }')
"$nic" encode "$sample" -o "$tmp/b.nic" --target-bpp "$bpp" >/dev/null && ok || bad "--target-bpp"
got_bpp=$(stat -c %s "$tmp/b.nic")
[ "$got_bpp" -le "$target" ] && [ $((got_bpp * 100)) -ge $((target * 97)) ] && ok \
  || bad "--target-bpp $bpp ($pixels pixels) gave $got_bpp bytes, target $target"

# encode-seq: constant bitrate over a sequence (a folder of frames), every frame within its budget
# plus the buffer, each frame's qp and size printed; vbr with a peak rate.
mkdir "$tmp/seq"
for i in 1 2 3 4 5 6; do cp "$sample" "$tmp/seq/f$i.png"; done
cp "$tmp/a.png" "$tmp/seq/f3.png"  # a different picture mid-sequence
fps=10 kbps=$(( target * 8 * 10 / 1000 ))
budget=$(awk -v k="$kbps" 'BEGIN { print k * 1000 / 8 / 10 }')
"$nic" encode-seq "$tmp/seq" -o "$tmp/seq.nic" --rc cbr --bitrate "$kbps" --fps $fps --buffer 0.2 >"$tmp/out" \
  && ok || bad "encode-seq cbr: $(cat "$tmp/out")"
[ "$(grep -c '^frame [0-9]*: .* qp [0-9.]* [0-9]* bytes' "$tmp/out")" = 6 ] && ok || bad "encode-seq output: $(cat "$tmp/out")"
[ "$("$nic" info "$tmp/seq.nic" | grep -c '^frame')" = 6 ] && ok || bad "encode-seq wrote $("$nic" info "$tmp/seq.nic" | grep -c '^frame') frames"
"$nic" info "$tmp/seq.nic" | grep '^frame' | sed -n 's/.* \([0-9]*\) bytes.*/\1/p' \
  | awk -v b="$budget" '{ if ($1 > b * 3) bad = 1; total += $1 } END { if (total > 6 * b * 1.02) bad = 1; exit bad }' \
  && ok || bad "encode-seq cbr sizes over budget $budget: $(cat "$tmp/out")"
# --pipeline 1 (frame N+1 analysed while frame N is coded) writes the same stream and prints the
# same frames in order.
"$nic" encode-seq "$tmp/seq" -o "$tmp/seq-pipe.nic" --rc cbr --bitrate "$kbps" --fps $fps --buffer 0.2 \
  --pipeline 1 >"$tmp/out-pipe" && cmp -s "$tmp/seq.nic" "$tmp/seq-pipe.nic" \
  && [ "$(sed 's/ [0-9.]* s$//' "$tmp/out-pipe")" = "$(sed 's/ [0-9.]* s$//' "$tmp/out")" ] \
  && ok || bad "encode-seq --pipeline 1 differs: $(cat "$tmp/out-pipe")"
expect_fail "pipeline 2" "pipeline must be" "$nic" encode-seq "$tmp/seq" -o "$tmp/x.nic" --pipeline 2
"$nic" encode-seq "$tmp/seq" -o "$tmp/vbr.nic" --rc vbr --bitrate "$kbps" --max-bitrate $((kbps * 2)) --fps $fps >/dev/null \
  && ok || bad "encode-seq vbr with --max-bitrate"
expect_fail "rc unknown" "cqp, cbr or vbr" "$nic" encode-seq "$tmp/seq" -o "$tmp/x.nic" --rc fast --bitrate 100
expect_fail "cbr without bitrate" "needs --bitrate" "$nic" encode-seq "$tmp/seq" -o "$tmp/x.nic" --rc cbr
expect_fail "peak with cbr" "vbr only" "$nic" encode-seq "$tmp/seq" -o "$tmp/x.nic" --rc cbr --bitrate 100 --max-bitrate 200
expect_fail "peak below average" "max_bitrate" "$nic" encode-seq "$tmp/seq" -o "$tmp/x.nic" --rc vbr --bitrate 200 --max-bitrate 100

# Errors.
expect_fail "no output" "needs -o" "$nic" encode "$sample"
expect_fail "missing input" "cannot open\|no such\|error" "$nic" encode "$tmp/none.png" -o "$tmp/x.nic"
expect_fail "qp too high" "0..63" "$nic" encode "$sample" -o "$tmp/x.nic" --qp 64
expect_fail "qp not a number" "not a number" "$nic" encode "$sample" -o "$tmp/x.nic" --qp abc
expect_fail "effort too high" "1..9" "$nic" encode "$sample" -o "$tmp/x.nic" --effort 10
expect_fail "effort not an integer" "1..9" "$nic" encode "$sample" -o "$tmp/x.nic" --effort 2.5
expect_fail "unknown option" "unknown option" "$nic" encode "$sample" -o "$tmp/x.nic" --fast
expect_fail "unknown command" "unknown command" "$nic" transcode "$sample"
expect_fail "missing CUDA device" "CUDA" "$nic" encode "$sample" -o "$tmp/x.nic" --device cuda:99
expect_fail "frame over --max-pixels" "pixel limit" "$nic" decode "$tmp/a.nic" -o "$tmp/x.png" --max-pixels 1000
expect_fail "encode over --max-pixels" "pixel limit" "$nic" encode "$sample" -o "$tmp/x.nic" --max-pixels 1000
expect_fail "--max-pixels 0" "max-pixels" "$nic" decode "$tmp/a.nic" -o "$tmp/x.png" --max-pixels 0
expect_fail "missing model" "model" "$nic" encode "$sample" -o "$tmp/x.nic" --model "$tmp/none.safetensors"
printf 'not a png at all' >"$tmp/fake.png"
expect_fail "not a PNG" "png" "$nic" encode "$tmp/fake.png" -o "$tmp/x.nic"
head -c 100 "$tmp/a.nic" >"$tmp/cut.nic"
expect_fail "truncated stream" "truncated" "$nic" decode "$tmp/cut.nic" -o "$tmp/x.png"
cp "$tmp/a.nic" "$tmp/flip.nic"
printf '\xff' | dd of="$tmp/flip.nic" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_fail "flipped byte" "corrupt" "$nic" decode "$tmp/flip.nic" -o "$tmp/x.png"
printf 'JUNKJUNKJUNKJUNKJUNKJUNKJUNKJUNKJUNKJUNKJUNK' >"$tmp/junk.nic"
expect_fail "junk stream" "corrupt" "$nic" info "$tmp/junk.nic"
: >"$tmp/empty.nic"
expect_fail "empty stream" "empty" "$nic" decode "$tmp/empty.nic" -o "$tmp/x.png"
expect_fail "unwritable output" "cannot write\|error" "$nic" encode "$sample" -o /nonexistent/dir/x.nic

# Models by name: `nic models` lists the source tree's models/ (a build used in place), and
# --model takes a name as well as a path: the same weights, the same frame.
"$nic" models >"$tmp/models" && grep -q "^nic-default .*models/nic-default.safetensors .* MB  [0-9.]*M parameters  [0-9.]*/[0-9.]* kMAC/px (encode/decode)  [0-9a-f]\{16\}" \
  "$tmp/models" && ok || bad "nic models: $(cat "$tmp/models")"
"$nic" encode "$sample" -o "$tmp/by-name.nic" --qp 30 --model nic-default >/dev/null \
  && "$nic" encode "$sample" -o "$tmp/by-path.nic" --qp 30 --model "$NIC_DEFAULT_MODEL_FILE" >/dev/null \
  && cmp -s "$tmp/by-name.nic" "$tmp/by-path.nic" && ok || bad "--model nic-default differs from its path"
# The tool ends without LibTorch's teardown (tools/nic/main.cpp), after flushing its output: a
# report that cannot be written is still a failure.
if "$nic" models >/dev/full 2>/dev/null; then bad "nic models >/dev/full exited 0"; else ok; fi
expect_fail "unknown model name" "no model named 'nic-none' (installed: .*nic-default" \
  "$nic" encode "$sample" -o "$tmp/x.nic" --model nic-none

# A stream of another installed model: info names it, and decode without --model loads it (over
# NIC_MODEL, which names the test model here); the wrong model is a mismatch.
"$nic" encode "$sample" -o "$tmp/s.nic" --qp 20 --model nic-s >/dev/null && ok || bad "encode --model nic-s"
"$nic" info "$tmp/s.nic" | grep -q "model [0-9a-f]\{16\} (nic-s)" && ok || bad "info: $("$nic" info "$tmp/s.nic")"
"$nic" info "$tmp/a.nic" | grep -q "model [0-9a-f]\{16\} ($(basename "$model" .safetensors))" \
  && ok || bad "info on a.nic: $("$nic" info "$tmp/a.nic")"
"$nic" decode "$tmp/s.nic" -o "$tmp/s.png" >/dev/null && [ "$(awk '{ print ($1 > 20) }' <<<"$("$nic" psnr "$sample" "$tmp/s.png")")" = 1 ] \
  && ok || bad "decode of a nic-s stream without --model"
expect_fail "decoding nic-s with nic-default" "model mismatch" \
  "$nic" decode "$tmp/s.nic" -o "$tmp/x.png" --model nic-default

finish
