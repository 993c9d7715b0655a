#!/usr/bin/env bash
# PNG sequence -> nic in every container -> PNG, through the nic-enabled ffmpeg:
#   raw stream (-f nic, out.nic), image2 (one .nic per frame), Matroska, NUT, AVI.
# Checks, per container: ffprobe reports codec nic, the size and the frame count; every frame
# comes back as a PNG with a PSNR (ffmpeg's psnr filter) of at least NIC_FFMPEG_MIN_PSNR, and
# the first one's PSNR agrees with `nic psnr`; the decoded pixels equal what `nic decode` makes
# of the same frames (taken out of the container with -c copy -f nic).
source "$(dirname "$0")/common.sh"

W=64 H=48 N=3
containers=(nic image2 mkv nut avi)
out_nic=out.nic out_image2=out%03d.nic out_mkv=out.mkv out_nut=out.nut out_avi=out.avi
outname() { local v="out_$1"; echo "${!v}"; }

make_sources $N ${W}x${H}
src="src_${W}x${H}_%03d.png"

note "encode $N frames of ${W}x${H} into ${containers[*]} (one ffmpeg run)"
ff -i "$src" \
  -c:v nic -qp 20 -f nic out.nic \
  -c:v nic -qp 20 -start_number 0 out%03d.nic \
  -c:v nic -qp 20 out.mkv \
  -c:v nic -qp 20 out.nut \
  -c:v nic -qp 20 out.avi
[ "$(count_files 'out[0-9]*.nic')" -eq $N ] || fail "image2 wrote $(count_files 'out[0-9]*.nic') files"

note "ffprobe"
for c in "${containers[@]}"; do
  check_probe "$(outname "$c")" nic $W $H $N
done
case "$(probe out.nic)" in *" nic") ;; *) fail "out.nic is not probed as -f nic: $(probe out.nic)" ;; esac

note "decode every container (one ffmpeg run)"
args=() maps=() k=0
for c in "${containers[@]}"; do
  args+=(-i "$(outname "$c")")
  maps+=(-map "$k:v" -fps_mode passthrough -start_number 0 "dec_${c}_%03d.png")
  k=$((k + 1))
done
ff "${args[@]}" "${maps[@]}"
for c in "${containers[@]}"; do
  [ "$(count_files "dec_${c}_*.png")" -eq $N ] || fail "$c: decoded $(count_files "dec_${c}_*.png") frames, expected $N"
done

note "PSNR against the sources"
pairs=()
for c in "${containers[@]}"; do pairs+=("$src" "dec_${c}_%03d.png"); done
psnrs psnr_ "${pairs[@]}"
k=0
for c in "${containers[@]}"; do check_psnr_file "psnr_$k.psnr" $N "$c"; k=$((k + 1)); done
cli="$("$NIC_CLI" psnr "$(printf "$src" 0)" dec_mkv_000.png)"
awk -v a="$(head -n 1 psnr_2.psnr)" -v b="$cli" 'BEGIN { if (a == "inf") a = 99; d = a - b;
  exit !(d < 0.01 && d > -0.01) }' || fail "psnr filter says $(head -n 1 psnr_2.psnr) dB, nic psnr $cli dB"

note "same pixels as nic decode of the same frames"
args=() maps=() k=0
for c in "${containers[@]}"; do
  args+=(-i "$(outname "$c")")
  maps+=(-map "$k:v" -c copy -f nic "packets_$k.nic")
  k=$((k + 1))
done
ff "${args[@]}" "${maps[@]}"
cat packets_[0-9].nic > packets.nic
"$NIC_CLI" decode packets.nic -o ref%03d.png > /dev/null
decs=() k=0
for c in "${containers[@]}"; do decs+=("dec_${c}_%03d.png@0" "ref%03d.png@$((k * N))"); k=$((k + 1)); done
md5s md5_ "${decs[@]}"
k=0
for c in "${containers[@]}"; do
  head -n $N "md5_$((2 * k + 1)).md5" > "ref_$k.md5"
  same_lines "md5_$((2 * k)).md5" "ref_$k.md5" "$c vs nic decode"
  echo "   $c: $N frames identical to nic decode"
  k=$((k + 1))
done
echo "PASS containers"
