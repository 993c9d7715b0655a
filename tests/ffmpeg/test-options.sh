#!/usr/bin/env bash
# The encoder's options: -qp, -q:v / -qscale:v and -global_quality (lambda units) give the qp
# written into each frame header; -q:v beyond 63 is refused; -b:v runs rate control (cbr keeps
# every frame within its budget plus the buffer, abr holds the average, -maxrate/-bufsize cap
# it); -rc_override sets the qp of frame ranges, with and without rate control; a missing model and an
# absent device fail with a message; -threads and -model are accepted (encoder and decoder), and
# without -model the decoder loads the installed model that made the stream;
# -effort refines the latents (its frames decode) and is refused out of 1..9; -precision
# float16 frames decode in bfloat16 and an unknown precision is refused; -pipeline 1 gives the
# frames and timestamps of -pipeline 0 and -pipeline 2 is refused;
# the ffmpeg tool shows the qp as q=.
source "$(dirname "$0")/common.sh"

make_sources 4 32x32
src=src_32x32_%03d.png

# "options|expected qp_fixed" (qp * 256); all encoded in one ffmpeg run.
cases=(
  "|$((24 * 256))"                          # default -qp 24
  "-qp 12.5|$((25 * 128))"
  "-q:v 30|$((30 * 256))"
  "-qscale:v 7.5|$((15 * 128))"
  "-global_quality 2950|$((25 * 256))"      # 2950 / FF_QP2LAMBDA (118) = qp 25
  "-qp 40 -q:v 10|$((10 * 256))"            # -q:v wins over -qp
  "-qp 0|0"
  "-qp 63|$((63 * 256))"
  "-threads 1 -model $NIC_MODEL|$((24 * 256))"
  "-rc cqp -b:v 100k|$((24 * 256))"         # -b:v ignored, with a warning
  "-effort 2 -qp 30|$((30 * 256))"          # q_10.nic: refined latents
  "-precision float16 -qp 30|$((30 * 256))"  # q_11.nic: float16 networks
)
outs=() k=0
for c in "${cases[@]}"; do
  outs+=(-map 0:v -c:v nic ${c%|*} -f nic "q_$k.nic")
  k=$((k + 1))
done
"$FFMPEG" -nostdin -hide_banner -loglevel warning -y -i "$src" "${outs[@]}" > log.txt 2>&1 \
  || { cat log.txt; fail "encoding with the options failed"; }
k=0
for c in "${cases[@]}"; do
  got="$(frame_qp_fixed "q_$k.nic")"
  [ "$got" = "${c#*|}" ] || fail "'${c%|*}' wrote qp_fixed $got, expected ${c#*|}"
  echo "   '${c%|*}' -> qp $(awk -v q="$got" 'BEGIN { printf "%g", q / 256 }')"
  k=$((k + 1))
done
grep -q "b:v is ignored" log.txt || { cat log.txt; fail "no warning for -rc cqp -b:v"; }

note "rate control: -b:v with -rc cbr and -rc abr"
# A budget halfway between the frames' sizes at qp 0 and at qp 63.
s0="$(frames q_6.nic | awk '{ s += $2 } END { print s / NR }')"
s63="$(frames q_7.nic | awk '{ s += $2 } END { print s / NR }')"
budget="$(awk -v a="$s0" -v b="$s63" 'BEGIN { printf "%d", (a + b) / 2 }')"
rate=$((budget * 8 * 25))
echo "   mean frame: $s0 bytes at qp 0, $s63 at qp 63; budget $budget bytes/frame = $rate bit/s at 25 fps"
ff -r 25 -i "$src" \
  -map 0:v -c:v nic -b:v "$rate" -rc cbr -bufsize $((rate / 25)) -f nic cbr.nic \
  -map 0:v -c:v nic -b:v "$rate" -rc abr -rc_window 4 -f nic abr.nic
# Both bounds: a controller stuck at either end of the qp range (qp 63 codes 1.45x below the budget,
# qp 0 1.3x above it) fails, as does one that overdraws.
frames cbr.nic | awk -v b="$budget" '{ printf "   cbr frame: %d bytes, qp %.2f\n", $2, $3
    if ($2 > 2 * b) { print "   over budget plus buffer"; bad = 1 } total += $2 }
  END { if (NR != 4 || total > 5 * b || total < 0.8 * 4 * b) { print "   frames " NR ", total " total; bad = 1 }
        exit bad }' || fail "cbr frames miss their budget"
frames abr.nic | awk -v b="$budget" '{ printf "   abr frame: %d bytes, qp %.2f\n", $2, $3; total += $2 }
  END { if (NR != 4 || total > 5 * b || total < 0.8 * 4 * b) { print "   frames " NR ", total " total; bad = 1 }
        exit bad }' || fail "abr total misses the budget"
{ frames cbr.nic; frames abr.nic; } | awk '$3 <= 0 || $3 >= 63 { bad = 1 } END { exit bad }' \
  || fail "rate control left a frame at an end of the qp range"

