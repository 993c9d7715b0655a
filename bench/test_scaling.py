#!/usr/bin/env python3
"""Self-test of the scaling-law study (bench/scaling.py): the power-law fit, the Pareto front and
the log parsing on data with a known answer; with NIC_TRAIN and a sample image, the whole study
end to end on two tiny sizes (a few steps each), ending in its summary and plots.

Run: python3 bench/test_scaling.py [NIC_TRAIN SAMPLE_PNG]     (exit status 0 = pass)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scaling  # noqa: E402

TRAIN = SAMPLE = None


class FitTest(unittest.TestCase):
    def test_exact_power_law(self):
        xs = [1e5, 3e5, 1e6, 3e6]
        a, b, r = scaling.ols_loglog(xs, [2.5 * x ** -0.2 for x in xs])
        self.assertAlmostEqual(a, 2.5, places=6)
        self.assertAlmostEqual(b, -0.2, places=9)
        self.assertAlmostEqual(r, -1.0, places=9)

    def test_noisy_law_keeps_its_sign(self):
        xs = [1, 2, 4, 8, 16]
        _, b, r = scaling.ols_loglog(xs, [10 * x ** -0.5 * f for x, f in zip(xs, [1.1, 0.9, 1.05, 0.97, 1.02])])
        self.assertLess(b, -0.4)
        self.assertLess(r, -0.95)

    def test_one_x_is_refused(self):
        with self.assertRaises(ValueError):
            scaling.ols_loglog([3, 3], [1, 2])

    def test_pareto_front(self):
        pts = [(1, 5.0), (2, 4.0), (2, 4.5), (3, 4.2), (4, 3.0), (5, 3.5)]
        self.assertEqual(scaling.pareto_front(pts), [(1, 5.0), (2, 4.0), (4, 3.0)])

    def test_loss_from_psnr(self):
        # PSNR 30 dB is MSE 65.025 on the 0..255 scale.
        self.assertAlmostEqual(scaling.test_loss(0.5, 30.0, lam=0.01), 0.5 + 0.65025, places=6)


class ParseTest(unittest.TestCase):
    def test_log(self):
        text = "\n".join([
            "nic-train: {...} step 0 -> 20, batch 4x128",
            "parameters: 123456, 12.5 kMAC/px (analysis, synthesis and entropy model)",
            "step 10  5.0 steps/s  ETA 0h00m  lr 1e-4  | a0 loss 1 bpp 0.5 psnr 20",
            "moving average validation (2 images, real coding):  qp 0.0 bpp 0.8000 psnr 30.50  "
            "qp 63.0 bpp 0.1 psnr 25.00",
            "raw weights validation (2 images, real coding):  qp 0.0 bpp 0.9 psnr 30.0",
            "step 20  5.0 steps/s",
            "moving average validation (2 images, real coding):  qp 0.0 bpp 0.7000 psnr 31.00"])
        params, kmacs, points = scaling.parse_log(text)
        self.assertEqual(params, 123456)
        self.assertEqual(kmacs, 12.5)
        self.assertEqual(points, [(10, 0.8, 30.5), (20, 0.7, 31.0)])

    def test_sizes(self):
        options, widths = scaling.size_config(4)
        self.assertEqual(widths, "64,96,128")  # nic-default's shape
        self.assertEqual(options[options.index("--latent") + 1], "128")
        self.assertEqual(scaling.size_config(1.5)[1], "24,36,48")


class EndToEndTest(unittest.TestCase):
    def test_study_on_two_tiny_sizes(self):
        if not TRAIN:
            self.skipTest("no nic-train given")
        tmp = tempfile.mkdtemp()
        try:
            for d in ("train", "valid"):
                os.makedirs(os.path.join(tmp, d))
                shutil.copy(SAMPLE, os.path.join(tmp, d, "a.png"))
            out = os.path.join(tmp, "out")
            result = subprocess.run(
                [sys.executable, scaling.__file__, "--out", out, "--sizes", "0.5,1", "--steps", "4",
                 "--validate-every", "2", "--batch", "1", "--crop", "64", "--train", TRAIN,
                 "--data", os.path.join(tmp, "train"), "--valid", os.path.join(tmp, "valid")],
                capture_output=True, text=True, timeout=600)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            summary = scaling.read(os.path.join(out, "summary.md"))
            self.assertIn("Loss against parameters", summary)
            self.assertIn("Next size up, k = 2", summary)
            self.assertIn("| 1 | 16,24,32 |", summary)
            rows = scaling.read(os.path.join(out, "scaling.csv")).splitlines()
            self.assertEqual(len(rows), 1 + 2 * 2)  # two validations per size
            self.assertTrue(os.path.getsize(os.path.join(out, "loss-vs-parameters.svg")) > 0)
            # A second run trains nothing more: every size is done.
            again = subprocess.run(
                [sys.executable, scaling.__file__, "--out", out, "--sizes", "0.5,1", "--steps", "4",
                 "--validate-every", "2", "--batch", "1", "--crop", "64", "--train", TRAIN,
                 "--data", os.path.join(tmp, "train"), "--valid", os.path.join(tmp, "valid")],
                capture_output=True, text=True, timeout=600)
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertNotIn("training size", again.stdout)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    if len(sys.argv) >= 3:
        TRAIN, SAMPLE = sys.argv[1], sys.argv[2]
        del sys.argv[1:3]
    unittest.main()
