#!/usr/bin/env python3
"""Self-test of the PNG <-> PPM conversion the RD benchmark uses (bench/pnm.py).

Run: python3 bench/test_pnm.py     (exit status 0 = pass; usable as a meson test)
"""

import os
import random
import struct
import sys
import tempfile
import unittest
import zlib

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pnm  # noqa: E402


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filtered_png(width, height, channels, color_type, raw):
    """A PNG whose rows cycle through the five filter types (independent encoder for the test)."""
    stride = width * channels
    prev = bytes(stride)
    body = bytearray()
    for y in range(height):
        row = raw[y * stride : (y + 1) * stride]
        ftype = y % 5
        out = bytearray()
        for i in range(stride):
            a = row[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][ftype]
            out.append((row[i] - pred) & 0xFF)
        body += bytes([ftype]) + out
        prev = row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    data = zlib.compress(bytes(body))
    # Two IDAT chunks, as encoders often split the stream.
    return (pnm.PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data[:7])
            + chunk(b"IDAT", data[7:]) + chunk(b"IEND", b""))


class PnmTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        rng = random.Random(7)
        self.width, self.height = 13, 11
        self.rgb = bytes(rng.randrange(256) for _ in range(self.width * self.height * 3))

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_all_filter_types_rgb(self):
        with open(self.path("a.png"), "wb") as f:
            f.write(filtered_png(self.width, self.height, 3, 2, self.rgb))
        self.assertEqual(pnm.read_png(self.path("a.png")), (self.width, self.height, self.rgb))

    def test_rgba_drops_alpha(self):
        rgba = bytearray()
        for i in range(self.width * self.height):
            rgba += self.rgb[3 * i : 3 * i + 3] + bytes([i & 0xFF])
        with open(self.path("a.png"), "wb") as f:
            f.write(filtered_png(self.width, self.height, 4, 6, bytes(rgba)))
        self.assertEqual(pnm.read_png(self.path("a.png"))[2], self.rgb)

    def test_png_ppm_png_round_trip(self):
        pnm.write_png(self.path("a.png"), self.width, self.height, self.rgb)
        self.assertEqual(pnm.png_to_ppm(self.path("a.png"), self.path("a.ppm")),
                         (self.width, self.height))
        self.assertEqual(pnm.read_ppm(self.path("a.ppm")), (self.width, self.height, self.rgb))
        pnm.ppm_to_png(self.path("a.ppm"), self.path("b.png"))
        self.assertEqual(pnm.read_png(self.path("b.png"))[2], self.rgb)
        self.assertEqual(pnm.png_size(self.path("b.png")), (self.width, self.height))

    def test_ppm_header_with_comment(self):
        with open(self.path("c.ppm"), "wb") as f:
            f.write(b"P6\n# made by hand\n%d %d\n255\n" % (self.width, self.height) + self.rgb)
        self.assertEqual(pnm.read_ppm(self.path("c.ppm"))[2], self.rgb)

    def test_rejects_16_bit(self):
        ihdr = struct.pack(">IIBBBBB", 1, 1, 16, 2, 0, 0, 0)
        with open(self.path("d.png"), "wb") as f:
            f.write(pnm.PNG_SIGNATURE + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0\0\0\0")
        with self.assertRaises(pnm.FormatError):
            pnm.read_png(self.path("d.png"))


if __name__ == "__main__":
    unittest.main()
