#!/usr/bin/env bash
# The core test suites under AddressSanitizer + UndefinedBehaviorSanitizer (a separate build
# tree, build-asan). LibTorch's own allocations are not instrumented; leak checking is left to
# the torch-free suite because LibTorch keeps process-lifetime allocations.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized \
  -Dgstreamer=disabled -Dffmpeg=disabled >/dev/null
ninja -C build-asan
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
meson test -C build-asan --print-errorlogs support
ASAN_OPTIONS=detect_leaks=0 meson test -C build-asan --print-errorlogs c-api codec-model rate-control cli
