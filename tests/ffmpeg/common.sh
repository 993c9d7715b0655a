# Shared helpers of the FFmpeg integration tests (sourced by the test-*.sh scripts).
#
# Every ffmpeg, ffprobe and nic process loads LibTorch (about a second here), so the tests do
# their work in few processes: one ffmpeg run encodes to all containers, decodes all files, etc.
#
# Environment (set by tests/ffmpeg/meson.build):
#   FFMPEG, FFPROBE   the nic-enabled ffmpeg and ffprobe (build/ffmpeg-codec/prefix/bin)
#   NIC_CLI           the nic command-line tool (build/tools/nic)
#   NIC_MODEL         the model every process uses (the tests' small model)
#   NIC_TEST_DATA     a directory of PNG photos (../shared/data/valid); testsrc2 if absent
#   NIC_TEST_TMP      where the scratch directories go (default /tmp)
#   NIC_FFMPEG_MIN_PSNR  lowest PSNR (dB) a decoded frame may have against its source
#                        (default 0, for the random test model; the containers test runs the
#                        shipped model with a floor of 22)
#   NIC_TEST_KEEP=1   keep the scratch directory
set -euo pipefail

: "${FFMPEG:?FFMPEG must name the nic-enabled ffmpeg}"
: "${FFPROBE:?FFPROBE must name the nic-enabled ffprobe}"
: "${NIC_CLI:?NIC_CLI must name the nic tool}"
: "${NIC_MODEL:?NIC_MODEL must name the model}"
export NIC_MODEL
MIN_PSNR="${NIC_FFMPEG_MIN_PSNR:-0}"

mkdir -p "${NIC_TEST_TMP:-/tmp}"
work="$(mktemp -d "${NIC_TEST_TMP:-/tmp}/$(basename "$0" .sh).XXXXXX")"
if [ "${NIC_TEST_KEEP:-0}" = 1 ]; then
  echo "scratch directory: $work"
else
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "-- $*"; }

# ffmpeg with quiet defaults; arguments as for ffmpeg.
ff() { "$FFMPEG" -nostdin -hide_banner -loglevel error -y "$@"; }

