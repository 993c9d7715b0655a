#!/usr/bin/env python3
"""PSNR of each frame of two raw RGB files as GStreamer writes them (rows padded to 4 bytes).

usage: rgb_psnr.py WIDTH HEIGHT REFERENCE DECODED MIN_DB
Prints one line per frame and fails when the files differ in size, hold a partial frame, or any
frame is below MIN_DB. The row padding is left out of the comparison.
"""
import math
import sys


def frame_psnr(ref: bytes, dec: bytes, width: int, height: int, stride: int) -> float:
    row = width * 3
    sse = 0
    for y in range(height):
        a = ref[y * stride:y * stride + row]
        b = dec[y * stride:y * stride + row]
        sse += sum((p - q) * (p - q) for p, q in zip(a, b))
    if sse == 0:
        return math.inf
    return 10 * math.log10(255.0 * 255.0 * row * height / sse)


def main() -> int:
    width, height = int(sys.argv[1]), int(sys.argv[2])
    ref = open(sys.argv[3], "rb").read()
    dec = open(sys.argv[4], "rb").read()
    floor = float(sys.argv[5])
    stride = (width * 3 + 3) // 4 * 4
    frame = stride * height
    if len(ref) != len(dec) or len(ref) == 0 or len(ref) % frame:
        print(f"sizes differ or hold partial frames: {len(ref)} and {len(dec)} bytes, "
              f"frames of {frame}")
        return 1
    ok = True
    for k in range(len(ref) // frame):
        p = frame_psnr(ref[k * frame:(k + 1) * frame], dec[k * frame:(k + 1) * frame],
                       width, height, stride)
        print(f"frame {k}: {p:.2f} dB (floor {floor} dB)")
        ok = ok and p >= floor
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
