"""PNG <-> PPM conversion with the Python standard library only (zlib, struct).

The RD benchmark needs it because libjpeg-turbo 2.1's cjpeg reads PPM but not PNG and djpeg writes
PPM but not PNG, while `nic psnr` compares PNG files. Only what the benchmark meets is supported:
8-bit, non-interlaced PNG in gray, gray+alpha, RGB, RGBA or palette form (alpha is dropped), and
binary 8-bit PPM (P6).

Usage as a tool:  python3 pnm.py IN.png OUT.ppm   or   python3 pnm.py IN.ppm OUT.png
"""

import struct
import sys
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class FormatError(Exception):
    pass


def _unfilter(data, width, height, channels):
    """Undoes the PNG row filters; returns the raw rows (height * width * channels bytes)."""
    stride = width * channels
    out = bytearray(height * stride)
    prev = bytearray(stride)
    pos = 0
    for y in range(height):
        if pos + 1 + stride > len(data):
            raise FormatError("truncated image data")
        ftype = data[pos]
        row = bytearray(data[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        if ftype == 0:
            pass
        elif ftype == 1:  # Sub
            for i in range(channels, stride):
                row[i] = (row[i] + row[i - channels]) & 0xFF
        elif ftype == 2:  # Up
            row = bytearray((a + b) & 0xFF for a, b in zip(row, prev))
        elif ftype == 3:  # Average
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                if i >= channels:
                    a = row[i - channels]
                    c = prev[i - channels]
                else:
                    a = c = 0
                b = prev[i]
                p = a + b - c
                pa = abs(p - a)
                pb = abs(p - b)
                pc = abs(p - c)
                if pa <= pb and pa <= pc:
                    pred = a
                elif pb <= pc:
                    pred = b
                else:
                    pred = c
                row[i] = (row[i] + pred) & 0xFF
        else:
            raise FormatError("bad PNG filter type %d" % ftype)
        out[y * stride : (y + 1) * stride] = row
        prev = row
    return out


def read_png(path):
    """Returns (width, height, rgb bytes) of an 8-bit PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != PNG_SIGNATURE:
        raise FormatError("%s: not a PNG file" % path)
    pos = 8
    header = None
    palette = None
    idat = []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise FormatError("%s: no IHDR chunk" % path)
    width, height, depth, color_type, _, _, interlace = header
    if depth != 8 or color_type not in CHANNELS or interlace != 0:
        raise FormatError(
            "%s: only 8-bit non-interlaced PNG is supported (depth %d, color type %d, interlace %d)"
            % (path, depth, color_type, interlace)
        )
    channels = CHANNELS[color_type]
    raw = _unfilter(zlib.decompress(b"".join(idat)), width, height, channels)
    if color_type == 2:
        rgb = raw
    elif color_type == 6:
        rgb = bytearray(width * height * 3)
        for c in range(3):
            rgb[c::3] = raw[c::4]
    elif color_type in (0, 4):
        gray = raw[::channels]
        rgb = bytearray(width * height * 3)
        for c in range(3):
            rgb[c::3] = gray
    else:  # palette
        if palette is None:
            raise FormatError("%s: palette image without PLTE" % path)
        rgb = bytearray(b"".join(palette[3 * i : 3 * i + 3] for i in raw))
    return width, height, bytes(rgb)


def write_png(path, width, height, rgb, level=1):
    """Writes 8-bit RGB as a PNG (filter 0 on every row; fast, not small)."""
    stride = width * 3
    rows = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    with open(path, "wb") as f:
        f.write(PNG_SIGNATURE)
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(rows, level)))
        f.write(chunk(b"IEND", b""))


def _ppm_tokens(data, count):
    """Reads `count` whitespace-separated header tokens (comments allowed); returns them and the
    offset just past the single whitespace byte after the last one."""
    tokens = []
    pos = 0
    while len(tokens) < count:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            while pos < len(data) and data[pos : pos + 1] not in (b"\n", b"\r"):
                pos += 1
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace():
            pos += 1
        if start == pos:
            raise FormatError("truncated PPM header")
        tokens.append(data[start:pos])
    return tokens, pos + 1


def read_ppm(path):
    """Returns (width, height, rgb bytes) of a binary 8-bit PPM (P6)."""
    with open(path, "rb") as f:
        data = f.read()
    tokens, offset = _ppm_tokens(data, 4)
    if tokens[0] != b"P6":
        raise FormatError("%s: not a binary PPM (P6) file" % path)
    width, height, maxval = int(tokens[1]), int(tokens[2]), int(tokens[3])
    if maxval != 255:
        raise FormatError("%s: only maxval 255 is supported" % path)
    rgb = data[offset : offset + width * height * 3]
    if len(rgb) != width * height * 3:
        raise FormatError("%s: truncated PPM data" % path)
    return width, height, rgb


def write_ppm(path, width, height, rgb):
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (width, height))
        f.write(rgb)


def png_to_ppm(src, dst):
    width, height, rgb = read_png(src)
    write_ppm(dst, width, height, rgb)
    return width, height


def ppm_to_png(src, dst):
    width, height, rgb = read_ppm(src)
    write_png(dst, width, height, rgb)
    return width, height


def png_size(path):
    """(width, height) from the IHDR chunk, without decoding."""
    with open(path, "rb") as f:
        data = f.read(33)
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise FormatError("%s: not a PNG file" % path)
    return struct.unpack(">II", data[16:24])


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: pnm.py IN.png OUT.ppm | IN.ppm OUT.png\n")
        return 2
    src, dst = argv[1], argv[2]
    try:
        if dst.lower().endswith(".ppm"):
            png_to_ppm(src, dst)
        else:
            ppm_to_png(src, dst)
    except (OSError, FormatError, zlib.error) as e:
        sys.stderr.write("pnm.py: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
