#!/usr/bin/env bash
# gst-launch-1.0 pipelines through the nic plugin. Usage: pipelines.sh CASE WORKDIR
# Environment: GST_PLUGIN_PATH (the build's gst-plugin dir), NIC_MODEL (the small test model),
# NIC_GST_TRAINED_MODEL (the shipped model: the cases that check pixels), optionally NIC_CLI.
# Cases: sizes, hd, png-sequence, raw-file, decodebin, udp-loopback, live.
set -euo pipefail

case_name=$1
work=$2/$case_name
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd "$work"

launch() {
  echo "+ gst-launch-1.0 $*" >&2
  timeout 100 gst-launch-1.0 -q "$@"
}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# Bytes of N frames of packed RGB as GStreamer lays them out (rows padded to 4 bytes).
rgb_bytes() { echo $(($1 * (($2 * 3 + 3) / 4 * 4) * $3)); }
expect_size() {
  local file=$1 expected=$2 actual
  actual=$(stat -c %s "$file")
  [ "$actual" -eq "$expected" ] || fail "$file has $actual bytes, expected $expected"
  echo "ok: $file, $actual bytes"
}
# Pixels of a PNG as packed RGB.
png_to_rgb() {
  launch filesrc location="$1" ! pngdec ! videoconvert ! video/x-raw,format=RGB ! filesink location="$2"
}
TO_RGB="videoconvert ! video/x-raw,format=RGB"
# round_trip W H FRAMES PATTERN NAME MIN_DB ENCODER [PROPERTY=VALUE...]: videotestsrc's frames as
# raw RGB (NAME-src.rgb) and through ENCODER ! nicdec (NAME.rgb) with the trained model; every
# frame must reach MIN_DB. NICDEC_PROPERTIES: properties of the nicdec.
trained_model=${NIC_GST_TRAINED_MODEL:-}
round_trip() {
  local w=$1 h=$2 n=$3 pattern=$4 name=$5 min_db=$6
  shift 6
  [ -f "$trained_model" ] || fail "NIC_GST_TRAINED_MODEL names no file: '$trained_model'"
  NIC_MODEL=$trained_model launch videotestsrc num-buffers="$n" pattern="$pattern" \
    ! video/x-raw,format=RGB,width="$w",height="$h",framerate=30/1 ! tee name=t \
    t. ! queue ! filesink location="$name-src.rgb" \
    t. ! queue ! videoconvert ! "$@" ! nicdec ${NICDEC_PROPERTIES:-} ! $TO_RGB ! filesink location="$name.rgb"
  expect_size "$name.rgb" "$(rgb_bytes "$n" "$w" "$h")"
  python3 "$here/rgb_psnr.py" "$w" "$h" "$name-src.rgb" "$name.rgb" "$min_db" \
    || fail "$name: a frame is below $min_db dB"
}

case $case_name in
sizes)
  # encoder -> decoder at several sizes, odd ones included
  for size in 64x48 97x61 320x240 8x8; do
    round_trip "${size%x*}" "${size#*x}" 3 ball "out-$size" 30 nicenc qp=20
  done
  # a higher encoder effort (refined latents) decodes the same way
  round_trip 80 64 2 ball out-effort 30 nicenc qp=20 effort=2
  # the float networks in float16 (encoder) and bfloat16 (decoder) keep the quality; bfloat16
  # needs AVX-512 (BW, VL, DQ), AVX-NE-CONVERT or AMX, else the decoder runs float32
  half=float32
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  { [[ $flags =~ avx512bw ]] && [[ $flags =~ avx512vl ]] && [[ $flags =~ avx512dq ]]; } \
    || [[ $flags =~ avx_ne_convert|amx_bf16 ]] && half=bfloat16
  NICDEC_PROPERTIES=precision=$half round_trip 80 64 2 ball out-precision 30 nicenc qp=20 \
    precision=float16
  # another installed model: nicdec without a model property loads the one the stream needs (over
  # NIC_MODEL); told the wrong one, it stops with a mismatch
  round_trip 64 48 2 ball out-nic-s 25 nicenc qp=20 model=nic-s
  if launch videotestsrc num-buffers=1 ! video/x-raw,width=64,height=48 ! videoconvert \
      ! nicenc model=nic-s ! nicdec model=nic-default ! fakesink > mismatch.log 2>&1; then
    fail "nicdec model=nic-default decoded a nic-s stream"
  fi
  grep -q "encoded with model" mismatch.log || fail "no mismatch message: $(cat mismatch.log)"
  echo "ok: nicdec model=nic-default refused a nic-s stream"
  # an unknown precision stops the pipeline with a message that names the choices
  if launch videotestsrc num-buffers=1 ! video/x-raw,width=64,height=64 ! videoconvert \
      ! nicenc precision=half ! fakesink > bad.log 2>&1; then
    fail "nicenc precision=half ran"
  fi
  grep -q "float16" bad.log || fail "no message naming the precisions: $(cat bad.log)"
  echo "ok: precision=half refused"
  ;;