note "-maxrate: equal to -b:v selects cbr; above it caps abr by a leaky bucket of -bufsize"
peak=$((rate * 5 / 4)) bucket_bits=$((rate / 10))
"$FFMPEG" -nostdin -hide_banner -loglevel verbose -y -r 25 -i "$src" \
  -map 0:v -c:v nic -b:v "$rate" -maxrate "$rate" -f nic maxcbr.nic \
  -map 0:v -c:v nic -b:v "$rate" -maxrate "$peak" -bufsize "$bucket_bits" -f nic vbv.nic \
  > log.txt 2>&1 || { cat log.txt; fail "encoding with -maxrate failed"; }
grep -q "rate control cbr: $rate bit/s" log.txt || { grep "rate control" log.txt; fail "-maxrate = -b:v is not cbr"; }
grep -q "rate control abr: $rate bit/s at 25.000 frame/s, peak $peak bit/s, buffer 0.08 s" log.txt \
  || { grep "rate control" log.txt; fail "-maxrate/-bufsize not mapped onto the peak rate"; }
# The bucket drains peak/25/8 bytes a frame and holds bufsize/8 bytes.
frames vbv.nic | awk -v d="$peak" -v b="$bucket_bits" '{ fill += $2 - d / 200; if (fill < 0) fill = 0
    printf "   vbv frame: %d bytes, qp %.2f, bucket %d of %d bytes\n", $2, $3, fill, b / 8
    if (fill > b / 8 + 1 && $3 < 63) bad = 1 } END { exit bad }' || fail "a frame overflowed the -maxrate bucket"

note "-rc_override sets the qp of frame ranges, alone and under rate control"
ff -r 25 -i "$src" \
  -map 0:v -c:v nic -qp 10 -rc_override "1,2,50/3,3,0" -f nic override.nic \
  -map 0:v -c:v nic -b:v "$rate" -rc cbr -rc_override "0,0,2/3,3,60" -f nic override-cbr.nic
# qp 0, the finest, is a qp and not one of FFmpeg's quality factors.
[ "$(frames override.nic | awk '{ printf "%g ", $3 }')" = "10 50 50 0 " ] \
  || fail "-rc_override 1,2,50/3,3,0 with -qp 10 gave qps $(frames override.nic | awk '{ printf "%g ", $3 }')"
# The forced qp 2 frame overdraws the buffer: the controller counts it and codes the next frame
# coarser than the same frame in plain cbr.
plain_qp1="$(frames cbr.nic | awk 'NR == 2 { print $3 }')"
frames override-cbr.nic | awk -v p="$plain_qp1" '{ printf "   frame %d: %d bytes, qp %.2f\n", NR - 1, $2, $3 }
    NR == 1 && $3 != 2 { bad = 1 } NR == 4 && $3 != 60 { bad = 1 }
    NR == 2 && $3 <= p { print "   frame 1 at qp " $3 ", plain cbr " p ": the forced frame was not counted"; bad = 1 }
    END { exit bad }' || fail "-rc_override under cbr: wrong qps"

note "-pipeline 1: the same frames as -pipeline 0 (forced qps and cbr included), with their timestamps"
"$FFMPEG" -nostdin -hide_banner -loglevel verbose -y -r 25 -i "$src" \
  -map 0:v -c:v nic -pipeline 1 -qp 10 -rc_override "1,2,50/3,3,0" -f nic override-pipe.nic \
  -map 0:v -c:v nic -pipeline 1 -b:v "$rate" -rc cbr -bufsize $((rate / 25)) -f nic cbr-pipe.nic \
  -map 0:v -c:v nic -pipeline 1 -r 25 pipe.mkv \
  -map 0:v -c:v nic -pipeline 0 -r 25 nopipe.mkv > log.txt 2>&1 || { cat log.txt; fail "-pipeline 1 failed"; }
grep -q "pipeline delay: 1 frame" log.txt || { grep pipeline log.txt; fail "no pipeline delay of 1 in the log"; }
cmp -s override.nic override-pipe.nic || fail "-pipeline 1 changed the -rc_override frames"
cmp -s cbr.nic cbr-pipe.nic || fail "-pipeline 1 changed the cbr frames"
pts() { "$FFPROBE" -v error -select_streams v -show_entries packet=pts,dts,flags -of csv=p=0 "$1" | tr '\n' ' '; }
[ "$(pts pipe.mkv)" = "$(pts nopipe.mkv)" ] && [ "$(pts pipe.mkv | wc -w)" -eq 4 ] \
  || fail "packets of -pipeline 1: $(pts pipe.mkv); of -pipeline 0: $(pts nopipe.mkv)"
echo "   packets (pts,dts,flags): $(pts pipe.mkv)"

