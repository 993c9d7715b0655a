#!/usr/bin/env bash
# The nic CLI as a user runs it: round trips, info, multi-frame streams, and every error path
# (non-zero exit status with a message, never a crash).
# usage: test_cli.sh NIC_BINARY MODEL SAMPLE_PNG
set -u
nic=$1 model=$2 sample=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# expect_fail "description" "message fragment" command...: exit status 1 and the fragment on stderr.
expect_fail() {
  local what=$1 fragment=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local status=$?
  if [ "$status" -ne 1 ]; then bad "$what: exit status $status, expected 1"; return; fi
  if ! grep -qi -- "$fragment" "$tmp/err"; then bad "$what: no '$fragment' in: $(cat "$tmp/err")"; return; fi
  ok
}

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

# A raw stream of several frames decodes to a numbered sequence.
"$nic" encode "$sample" -o "$tmp/b.nic" --qp 40 >/dev/null
cat "$tmp/a.nic" "$tmp/b.nic" >"$tmp/stream.nic"
"$nic" info "$tmp/stream.nic" | grep -c "^frame" | grep -qx 2 && ok || bad "info on 2 frames"
"$nic" decode "$tmp/stream.nic" -o "$tmp/f%02d.png" >/dev/null && [ -f "$tmp/f00.png" ] && [ -f "$tmp/f01.png" ] && ok || bad "pattern decode"
"$nic" decode "$tmp/a.nic" -o "$tmp/a2.png" >/dev/null
cmp -s "$tmp/f00.png" "$tmp/a2.png" && ok || bad "frame 0 differs from the single decode"
expect_fail "2 frames without a pattern" "pattern" "$nic" decode "$tmp/stream.nic" -o "$tmp/x.png"

# Errors.
expect_fail "no output" "needs -o" "$nic" encode "$sample"
expect_fail "missing input" "cannot open\|no such\|error" "$nic" encode "$tmp/none.png" -o "$tmp/x.nic"
expect_fail "qp too high" "0..63" "$nic" encode "$sample" -o "$tmp/x.nic" --qp 64
expect_fail "qp not a number" "not a number" "$nic" encode "$sample" -o "$tmp/x.nic" --qp abc
expect_fail "unknown option" "unknown option" "$nic" encode "$sample" -o "$tmp/x.nic" --fast
expect_fail "unknown command" "unknown command" "$nic" transcode "$sample"
expect_fail "cuda without CUDA" "CUDA" "$nic" encode "$sample" -o "$tmp/x.nic" --device cuda
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

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
