#!/usr/bin/env bash
# Builds everything and runs every test suite (meson test). Exit status 0 = all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build
meson test -C build --print-errorlogs "$@"
