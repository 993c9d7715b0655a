#!/usr/bin/env bash
# scripts/stop-training.sh as a user runs it: two tiny runs train in the background from copies
# of nic-train in their run folders (as scripts/train-default.sh starts them); stopping one waits
# for its checkpoint, prints its step and leaves the other running; stopping a run without a
# trainer is an error.
# usage: test_stop_training.sh NIC_TRAIN SAMPLE_PNG STOP_TRAINING_SH
set -u
train=$1 sample=$2 stop=$3
. "$(dirname "$0")/../checks.sh"
trap 'kill -KILL $(jobs -p) 2>/dev/null; wait; rm -rf "$tmp"' EXIT

mkdir -p "$tmp/data"
cp "$sample" "$tmp/data/a.png"
start_run() {
  mkdir -p "$1"
  cp "$train" "$1/nic-train"
  "$1/nic-train" --run "$1" --widths 16,16,16 --latent 32 --hyper 16 --data "$tmp/data" \
    --batch 1 --crop 64 --threads 1 --log-every 1 --steps 1000000 --validate-every 0 \
    >"$1/console.log" 2>&1 &
}
# Waits up to 60 s for a run's first progress line.
wait_for_steps() {
  for _ in $(seq 600); do
    grep -q "^step 1 " "$1/train.log" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
start_run "$tmp/a"
pid_a=$!
start_run "$tmp/b"
pid_b=$!
wait_for_steps "$tmp/a" && wait_for_steps "$tmp/b" && ok || bad "the runs did not start: $(cat "$tmp"/?/console.log)"

# Run a, named by another path to the same folder: its trainer checkpoints and exits; b goes on.
"$stop" "$tmp/b/../a/" >"$tmp/out" 2>&1 && ok || bad "stop: $(cat "$tmp/out")"
step=$(sed -n 's/^stopped at step \([0-9]*\), checkpoint saved$/\1/p' "$tmp/out")
[ -n "$step" ] && ok || bad "no step in: $(cat "$tmp/out")"
kill -0 "$pid_a" 2>/dev/null && bad "the trainer of a is still running" || ok
kill -0 "$pid_b" 2>/dev/null && ok || bad "the trainer of b stopped too"
[ -f "$tmp/a/checkpoint.pt" ] && ok || bad "a has no checkpoint"
grep -q "^step $step " "$tmp/a/train.log" && ok || bad "step $step is not the last step a logged"

expect_fail "a run without a trainer" "no trainer of" "$stop" "$tmp/a"
"$stop" "$tmp/missing" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "usage" "$tmp/err" && ok || bad "a missing folder: $(cat "$tmp/err")"

"$stop" "$tmp/b" >"$tmp/out" 2>&1 && grep -q "^stopped at step" "$tmp/out" && ok || bad "stop b: $(cat "$tmp/out")"
kill -0 "$pid_b" 2>/dev/null && bad "the trainer of b is still running" || ok
finish
