#!/usr/bin/env bash
# Stops the trainer of one run and waits until it has saved its checkpoint and exited. The
# trainer is the RUN/nic-train that scripts/train-default.sh starts; other runs' trainers go on.
# usage: scripts/stop-training.sh RUN [TIMEOUT_SECONDS]
#   TIMEOUT_SECONDS: how long to wait for the checkpoint (default 600); the trainer is never killed
#   exit status: 0 stopped (prints the step), 1 no trainer of RUN running or it did not stop in time
set -euo pipefail
[ $# -ge 1 ] && [ -d "$1" ] || { echo "usage: $0 RUN [TIMEOUT_SECONDS] (RUN: a run folder)" >&2; exit 2; }
run=$1
timeout=${2:-600}
[[ $timeout =~ ^[1-9][0-9]*$ ]] || { echo "$0: TIMEOUT_SECONDS must be a positive number" >&2; exit 2; }
source "$(dirname "$0")/default-recipe.sh"

pids=$(run_trainer_pids "$run")
[ -n "$pids" ] || { echo "$0: no trainer of $run is running" >&2; exit 1; }
# It logs "stopped at step N, checkpoint saved" last; earlier stops left such lines too.
log=$run/train.log
stops_before=$(grep -c "stopped at step" "$log" 2>/dev/null || true)
# shellcheck disable=SC2086  # one pid per word
kill -TERM $pids
for ((waited = 0; waited < timeout; waited++)); do
  [ -z "$(run_trainer_pids "$run")" ] && break
  sleep 1
done
if [ -n "$(run_trainer_pids "$run")" ]; then
  echo "$0: the trainer of $run (pid $pids) has not stopped after $timeout s; it is still running" >&2
  exit 1
fi
if [ "$(grep -c "stopped at step" "$log" 2>/dev/null || true)" -le "${stops_before:-0}" ]; then
  echo "$0: the trainer of $run exited without saying it saved a checkpoint (see $log)" >&2
  exit 1
fi
grep "stopped at step" "$log" | tail -n 1
