#!/usr/bin/env bash
# Encode and decode speed of `ffmpeg -c:v nic` (the patched FFmpeg of ffmpeg-codec/), in frames/s,
# at 768x512 and 1920x1080. The picture is a validation photo (scaled for 1080p), repeated.
#
# Per-frame times come from ffmpeg -benchmark_all (wall-clock time inside the encoder's and the
# decoder's calls: model load, file I/O and PNG decoding are not counted), and the CPU time of
# all threads in brackets. The first frame of a run is a warm-up (kernel selection,
# allocations) and is reported separately; the others give medians. On a shared machine the
# wall times depend on the load, which is printed.
#
# A pipelined encoder (-pipeline 1, the default on a GPU) returns each packet one call after its
# frame: its first call only queues, the second pays the warm-up, and the last frame is coded in
# the flush (ffmpeg's "flush_video"). So the flush counts as a frame's call, and the warm-up is
# the first of the FRAMES largest calls, wherever it falls.
#
# Usage: bench/ffmpeg-fps.sh [FRAMES] [SIZES...]    (default: 4 frames; 768x512 1920x1080)
# Environment: FFMPEG (default build/ffmpeg-codec/prefix/bin/ffmpeg), NIC_MODEL (default: the
# library's default model), NIC_BENCH_THREADS (-threads, default 0 = libnic's default),
# NIC_BENCH_DEVICE (default cpu), NIC_BENCH_PRECISION (-precision, default auto),
# NIC_BENCH_PIPELINE (-pipeline: auto, 0 or 1; default auto),
# NIC_BENCH_PHOTO (default ../shared/data/valid/wiki_043.png).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ffmpeg="${FFMPEG:-$here/build/ffmpeg-codec/prefix/bin/ffmpeg}"
frames="${1:-4}"
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(768x512 1920x1080)
threads="${NIC_BENCH_THREADS:-0}"
device="${NIC_BENCH_DEVICE:-cpu}"
precision="${NIC_BENCH_PRECISION:-auto}"
pipeline="${NIC_BENCH_PIPELINE:-auto}"
photo="${NIC_BENCH_PHOTO:-$here/../shared/data/valid/wiki_043.png}"
[ -x "$ffmpeg" ] || { echo "no ffmpeg at $ffmpeg: build it first" >&2; exit 1; }
[ -f "$photo" ] || { echo "no photo at $photo (NIC_BENCH_PHOTO)" >&2; exit 1; }
[ "$frames" -ge 2 ] || { echo "FRAMES must be at least 2" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# frame_times LOG LABELS: "wall user" microseconds of the FRAMES largest calls whose label
# matches the regex LABELS, in call order: one per frame (the other calls return no packet and
# take microseconds). user is the CPU time of all threads.
frame_times() {
  grep -E "real ($2) " "$1" | awk '{ print NR, $6, $2 }' | sort -k2,2nr | head -n "$frames" \
    | sort -k1,1n | awk '{ print $2, $3 }'
}
# summary: "first-frame wall s, median wall s of the others, their frames/s, their median CPU s"
summary() {
  awk 'NR == 1 { first = $1; next } { wall[++n] = $1; cpu[n] = $2 }
       function median(a, n,    i, j, t) {
         for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
         return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
       }
       END { w = median(wall, n); printf "%.3f %.3f %.3f %.2f", first / 1e6, w / 1e6, 1e6 / w, median(cpu, n) / 1e6 }'
}

echo "ffmpeg: $ffmpeg"
echo "model: ${NIC_MODEL:-(libnic default)}, device $device, precision $precision, pipeline $pipeline, threads $threads, $frames frames, load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %9s %20s %20s %11s %11s\n' size kB/frame "enc s/frame (cpu s)" "dec s/frame (cpu s)" "encode fps" "decode fps"
for size in "${sizes[@]}"; do
  w="${size%x*}" h="${size#*x}"
  "$ffmpeg" -nostdin -hide_banner -loglevel error -y -i "$photo" -vf "scale=$w:$h" -pix_fmt rgb24 "$work/in.png"
  "$ffmpeg" -nostdin -hide_banner -nostats -benchmark_all -loop 1 -i "$work/in.png" -frames:v "$frames" \
    -c:v nic -device "$device" -precision "$precision" -pipeline "$pipeline" -threads "$threads" -y -f nic "$work/out.nic" > "$work/enc.log" 2>&1 \
    || { tail -n 5 "$work/enc.log" >&2; exit 1; }
  "$ffmpeg" -nostdin -hide_banner -nostats -benchmark_all -threads "$threads" -device "$device" -precision "$precision" \
    -i "$work/out.nic" -f null - > "$work/dec.log" 2>&1 || { tail -n 5 "$work/dec.log" >&2; exit 1; }
  read -r e1 en efps ecpu <<< "$(frame_times "$work/enc.log" "encode_video|flush_video" | summary)"
  read -r d1 dn dfps dcpu <<< "$(frame_times "$work/dec.log" decode_video | summary)"
  kb="$(( $(stat -c %s "$work/out.nic") / frames / 1024 ))"
  printf '%-10s %9d %20s %20s %11s %11s\n' "$size" "$kb" "$en ($ecpu)" "$dn ($dcpu)" "$efps" "$dfps"
  echo "           first frame (warm-up): encode $e1 s, decode $d1 s"
done
