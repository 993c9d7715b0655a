#!/usr/bin/env bash
# Frame sizes that are multiples of nothing: 17x33, 1x1 and 95x7, each through a raw .nic
# stream and Matroska. Checks ffprobe's size and frame count, the decoded frame size and count,
# the PSNR floor, and that the pixels equal `nic decode` of the same frames.
source "$(dirname "$0")/common.sh"

N=2
sizes=(17x33 1x1 95x7)
make_sources $N "${sizes[@]}"

note "encode ${sizes[*]} into .nic and .mkv (one ffmpeg run)"
args=() outs=() k=0
for s in "${sizes[@]}"; do
  args+=(-i "src_${s}_%03d.png")
  outs+=(-map "$k:v" -c:v nic -qp 28 "odd_$s.nic" -map "$k:v" -c:v nic -qp 28 "odd_$s.mkv")
  k=$((k + 1))
done
ff "${args[@]}" "${outs[@]}"
files=()
for s in "${sizes[@]}"; do files+=("odd_$s.nic" "odd_$s.mkv"); done

note "ffprobe"
for f in "${files[@]}"; do
  s="${f#odd_}"; s="${s%.*}"
  check_probe "$f" nic "${s%x*}" "${s#*x}" $N
done

note "decode (one ffmpeg run)"
args=() outs=() k=0
for f in "${files[@]}"; do
  args+=(-i "$f")
  outs+=(-map "$k:v" -fps_mode passthrough -start_number 0 "dec_${f%.*}_${f##*.}_%03d.png")
  k=$((k + 1))
done
ff "${args[@]}" "${outs[@]}"

note "PSNR against the sources"
pairs=()
for f in "${files[@]}"; do s="${f#odd_}"; s="${s%.*}"; pairs+=("src_${s}_%03d.png" "dec_${f%.*}_${f##*.}_%03d.png"); done
psnrs psnr_ "${pairs[@]}"
k=0
for f in "${files[@]}"; do check_psnr_file "psnr_$k.psnr" $N "$f"; k=$((k + 1)); done

note "same pixels as nic decode, right size"
args=() outs=() k=0
for f in "${files[@]}"; do args+=(-i "$f"); outs+=(-map "$k:v" -c copy -f nic "packets_$k.nic"); k=$((k + 1)); done
ff "${args[@]}" "${outs[@]}"
cat $(for ((k = 0; k < ${#files[@]}; k++)); do echo "packets_$k.nic"; done) > packets.nic
"$NIC_CLI" decode packets.nic -o ref%03d.png > /dev/null
inputs=() k=0
for f in "${files[@]}"; do inputs+=("dec_${f%.*}_${f##*.}_%03d.png@0" "ref%03d.png@$((k * N))"); k=$((k + 1)); done
md5s md5_ "${inputs[@]}"
k=0
for f in "${files[@]}"; do
  s="${f#odd_}"; s="${s%.*}"
  head -n $N "md5_$((2 * k + 1)).md5" > "ref_$k.md5"
  same_lines "md5_$((2 * k)).md5" "ref_$k.md5" "$f vs nic decode"
  bytes=$(( ${s%x*} * ${s#*x} * 3 ))
  [ "$(awk '{ print $1 }' "md5_$((2 * k)).md5" | sort -u)" = "$bytes" ] || fail "$f: decoded frames are not $s"
  echo "   $f: $N frames of $s identical to nic decode"
  k=$((k + 1))
done
echo "PASS odd sizes"