# make_sources N W1xH1 [W2xH2 ...]: writes N frames of each size, src_<W>x<H>_000.png ..., from
# the test photos (scaled down to twice the size so the crop keeps structure), or from
# testsrc2 when they are not there. One ffmpeg run.
make_sources() {
  local n="$1"; shift
  local input=() graph="" maps=() k=0 size w h
  if [ -n "${NIC_TEST_DATA:-}" ] && ls "$NIC_TEST_DATA"/*.png >/dev/null 2>&1; then
    input=(-pattern_type glob -i "$NIC_TEST_DATA/*.png")
  else
    input=(-f lavfi -i "testsrc2=size=768x512:rate=25")
  fi
  graph="[0:v]split=$#"
  for size in "$@"; do graph="$graph[in$k]"; k=$((k + 1)); done
  k=0
  for size in "$@"; do
    w="${size%x*}" h="${size#*x}"
    graph="$graph;[in$k]scale=w='max($w*2,16)':h='max($h*2,16)',crop=$w:$h,format=rgb24[out$k]"
    maps+=(-map "[out$k]" -frames:v "$n" -start_number 0 "src_${size}_%03d.png")
    k=$((k + 1))
  done
  ff "${input[@]}" -filter_complex "$graph" "${maps[@]}"
  for size in "$@"; do
    [ -f "$(printf "src_${size}_%03d.png" $((n - 1)))" ] || fail "could not make $n source frames of $size"
  done
}

# probe FILE: "codec_name width height nb_read_frames" of the first video stream (decodes to
# count), followed by the format name.
probe() {
  "$FFPROBE" -v error -count_frames -select_streams v:0 \
    -show_entries stream=codec_name,width,height,nb_read_frames:format=format_name \
    -of default=noprint_wrappers=1:nokey=1 "$1" | tr '\n' ' ' | sed 's/ $//'
}

# check_probe FILE CODEC W H N: ffprobe reports codec, size and frame count.
check_probe() {
  local got
  got="$(probe "$1")"
  case "$got" in
    "$2 $3 $4 $5 "*) echo "   ffprobe $1: $got" ;;
    *) fail "ffprobe $1: '$got', expected '$2 $3 $4 $5 <format>'" ;;
  esac
}

# md5s OUT_PREFIX INPUT...: one ffmpeg run writes OUT_PREFIX<k>.md5 with the MD5 of each
# decoded frame (as RGB24) of input k, one a line. An input "pattern@START" is an image
# sequence starting at START.
md5s() {
  local prefix="$1"; shift
  local args=() outs=() k=0 in
  for in in "$@"; do
    case "$in" in
      *@*) args+=(-start_number "${in##*@}" -i "${in%@*}") ;;
      *) args+=(-i "$in") ;;
    esac
    outs+=(-map "$k:v" -fps_mode passthrough -pix_fmt rgb24 -f framemd5 "$prefix$k.raw")
    k=$((k + 1))
  done
  ff "${args[@]}" "${outs[@]}"
  for ((k = 0; k < $#; k++)); do
    grep -v '^#' "$prefix$k.raw" | awk -F', *' '{ print $5 " " $6 }' > "$prefix$k.md5"
  done
}

# psnrs OUT_PREFIX SRC_PATTERN DEC_PATTERN [SRC DEC ...]: one ffmpeg run writes
# OUT_PREFIX<k>.psnr with the PSNR (dB over R, G, B; "inf" if identical) of each frame of pair k.
psnrs() {
  local prefix="$1"; shift
  local args=() graph="" maps=() k=0 i=0
  while [ $# -ge 2 ]; do
    args+=(-start_number 0 -i "$1" -start_number 0 -i "$2")
    graph="$graph${graph:+;}[$i:v]format=rgb24[a$k];[$((i + 1)):v]format=rgb24[b$k];[a$k][b$k]psnr=stats_file=$prefix$k.log[p$k]"
    maps+=(-map "[p$k]" -f null -)
    shift 2; k=$((k + 1)); i=$((i + 2))
  done
  ff "${args[@]}" -filter_complex "$graph" "${maps[@]}"
  for ((i = 0; i < k; i++)); do
    sed -n 's/.*psnr_avg:\([^ ]*\).*/\1/p' "$prefix$i.log" > "$prefix$i.psnr"
  done
}

# check_psnr_file FILE N WHAT: N values, each at least MIN_PSNR.
check_psnr_file() {
  local n
  n="$(grep -c . "$1" || true)"
  [ "$n" -eq "$2" ] || fail "$3: the psnr filter saw $n frames, expected $2"
  awk -v m="$MIN_PSNR" -v what="$3" '{
      p = ($1 == "inf") ? 99 : $1 + 0
      if (p < m + 0) { printf "%s frame %d: PSNR %.2f dB below %s dB\n", what, NR - 1, p, m; bad = 1 }
      line = line sprintf(" %.2f", p) }
    END { printf "   %s PSNR (dB):%s\n", what, line; exit bad }' "$1" || fail "$3: PSNR"
}

# same_lines FILE_A FILE_B WHAT: identical (frame by frame MD5s).
same_lines() {
  [ -s "$1" ] || fail "$3: no frames"
  cmp -s "$1" "$2" || { diff "$1" "$2" >&2 || true; fail "$3: frames differ"; }
}

# count_files GLOB: how many files match.
count_files() { ls $1 2>/dev/null | wc -l; }

# frame_qp_fixed FILE [OFFSET]: qp_fixed (qp * 256) of the frame unit at OFFSET in FILE.
frame_qp_fixed() {
  od -An -tu2 -j$(( ${2:-0} + 19 )) -N2 "$1" | tr -d ' '
}

# frames FILE: "offset size qp" of each frame unit of a raw .nic stream, from the headers
# (docs/bitstream.md).
frames() {
  python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read(); o = 0
while o + 22 <= len(d):
    n = d[o + 21]
    size = 22 + 4 * n + sum(struct.unpack_from('<%dI' % n, d, o + 22)) + 4
    print(o, size, struct.unpack_from('<H', d, o + 19)[0] / 256)
    o += size
PY
}
