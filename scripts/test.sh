#!/usr/bin/env bash
# Builds everything and runs every test suite (meson test). Exit status 0 = all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
# NIC_DATA_DIR: the data folder, when it is not ../shared/data beside this checkout.
[ -d build ] || meson setup build ${NIC_DATA_DIR:+-Ddata_dir="$NIC_DATA_DIR"} >/dev/null
ninja -C build
status=0
meson test -C build --print-errorlogs "$@" || status=$?
# One plain summary line, whatever the runner's own format.
python3 - build/meson-logs/testlog.json <<'PY'
import json, sys
results = [json.loads(line)["result"] for line in open(sys.argv[1]) if line.strip()]
passed = sum(r in ("OK", "EXPECTEDFAIL") for r in results)
skipped = sum(r == "SKIP" for r in results)
print(f"{passed} passed, {len(results) - passed - skipped} failed, {skipped} skipped")
PY
exit $status