note "ffmpeg reports the qp as q="
"$FFMPEG" -nostdin -hide_banner -y -i "$src" -c:v nic -q:v 33 -f nic q.nic 2>&1 | tr '\r' '\n' \
  | grep -q "q=33.0" || fail "no q=33.0 in ffmpeg's progress line"

# must_fail "OPTIONS" PATTERN
must_fail() {
  local opts="$1" pattern="$2" rc=0
  "$FFMPEG" -nostdin -hide_banner -loglevel error -y -i "$src" -c:v nic $opts -f nic bad.nic > log.txt 2>&1 || rc=$?
  sed 's/^/   | /' log.txt | head -n 3
  [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || fail "'$opts' exited with $rc"
  grep -Eqi "$pattern" log.txt || fail "'$opts': no message matching /$pattern/"
}
note "-b:v with -q:v is refused"
must_fail "-b:v 100k -q:v 20" "either a bit rate"
note "-maxrate below -b:v, -maxrate without -b:v, quality-factor overrides are refused"
must_fail "-b:v 200k -maxrate 100k" "below -b:v"
must_fail "-maxrate 100k" "needs an average bit rate"
must_fail "-rc_override 0,1,-50" "quality factors"
note "-q:v 70 is refused"
must_fail "-q:v 70" "qp runs from 0 to 63"
note "a missing model is an error"
must_fail "-model $work/no-such-model.safetensors" "no-such-model"
note "-model takes an installed model's name; an unknown name is an error naming the installed ones"
ff -i "$src" -frames:v 1 -c:v nic -model nic-default -f nic named.nic
ff -model nic-default -i named.nic -f framemd5 named.raw
[ "$(grep -vc '^#' named.raw)" -eq 1 ] || fail "-model nic-default: decoded $(grep -vc '^#' named.raw) frames"
must_fail "-model nic-none" "no model named 'nic-none'.*nic-default"
note "without -model the decoder loads the installed model that encoded the stream (over NIC_MODEL)"
ff -i "$src" -frames:v 1 -c:v nic -model nic-s -f nic small.nic
ff -i small.nic -f framemd5 small-found.raw
ff -model nic-s -i small.nic -f framemd5 small-named.raw
[ "$(grep -vc '^#' small-found.raw)" -eq 1 ] && cmp -s small-found.raw small-named.raw \
  || fail "a nic-s stream decoded without -model: $(grep -vc '^#' small-found.raw) frames, differs from -model nic-s"
rc=0
"$FFMPEG" -nostdin -hide_banner -loglevel error -model nic-default -i small.nic -f null - > log.txt 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -qi "mismatch" log.txt \
  || { cat log.txt; fail "-model nic-default on a nic-s stream exited with $rc"; }
note "an absent device is an error"
must_fail "-device cuda:7" "cuda"
note "-precision: frames coded in float16 decode in bfloat16; an unknown precision is refused"
# oneDNN runs bfloat16 convolutions only with AVX-512 (BW, VL, DQ), AVX-NE-CONVERT or AMX; nic
# refuses bfloat16 on other CPUs, and there the frames decode in float32 instead.
flags=$(grep -m1 '^flags' /proc/cpuinfo)
half=float32
{ [[ $flags =~ avx512bw ]] && [[ $flags =~ avx512vl ]] && [[ $flags =~ avx512dq ]]; } \
  || [[ $flags =~ avx_ne_convert|amx_bf16 ]] && half=bfloat16
ff -precision $half -i q_11.nic -fps_mode passthrough -f framemd5 dec_half.raw
[ "$(grep -vc '^#' dec_half.raw)" -eq 4 ] || fail "decoded $(grep -vc '^#' dec_half.raw) float16 frames"
must_fail "-precision half" "float16"
note "-pipeline 2 is refused"
must_fail "-pipeline 2" "pipeline|out of range"
note "-effort 10 is refused"
must_fail "-effort 10" "effort"

note "-max_pixels below the frame's size: the encoder and the decoder refuse it"
must_fail "-max_pixels 100" "invalid|pixel"
rc=0
"$FFMPEG" -nostdin -hide_banner -loglevel error -max_pixels 100 -i q_1.nic -f null - > log.txt 2>&1 || rc=$?
sed 's/^/   | /' log.txt | head -n 3
[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || fail "decoding with -max_pixels 100 exited with $rc"

note "decoder options: -threads, -model"
ff -threads 1 -model "$NIC_MODEL" -i q_1.nic -fps_mode passthrough -f framemd5 dec.raw
[ "$(grep -vc '^#' dec.raw)" -eq 4 ] || fail "decoded $(grep -vc '^#' dec.raw) frames"
note "frames encoded with -effort 2 decode"
ff -i q_10.nic -fps_mode passthrough -f framemd5 dec_effort.raw
[ "$(grep -vc '^#' dec_effort.raw)" -eq 4 ] || fail "decoded $(grep -vc '^#' dec_effort.raw) effort-2 frames"
echo "PASS options"
