#!/usr/bin/env bash
# RD benchmark of nic against JPEG, WebP, AVIF and JPEG XL: see bench/README.md.
# Usage: bench/rd.sh [--images DIR] [--out DIR] [--nic-qps "0 8 16 ..."] [--quick] [--help]
# On a shared machine, run it as: nice -n 10 bench/rd.sh ...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/rd.py" "$@"