hd)
  # colour bars: saturated edges are hard for a model of photos (23.7 dB at the default qp)
  round_trip 1920 1080 2 smpte out-1080p 21 nicenc
  ;;
png-sequence)
  mkdir -p in nic out
  launch videotestsrc num-buffers=4 pattern=ball ! video/x-raw,width=80,height=60,framerate=10/1 \
    ! videoconvert ! pngenc ! multifilesink location=in/%05d.png
  # PNG sequence -> one .nic file per frame
  launch multifilesrc location=in/%05d.png caps=image/png,framerate=10/1 ! pngdec ! videoconvert \
    ! nicenc ! multifilesink location=nic/%05d.nic
  [ "$(ls nic | wc -l)" -eq 4 ] || fail "expected 4 .nic files, got: $(ls nic)"
  # .nic files -> PNG sequence
  launch multifilesrc location=nic/%05d.nic caps=image/x-nic,framerate=10/1 ! nicparse ! nicdec \
    ! videoconvert ! pngenc ! multifilesink location=out/%05d.png
  [ "$(ls out | wc -l)" -eq 4 ] || fail "expected 4 decoded PNGs, got: $(ls out)"
  png_to_rgb out/00003.png gst.rgb
  expect_size gst.rgb "$(rgb_bytes 1 80 60)"
  # the same pixels as the CLI's decode of that frame
  if [ -n "${NIC_CLI:-}" ] && [ -x "$NIC_CLI" ]; then
    "$NIC_CLI" decode nic/00003.nic -o cli.png
    png_to_rgb cli.png cli.rgb
    cmp gst.rgb cli.rgb || fail "nicdec and 'nic decode' differ"
    echo "ok: nicdec output identical to 'nic decode'"
  else
    echo "note: NIC_CLI not set, CLI comparison skipped"
  fi
  ;;
raw-file)
  # a raw .nic stream is the concatenation of nicenc's buffers
  launch videotestsrc num-buffers=5 pattern=ball ! video/x-raw,width=72,height=40,framerate=25/1 \
    ! videoconvert ! nicenc qp=30 ! filesink location=stream.nic
  launch filesrc location=stream.nic ! nicparse ! nicdec ! $TO_RGB ! filesink location=parsed.rgb
  expect_size parsed.rgb "$(rgb_bytes 5 72 40)"
  # garbage before, between and after frames is skipped
  { head -c 777 /dev/urandom; head -c 1000 stream.nic; head -c 55 /dev/zero; cat stream.nic; } > damaged.nic
  launch filesrc location=damaged.nic ! nicparse ! nicdec ! $TO_RGB ! filesink location=damaged.rgb
  tail -c "$(stat -c %s parsed.rgb)" damaged.rgb | cmp - parsed.rgb || fail "resync lost frames"
  echo "ok: resynchronised after garbage"
  ;;
decodebin)
  launch videotestsrc num-buffers=3 pattern=ball ! video/x-raw,width=64,height=36,framerate=25/1 \
    ! videoconvert ! nicenc ! filesink location=stream.nic
  launch filesrc location=stream.nic ! nicparse ! nicdec ! $TO_RGB ! filesink location=direct.rgb
  launch filesrc location=stream.nic ! decodebin ! $TO_RGB ! filesink location=decodebin.rgb
  cmp direct.rgb decodebin.rgb || fail "decodebin output differs"
  expect_size decodebin.rgb "$(rgb_bytes 3 64 36)"
  launch uridecodebin uri="file://$work/stream.nic" ! $TO_RGB ! filesink location=uri.rgb
  cmp direct.rgb uri.rgb || fail "uridecodebin output differs"
  echo "ok: decodebin and uridecodebin found nicparse ! nicdec"
  ;;
