#!/usr/bin/env bash
# The main job's FFmpeg part: a PNG sequence -> `ffmpeg -c:v nic` in Matroska -> PNG, with the
# default model (or $NIC_MODEL). Prints what ffprobe sees, then bytes, bpp and PSNR per frame,
# and the encode and decode wall time.
#
# Usage: ffmpeg-codec/roundtrip.sh SAMPLES_DIR OUT_DIR [QP]
#   SAMPLES_DIR  PNG images of one size (e.g. ../shared/data/valid), taken in name order
#   OUT_DIR      gets frames.mkv and the decoded 0000.png ...
# Environment: FFMPEG, FFPROBE (default: build/ffmpeg-codec/prefix/bin/...).
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${1:?samples directory}" out="${2:?output directory}" qp="${3:-24}"
ff="${FFMPEG:-build/ffmpeg-codec/prefix/bin/ffmpeg}"
fp="${FFPROBE:-build/ffmpeg-codec/prefix/bin/ffprobe}"
[ -x "$ff" ] || { echo "roundtrip: no $ff (FFmpeg not built)" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/[0-9][0-9][0-9][0-9].png "$out/frames.mkv" "$out/psnr.log"
now() { date +%s.%N; }

# A sequence has one size: frames of other sizes are scaled to the first one's.
first=$(ls "$samples"/*.png | sort | head -n 1)
read -r w h < <("$fp" -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0:s=x "$first" | tr x ' ')

echo "== ffmpeg -c:v nic: $samples/*.png -> $out/frames.mkv -> PNG (qp $qp) =="
t0=$(now)
"$ff" -nostdin -v error -y -pattern_type glob -i "$samples/*.png" -vf "scale=$w:$h" -c:v nic -qp "$qp" "$out/frames.mkv"
t1=$(now)
"$ff" -nostdin -v error -y -i "$out/frames.mkv" -fps_mode passthrough -start_number 0 "$out/%04d.png"
t2=$(now)

"$fp" -v error -count_frames -select_streams v:0 \
  -show_entries stream=codec_name,codec_tag_string,width,height,nb_read_frames \
  -of compact=p=0 "$out/frames.mkv"
# PSNR per frame against the source at the sequence size (scaled like the encoder input).
nic="${NIC_CLI:-build/tools/nic}"
i=0
for png in $(ls "$samples"/*.png | sort); do
  "$ff" -nostdin -v error -y -i "$png" -vf "scale=$w:$h" -pix_fmt rgb24 "$out/ref.png"
  echo "psnr_avg:$("$nic" psnr "$out/ref.png" "$(printf "$out/%04d.png" "$i")")"
  i=$((i + 1))
done > "$out/psnr.log"
rm -f "$out/ref.png"
"$fp" -v error -select_streams v:0 -show_entries packet=size -of csv=p=0 "$out/frames.mkv" > "$out/sizes.txt"

ls "$samples"/*.png | sort > "$out/names.txt"
paste -d' ' "$out/names.txt" "$out/sizes.txt" <(sed -n 's/.*psnr_avg:\([^ ]*\).*/\1/p' "$out/psnr.log") |
  awk -v w="$w" -v h="$h" -v enc="$(echo "$t1 - $t0" | bc -l)" -v dec="$(echo "$t2 - $t1" | bc -l)" '
    BEGIN { printf "%-22s %9s %8s %9s\n", "image", "bytes", "bpp", "PSNR dB" }
    { n = split($1, p, "/"); name = p[n]; sub(/\.png$/, "", name)
      printf "%-22s %9d %8.4f %9.2f\n", name, $2, $2 * 8 / (w * h), $3; bytes += $2; psnr += $3; k++ }
    END { printf "%-22s %9d %8.4f %9.2f\n", "mean", bytes / k, bytes * 8 / (w * h * k), psnr / k
          printf "encode %.1f s, decode %.1f s for %d frames (model load included)\n", enc, dec, k }'
