#!/usr/bin/env python3
"""Self-test of the BD-rate function (bench/bdrate.py) on curves with a known answer.

Run: python3 bench/test_bdrate.py     (exit status 0 = pass; usable as a meson test)
"""

import math
import os
import sys
import unittest

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bdrate import bd_psnr, bd_rate, integrate_fit, polyfit, rate_difference_at  # noqa: E402


def curve(rates, psnr_of_rate):
    return [(r, psnr_of_rate(r)) for r in rates]


# A codec-like RD curve: PSNR grows with log-rate and saturates a little.
RATES = [0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0]


def codec_psnr(rate):
    return 28.0 + 6.0 * math.log2(rate / 0.1) - 0.15 * math.log2(rate / 0.1) ** 2


def ratio_linear_in_psnr():
    """Curves on 30..38 dB with log R_test = log R_ref + a + b * PSNR, an exact cubic in PSNR
    since log R_ref is one: (reference, test, a, b)."""
    psnrs = [30.0, 32.0, 34.0, 36.0, 38.0]
    log_ref = [-4.0 + 0.05 * p + 0.001 * p * p for p in psnrs]
    a, b = 0.5, -0.02
    ref = [(math.exp(lr), p) for lr, p in zip(log_ref, psnrs)]
    test = [(math.exp(lr + a + b * p), p) for lr, p in zip(log_ref, psnrs)]
    return ref, test, a, b


class PolyfitTest(unittest.TestCase):
    def test_recovers_a_cubic_exactly(self):
        xs = [30.0, 32.5, 35.0, 36.0, 38.0, 41.0]
        ys = [1.0 - 0.2 * x + 0.01 * x * x - 0.0003 * x ** 3 for x in xs]
        fit = polyfit(xs, ys, 3)
        # The integral of the fit equals the integral of the true cubic.
        def true_antiderivative(x):
            return x - 0.1 * x * x + 0.01 * x ** 3 / 3 - 0.0003 * x ** 4 / 4
        self.assertAlmostEqual(integrate_fit(fit, 31.0, 40.0),
                               true_antiderivative(40.0) - true_antiderivative(31.0), places=9)

    def test_too_few_points(self):
        with self.assertRaises(ValueError):
            polyfit([30.0, 31.0, 32.0], [1.0, 2.0, 3.0], 3)


class BdRateTest(unittest.TestCase):
    def test_identical_curves_give_zero(self):
        ref = curve(RATES, codec_psnr)
        self.assertAlmostEqual(bd_rate(ref, ref), 0.0, places=9)
        self.assertAlmostEqual(bd_psnr(ref, ref), 0.0, places=9)

    def test_half_the_rate_at_equal_psnr_gives_minus_50(self):
        ref = curve(RATES, codec_psnr)
        test = [(r / 2.0, p) for r, p in ref]
        self.assertAlmostEqual(bd_rate(ref, test), -50.0, places=9)
        # ... and the reference needs twice the bits of the test: +100 %.
        self.assertAlmostEqual(bd_rate(test, ref), 100.0, places=9)

    def test_half_the_rate_with_different_sampling_points(self):
        # The test codec is sampled at other rates than the reference, and over a shifted range:
        # only the overlapping PSNR interval counts, and the answer is still -50 %.
        ref = curve(RATES, codec_psnr)
        test = [(r / 2.0, codec_psnr(r)) for r in [0.15, 0.3, 0.6, 1.2, 2.4, 3.0]]
        self.assertAlmostEqual(bd_rate(ref, test), -50.0, places=2)

    def test_rate_ratio_varying_with_psnr(self):
        # The mean log difference over [lo, hi] is a + b * (lo + hi) / 2.
        ref, test, a, b = ratio_linear_in_psnr()
        expected = (math.exp(a + b * 34.0) - 1.0) * 100.0
        self.assertAlmostEqual(bd_rate(ref, test), expected, places=9)

    def test_rate_difference_at_one_psnr(self):
        # At PSNR p the test needs exp(a + b * p) times the reference's bits.
        ref, test, a, b = ratio_linear_in_psnr()
        for psnr in [30.0, 33.5, 38.0]:
            self.assertAlmostEqual(rate_difference_at(ref, test, psnr),
                                   (math.exp(a + b * psnr) - 1.0) * 100.0, places=9)
        self.assertIsNone(rate_difference_at(ref, test, 29.9))
        self.assertIsNone(rate_difference_at(ref, test, 38.1))

    def test_psnr_gain_at_equal_rate(self):
        ref = curve(RATES, codec_psnr)
        test = [(r, p + 1.0) for r, p in ref]
        self.assertAlmostEqual(bd_psnr(ref, test), 1.0, places=9)
        self.assertLess(bd_rate(ref, test), 0.0)

    def test_no_overlap_gives_none(self):
        ref = [(0.1, 25.0), (0.2, 27.0), (0.3, 28.0), (0.4, 29.0)]
        test = [(0.5, 30.0), (0.6, 31.0), (0.7, 32.0), (0.8, 33.0)]
        self.assertIsNone(bd_rate(ref, test))

    def test_order_of_points_does_not_matter(self):
        ref = curve(RATES, codec_psnr)
        test = [(r * 0.8, p) for r, p in ref]
        self.assertAlmostEqual(bd_rate(list(reversed(ref)), test), bd_rate(ref, test), places=9)
        self.assertAlmostEqual(bd_rate(ref, test), -20.0, places=9)

    def test_rejects_zero_rate(self):
        with self.assertRaises(ValueError):
            bd_rate([(0.0, 30.0), (0.1, 31.0), (0.2, 32.0), (0.3, 33.0)],
                    [(0.1, 30.0), (0.2, 31.0), (0.3, 32.0), (0.4, 33.0)])


if __name__ == "__main__":
    unittest.main()
