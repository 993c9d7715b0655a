#!/usr/bin/env bash
# Peak resident memory and wall time of one `nic encode` and one `nic decode` at several frame
# sizes (default 768x512 1920x1080 3840x2160 8192x8192), with the default model on the CPU. The
# source is a validation photo scaled to each size (FFmpeg's scale filter, from our build).
# Each run gets an address-space limit (NIC_BENCH_MEMORY_LIMIT_GB, default 16) so that a frame
# that does not fit fails with an error instead of taking the machine down; such a row says
# "failed" with nic's message. NIC_BENCH_TILE_PIXELS, when set, is passed as --tile-pixels (the
# largest piece the transforms run on; the library's default otherwise). Prints a markdown table.
# Usage: bench/peak-memory.sh [SIZES...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(768x512 1920x1080 3840x2160 8192x8192)
nic="$here/build/tools/nic"
ffmpeg="$here/build/ffmpeg-codec/ffmpeg"
photo="${NIC_BENCH_PHOTO:-$here/../shared/data/valid/wiki_043.png}"
limit_gb="${NIC_BENCH_MEMORY_LIMIT_GB:-16}"
threads="${NIC_BENCH_THREADS:-2}"
tiles=()
[ -z "${NIC_BENCH_TILE_PIXELS:-}" ] || tiles=(--tile-pixels "$NIC_BENCH_TILE_PIXELS")
for tool in "$nic" "$ffmpeg"; do
  [ -x "$tool" ] || { echo "peak-memory: $tool is missing; build first (ninja -C build)" >&2; exit 1; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# run NAME CMD...: prints "peak MB|seconds|status" of CMD under the address-space limit.
run() {
  local name=$1 rc=0
  shift
  ( ulimit -v $((limit_gb * 1024 * 1024)); /usr/bin/time -f '%M %e' -o "$work/$name.time" "$@" ) \
    > "$work/$name.log" 2>&1 || rc=$?
  read -r kb seconds < <(tail -n1 "$work/$name.time")
  if [ "$rc" -eq 0 ]; then
    echo "$((kb / 1024))|$seconds|ok"
  else
    echo "$((kb / 1024))|$seconds|failed: $(grep -v '^Command' "$work/$name.log" | head -n1 | cut -c1-80)"
  fi
}

echo "nic CLI, default model, CPU, $threads threads, address-space limit ${limit_gb} GiB, tiles: ${NIC_BENCH_TILE_PIXELS:-default}"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| frame | encode peak RSS (MB) | encode s | decode peak RSS (MB) | decode s | result |"
echo "|---|---|---|---|---|---|"
for size in "${sizes[@]}"; do
  w=${size%x*} h=${size#*x}
  "$ffmpeg" -nostdin -v error -y -i "$photo" -vf "scale=$w:$h" -pix_fmt rgb24 "$work/src.png"
  IFS='|' read -r enc_mb enc_s enc_status < <(run "enc-$size" "$nic" encode "$work/src.png" \
    -o "$work/f.nic" --threads "$threads" --max-pixels $((w * h)) "${tiles[@]}")
  dec_mb="-" dec_s="-" dec_status="not run"
  if [ "$enc_status" = ok ]; then
    IFS='|' read -r dec_mb dec_s dec_status < <(run "dec-$size" "$nic" decode "$work/f.nic" \
      -o "$work/out.png" --threads "$threads" --max-pixels $((w * h)) "${tiles[@]}")
  fi
  result="encode $enc_status, decode $dec_status"
  echo "| ${w}x${h} | $enc_mb | $enc_s | $dec_mb | $dec_s | $result |"
  rm -f "$work/f.nic" "$work/out.png"
done
