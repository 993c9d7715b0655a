#!/usr/bin/env python3
"""Self-test of bench/validation_bd.py: validation lines in, BD-rates out.

Run: python3 bench/test_validation_bd.py     (exit status 0 = pass; usable as a meson test)
"""

import io
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import validation_bd  # noqa: E402

POINTS = [(1.2, 32.8), (0.98, 32.4), (0.77, 31.9), (0.59, 31.0), (0.41, 29.7), (0.27, 28.2), (0.17, 26.6)]


def validation_line(points, scale=1.0, prefix=""):
    cells = "".join("  qp %.1f bpp %.4f psnr %.2f" % (63.0 * k / (len(points) - 1), b * scale, p)
                    for k, (b, p) in enumerate(points))
    return prefix + "validation (24 images, real coding):" + cells + \
        "  | unquantized psnr 33.15  | encode 0.186 s, decode 0.211 s per image\n"


class ValidationBdTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_reads_the_last_validation_line(self):
        path = self.write("train.log", "step 10  2.1 steps/s\n" + validation_line(POINTS, 2.0, "moving average ")
                          + "step 20\n" + validation_line(POINTS, 1.0, "moving average "))
        points, ceiling = validation_bd.read_validation(path)
        self.assertEqual(points, POINTS)
        self.assertEqual(ceiling, 33.15)

    def test_rates_against_the_first_and_the_references(self):
        first = self.write("a.log", validation_line(POINTS))
        second = self.write("b.log", validation_line(POINTS, 0.9))
        rd = self.write("rd.csv", "codec,quality,bpp,psnr,enc_s,dec_s\n" +
                        "".join("nic,%d,%f,%f,0,0\n" % (k, b, p) for k, (b, p) in enumerate(POINTS)) +
                        "".join("avif,%d,%f,%f,0,0\n" % (k, b * 0.8, p) for k, (b, p) in enumerate(POINTS)))
        out = io.StringIO()
        stdout, sys.stdout = sys.stdout, out
        try:
            validation_bd.main(["validation_bd.py", "--references", rd, "a=" + first, "b=" + second])
        finally:
            sys.stdout = stdout
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[0], "model | top (bpp, dB) | ceiling dB | vs a | vs avif")
        self.assertEqual(lines[1], "a | 1.2000, 32.80 | 33.15 | +0.00% | +25.00%")
        self.assertEqual(lines[2], "b | 1.0800, 32.80 | 33.15 | -10.00% | +12.50%")

    def test_by_psnr_shows_where_the_gap_lies(self):
        first = self.write("a.log", validation_line(POINTS))
        second = self.write("b.log", validation_line(POINTS, 0.9))
        out = io.StringIO()
        stdout, sys.stdout = sys.stdout, out
        try:
            validation_bd.main(["validation_bd.py", "--by-psnr", "a=" + first, "b=" + second])
        finally:
            sys.stdout = stdout
        lines = out.getvalue().splitlines()
        # The first model has nothing to be compared with; the second, at whole dB from 27 to 32
        # and at its top (32.8 dB), needs 10% fewer bits everywhere.
        table = lines[lines.index("b at PSNR dB | vs a") + 1:]
        self.assertEqual([row.split(" | ")[0] for row in table],
                         ["27.00", "28.00", "29.00", "30.00", "31.00", "32.00", "32.80"])
        self.assertTrue(all(row.endswith(" | -10.00%") for row in table), table)
        self.assertNotIn("a at PSNR dB", out.getvalue())

    def test_an_unknown_option_fails_with_the_usage(self):
        result = subprocess.run([sys.executable, os.path.join(HERE, "validation_bd.py"), "--by-rate", "x=y"],
                                capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("Usage:", result.stderr)

    def test_a_file_without_validation_fails_clearly(self):
        path = self.write("empty.log", "step 10\n")
        result = subprocess.run([sys.executable, os.path.join(HERE, "validation_bd.py"), "x=" + path],
                                capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no validation line", result.stderr)


if __name__ == "__main__":
    unittest.main()
