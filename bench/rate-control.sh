#!/usr/bin/env bash
# Rate-control benchmark: per-frame size accuracy of nic encode-seq --rc cbr/abr and the
# PSNR cost of CBR against constant qp at the same average rate: see bench/README.md.
# Usage: bench/rate-control.sh [--frames N] [--size WxH] [--bitrates "kbit/s ..."] [--fps F]
#                              [--out DIR] [--threads N] [--help]
# On a shared machine, run it as: nice -n 15 bench/rate-control.sh ...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/rate_control.py" "$@"
