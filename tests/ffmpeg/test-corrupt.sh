#!/usr/bin/env bash
# Damaged input never crashes: a damaged frame costs that frame only, and is reported (by the
# parser in a raw stream, by the decoder, with libnic's reason, in a container or at the end of
# a stream), and the frames around it decode identical to a clean decode. Covers a flipped payload byte (CRC), a broken magic, junk before the first frame, a
# truncated stream, a damaged size field, random bytes, and a damaged frame inside Matroska.
source "$(dirname "$0")/common.sh"

N=3
make_sources $N 48x32
ff -i src_48x32_%03d.png -c:v nic -qp 24 clean.nic -c:v nic -qp 24 clean.mkv
md5s clean_ clean.nic
mapfile -t good < clean_0.md5
[ "${#good[@]}" -eq $N ] || fail "the clean stream decodes to ${#good[@]} frames"

python3 - <<'PY'
import random, struct
d = open('clean.nic', 'rb').read()
offsets, o = [], 0
while o < len(d):                      # frame offsets, from the headers (docs/bitstream.md)
    offsets.append(o); n = d[o + 21]
    o += 22 + 4 * n + sum(struct.unpack_from('<%dI' % n, d, o + 22)) + 4
assert len(offsets) == 3, offsets
o2, o3 = offsets[1], offsets[2]
def put(name, data): open(name, 'wb').write(bytes(data))
c = bytearray(d); c[(o2 + o3) // 2] ^= 0xff; put('crc.nic', c)             # payload of frame 2
c = bytearray(d); c[o2] = ord('X'); put('magic.nic', c)                     # magic of frame 2
put('junk.nic', b'not a nic frame ' * 7 + d)                                # junk before frame 1
put('trunc.nic', d[:len(d) - 40])                                           # frame 3 cut short
c = bytearray(d); c[o2 + 22:o2 + 26] = b'\xff\xff\xff\x00'; put('length.nic', c)  # frame 2's size
random.seed(7); put('random.nic', bytes(random.getrandbits(8) for _ in range(3000)))
m = bytearray(open('clean.mkv', 'rb').read())
i = m.find(b'NICF'); i = m.find(b'NICF', i + 4)                            # frame 2 in Matroska
m[i + (o3 - o2) // 2] ^= 0x55; put('crc.mkv', m)
PY

# expect FILE "EXPECTED FRAME INDICES" LOG_PATTERN: decodes FILE straight to frame MD5s.
expect() {
  local file="$1" want="$2" pattern="$3" rc=0 k
  note "$file: expect frames [$want], a log line matching /$pattern/"
  "$FFMPEG" -nostdin -hide_banner -loglevel warning -y -i "$file" -fps_mode passthrough \
    -pix_fmt rgb24 -f framemd5 got.raw > log.txt 2>&1 || rc=$?
  sed 's/^/   | /' log.txt
  [ "$rc" -lt 128 ] || fail "ffmpeg died with status $rc on $file"
  [ "$rc" -eq 0 ] || fail "ffmpeg failed ($rc) on $file"
  grep -Eq "$pattern" log.txt || fail "no log line matching /$pattern/ for $file"
  grep -v '^#' got.raw | awk -F', *' '{ print $5 " " $6 }' > got.md5
  : > want.md5
  for k in $want; do echo "${good[$k]}" >> want.md5; done
  same_lines got.md5 want.md5 "$file"
}

# In a raw stream the parser (libnic's frame scanner) drops a damaged frame and says so; the
# frames after it decode, also when a damaged size field claims bytes far beyond the next frame.
expect crc.nic    "0 2"   "Skipped [0-9]+ bytes"
expect magic.nic  "0 2"   "Skipped [0-9]+ bytes"
expect junk.nic   "0 1 2" "Skipped [0-9]+ bytes"
expect trunc.nic  "0 1"   "Invalid data found"
expect length.nic "0 2"   "Skipped [0-9]+ bytes"
expect crc.mkv    "0 2"   "CRC|Invalid data found"

note "random.nic: an error, no crash"
rc=0
"$FFMPEG" -nostdin -hide_banner -loglevel warning -y -i random.nic -fps_mode passthrough \
  -f framemd5 got.raw > log.txt 2>&1 || rc=$?
sed 's/^/   | /' log.txt | head -n 4
[ "$rc" -lt 128 ] || fail "ffmpeg died with status $rc on random.nic"
[ "$rc" -ne 0 ] || [ "$(grep -vc '^#' got.raw)" -eq 0 ] || fail "random.nic decoded to frames"
grep -q "Invalid nic frame" log.txt || fail "no error from libnic for random.nic"

note "ffprobe on a damaged stream"
rc=0
"$FFPROBE" -v error -count_frames -show_streams crc.nic > /dev/null 2>&1 || rc=$?
[ "$rc" -lt 128 ] || fail "ffprobe died with status $rc on crc.nic"
echo "PASS corrupt input"
