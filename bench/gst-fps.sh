#!/usr/bin/env bash
# Frames/s of nicenc and nicdec in gst-launch-1.0 pipelines (the plugin of gst-plugin/), at the
# given sizes (default 1920x1080). The source is a validation photo, frozen and scaled. Per-frame
# time = (time for N+1 frames - time for 1 frame) / N, so model loading and start-up cancel out.
#
# Usage: bench/gst-fps.sh [FRAMES] [SIZES...]   (default: 3 frames; 1920x1080)
# Environment: NIC_BENCH_THREADS (default 2), NIC_BENCH_MEMORY_POOL (the elements' memory-pool
# property, default true), NIC_MODEL, NIC_BENCH_PHOTO.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
frames="${1:-3}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1920x1080)
threads="${NIC_BENCH_THREADS:-2}"
pool="${NIC_BENCH_MEMORY_POOL:-true}"
photo="${NIC_BENCH_PHOTO:-$here/../shared/data/valid/wiki_043.png}"
export GST_PLUGIN_PATH="$here/build/gst-plugin" GST_REGISTRY_1_0="$here/build/gst-registry.bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

seconds() { local s; s=$(date +%s.%N); "$@"; echo "$(date +%s.%N) - $s" | bc -l; }
encode() {  # encode COUNT W H OUT
  gst-launch-1.0 -q filesrc location="$photo" ! pngdec ! imagefreeze num-buffers="$1" \
    ! videoscale ! videoconvert ! "video/x-raw,format=RGB,width=$2,height=$3" \
    ! nicenc threads="$threads" memory-pool="$pool" ! filesink location="$4"
}
decode() {  # decode IN
  gst-launch-1.0 -q filesrc location="$1" ! nicparse ! nicdec threads="$threads" memory-pool="$pool" ! fakesink
}

echo "threads $threads, memory-pool $pool, $frames frames, load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %12s %12s %11s %11s\n' size "enc s/frame" "dec s/frame" "encode fps" "decode fps"
for size in "${sizes[@]}"; do
  w="${size%x*}" h="${size#*x}"
  e1=$(seconds encode 1 "$w" "$h" "$work/one.nic")
  en=$(seconds encode $((frames + 1)) "$w" "$h" "$work/many.nic")
  d1=$(seconds decode "$work/one.nic")
  dn=$(seconds decode "$work/many.nic")
  enc=$(echo "($en - $e1) / $frames" | bc -l)
  dec=$(echo "($dn - $d1) / $frames" | bc -l)
  printf '%-10s %12.2f %12.2f %11.3f %11.3f\n' "$size" "$enc" "$dec" "$(echo "1 / $enc" | bc -l)" \
    "$(echo "1 / $dec" | bc -l)"
done