udp-loopback)
  # The sender codes a still picture (pinwheel), so every frame received must be the very picture
  # that nicenc ! nicdec gives here.
  round_trip 64 48 1 pinwheel reference 22 nicenc
  port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  frames=5
  rtp_caps="application/x-rtp,media=(string)application,clock-rate=(int)90000,encoding-name=(string)X-GST"
  echo "+ receiver on 127.0.0.1:$port" >&2
  # receiver: stops after $frames decoded frames (eos-after counts the EOS too), or fails after 60 s
  NIC_MODEL=$trained_model timeout 60 gst-launch-1.0 -q udpsrc address=127.0.0.1 port="$port" caps="$rtp_caps" \
    ! rtpgstdepay ! nicdec ! $TO_RGB ! identity eos-after=$((frames + 1)) ! filesink location=received.rgb &
  receiver=$!
  sleep 1
  # live sender: 6 s of 64x48 at 10 fps, caps repeated in-band every second
  echo "+ sender to 127.0.0.1:$port" >&2
  NIC_MODEL=$trained_model timeout 60 gst-launch-1.0 -q videotestsrc is-live=true num-buffers=60 pattern=pinwheel \
    ! video/x-raw,format=RGB,width=64,height=48,framerate=10/1 ! videoconvert ! nicenc \
    ! rtpgstpay config-interval=1 ! udpsink host=127.0.0.1 port="$port" &
  sender=$!
  status=0
  wait "$receiver" || status=$?
  kill "$sender" 2>/dev/null || true
  wait "$sender" 2>/dev/null || true
  [ "$status" -eq 0 ] || fail "receiver exited with $status (124 = timed out)"
  expect_size received.rgb "$(rgb_bytes $frames 64 48)"
  for ((k = 0; k < frames; k++)); do cat reference.rgb; done > expected.rgb
  cmp received.rgb expected.rgb || fail "a received frame differs from the local round trip"
  echo "ok: $frames frames received, each identical to the local round trip"
  ;;
live)
  # A live camera stand-in faster than the coder (640x360 at 30 frames/s; on 2 CPU cores a frame
  # takes about 0.3 s to encode and as long to decode): the elements must drop frames so that the
  # pipeline keeps up with the clock. Without the drops the 3 s of video took 36 s.
  [ -f "$trained_model" ] || fail "NIC_GST_TRAINED_MODEL names no file: '$trained_model'"
  started=$(date +%s.%N)
  NIC_MODEL=$trained_model GST_DEBUG="nic*:4" GST_DEBUG_NO_COLOR=1 GST_DEBUG_FILE=live.log \
    launch videotestsrc is-live=true num-buffers=90 pattern=ball \
    ! video/x-raw,width=640,height=360,framerate=30/1 ! videoconvert ! nicenc ! nicdec \
    ! videoconvert ! fakesink sync=true
  elapsed=$(python3 -c "import time; print(round(time.time() - $started, 1))")
  summary() { sed -n "s/.*<$1> \([0-9]*\) frames coded, \([0-9]*\) dropped late.*/\1 \2/p" live.log; }
  read -r enc_coded enc_dropped < <(summary nicenc0)
  read -r dec_coded dec_dropped < <(summary nicdec0)
  echo "live: ${elapsed} s; nicenc coded $enc_coded, dropped $enc_dropped; nicdec coded $dec_coded, dropped $dec_dropped"
  [ -n "$enc_coded" ] && [ -n "$dec_coded" ] || fail "no frame counts in the log"
  [ $((enc_coded + enc_dropped)) -eq 90 ] || fail "nicenc saw $((enc_coded + enc_dropped)) of 90 frames"
  [ "$enc_dropped" -gt 0 ] || fail "nicenc dropped nothing"
  [ "$dec_coded" -ge 1 ] || fail "nicdec decoded nothing"
  grep -q "<nicenc0> reporting a latency of" live.log || fail "nicenc reported no latency"
  grep -q "(live deadline): dropped" live.log || fail "no drop was logged"
  python3 -c "import sys; sys.exit(0 if $elapsed < 15 else 1)" \
    || fail "3 s of live video took $elapsed s: the pipeline fell behind its clock"
  # A source that is not live is coded whole, however slow the coder.
  NIC_MODEL=$trained_model GST_DEBUG="nic*:4" GST_DEBUG_NO_COLOR=1 GST_DEBUG_FILE=file.log \
    launch videotestsrc num-buffers=20 pattern=ball ! video/x-raw,width=320,height=180,framerate=30/1 \
    ! videoconvert ! nicenc ! nicdec ! videoconvert ! fakesink sync=true
  read -r enc_coded enc_dropped < <(sed -n "s/.*<nicenc0> \([0-9]*\) frames coded, \([0-9]*\) dropped late.*/\1 \2/p" file.log)
  [ "$enc_coded" = 20 ] && [ "$enc_dropped" = 0 ] || fail "not live: nicenc coded '$enc_coded', dropped '$enc_dropped'"
  echo "ok: live source kept up (dropped frames logged); a file source lost none"
  ;;
*)
  fail "unknown case $case_name"
  ;;
esac
echo "PASS: $case_name"
