#!/usr/bin/env bash
# The main job: install what is missing, build everything, then encode and decode the sample
# images (../shared/data/valid) with the default model through the nic CLI, printing bpp, PSNR
# and time per image. FFmpeg and GStreamer round trips follow when those parts are built.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build

samples=${NIC_SAMPLES:-${NIC_DATA_DIR:-../shared/data}/valid}
qp=${NIC_QP:-24}
out=build/main-job
mkdir -p "$out"
echo "== nic CLI: encode + decode at qp $qp (default model) =="
printf "%-22s %9s %8s %9s %9s\n" image bytes bpp "PSNR dB" "enc+dec s"
for png in "$samples"/*.png; do
  name=$(basename "$png" .png)
  start=$(date +%s.%N)
  build/tools/nic encode "$png" -o "$out/$name.nic" --qp "$qp" --threads 2 >/dev/null
  build/tools/nic decode "$out/$name.nic" -o "$out/$name.png" --threads 2 >/dev/null
  end=$(date +%s.%N)
  bytes=$(stat -c %s "$out/$name.nic")
  read -r w h < <(build/tools/nic info "$out/$name.nic" | sed -E 's/.*: ([0-9]+)x([0-9]+),.*/\1 \2/')
  psnr=$(build/tools/nic psnr "$png" "$out/$name.png")
  printf "%-22s %9d %8.4f %9.2f %9.2f\n" "$name" "$bytes" "$(echo "$bytes*8/($w*$h)" | bc -l)" \
    "$psnr" "$(echo "$end-$start" | bc -l)"
done

# GStreamer: one sample through gst-launch-1.0 (encode to a raw .nic, then parse + decode).
if [ -f build/gst-plugin/libgstnic.so ]; then
  export GST_PLUGIN_PATH=$PWD/build/gst-plugin GST_REGISTRY_1_0=$PWD/build/gst-registry.bin
  png=$(ls "$samples"/*.png | head -n 1)
  name=$(basename "$png" .png)
  echo "== GStreamer: pngdec ! nicenc qp=$qp ! filesink, then filesrc ! nicparse ! nicdec ! pngenc =="
  start=$(date +%s.%N)
  gst-launch-1.0 -q filesrc location="$png" ! pngdec ! videoconvert ! nicenc qp="$qp" threads=2 \
    ! filesink location="$out/$name.gst.nic"
  gst-launch-1.0 -q filesrc location="$out/$name.gst.nic" ! nicparse ! nicdec threads=2 \
    ! videoconvert ! pngenc ! filesink location="$out/$name.gst.png"
  end=$(date +%s.%N)
  printf "%-22s %9d bytes  PSNR %.2f dB  %.2f s\n" "$name" "$(stat -c %s "$out/$name.gst.nic")" \
    "$(build/tools/nic psnr "$png" "$out/$name.gst.png")" "$(echo "$end-$start" | bc -l)"
fi

# FFmpeg: the samples as a sequence, PNG -> nic in Matroska -> PNG, with ffprobe's view.
if [ -x build/ffmpeg-codec/prefix/bin/ffmpeg ]; then
  echo "== FFmpeg: ffmpeg -i frames -c:v nic out.mkv, then back to PNG =="
  ffmpeg-codec/roundtrip.sh "$samples" "$out/ffmpeg" "$qp"
fi
