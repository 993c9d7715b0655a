#!/usr/bin/env python3
"""Self-test of bench/rate_control.py without the codec: the constant-qp search on synthetic
rate curves, the deviation statistics, the scene plan and the report. Exits non-zero on failure."""

import math
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import rate_control as rc  # noqa: E402
from selftest import check, finish  # noqa: E402



class FakeBench(rc.Bench):
    """cqp(qp) from a formula instead of nic encode-seq."""

    def __init__(self, curve, tolerance=1.0, max_runs=10):
        args = types.SimpleNamespace(tolerance=tolerance, max_cqp_runs=max_runs)
        super().__init__(args, None, [None] * 4, open(os.devnull, "w"))
        self.curve = curve

    def cqp(self, qp):
        qp = round(min(rc.QP_MAX, max(rc.QP_MIN, qp)), 2)
        if qp not in self.cqp_cache:
            b = self.curve(qp)
            self.cqp_cache[qp] = rc.Stream("x", [qp] * 4, [b] * 4, [0.0] * 4)
        return qp, self.cqp_cache[qp]


def exp_curve(qp):  # bytes halve every 6 qp
    return 100000.0 * 2 ** (-qp / 6.0)


def steppy_curve(qp):  # integer bytes, a kink at qp 30
    return float(int(50000.0 * math.exp(-0.08 * qp) * (1.0 if qp < 30 else 0.8)))


for curve, name in ((exp_curve, "exponential"), (steppy_curve, "kinked")):
    for target_qp in (0.5, 7.3, 24.0, 41.9, 62.5):
        target = curve(target_qp)
        for start in (0.0, 24.0, 63.0, target_qp + 10):
            b = FakeBench(curve)
            qp, s, runs, note = b.match_cqp(target, start)
            r = s.mean_bytes / target - 1.0
            check(note == "" and abs(r) <= 0.01,
                  "%s: target qp %.1f from %.1f: qp %.2f, rate %+.2f%%, note %r"
                  % (name, target_qp, start, qp, 100 * r, note))
            check(runs <= 10, "%s: %d runs" % (name, runs))

# Unreachable targets: the search stops at the end of the qp range with a note.
b = FakeBench(exp_curve)
qp, s, runs, note = b.match_cqp(exp_curve(63) * 0.5, 40.0)
check(qp == 63.0 and note and runs <= 10, "below qp 63: qp %.2f note %r runs %d" % (qp, note, runs))
b = FakeBench(exp_curve)
qp, s, runs, note = b.match_cqp(exp_curve(0) * 2.0, 20.0)
check(qp == 0.0 and note and runs <= 10, "above qp 0: qp %.2f note %r runs %d" % (qp, note, runs))
# A tolerance the 0.01 qp resolution cannot meet: stops, returns the closest, within the run cap.
b = FakeBench(exp_curve, tolerance=1e-6, max_runs=30)
qp, s, runs, note = b.match_cqp(exp_curve(20.004), 30.0)
check(abs(qp - 20.0) <= 0.011 and note and runs < 30, "resolution: qp %.2f runs %d" % (qp, runs))

# Deviation statistics: budget 100, buffer 50.
st = rc.deviation_stats([100, 150, 50, 210, 90], 100.0, 50.0)
check(abs(st["mean_abs_dev"] - (0 + .5 + .5 + 1.1 + .1) / 5) < 1e-12, "mean abs dev %r" % st)
check(abs(st["mean_dev"] - (0 + .5 - .5 + 1.1 - .1) / 5) < 1e-12, "mean dev %r" % st)
check(abs(st["mean_dev"] - st["avg_vs_target"]) < 1e-12, "mean dev = average vs target")
check(abs(st["worst"] - 1.1) < 1e-12, "worst %r" % st)
check(st["over_budget_buffer"] == 1, "over budget+buffer %r" % st)
check(abs(st["bucket_peak"] - 110 / 50.0) < 1e-12, "bucket peak %r" % st)  # 0,50,0,110,100

# Scene plan: covers every frame once, crop windows inside the scaled photo.
photo = os.path.join(HERE, "_test_rc.png")
with open(photo, "wb") as f:  # just the PNG signature and IHDR size fields, 768x512
    f.write(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + (768).to_bytes(4, "big") + (512).to_bytes(4, "big"))
try:
    for frames, (w, h) in ((100, (1920, 1080)), (12, (256, 144)), (31, (500, 700))):
        scenes = rc.scene_plan([photo, photo], frames, 15, w, h)
        check(sum(s[1] for s in scenes) == frames and scenes[0][0] == 0, "plan covers %d frames" % frames)
        check(all(a[0] + a[1] == b[0] for a, b in zip(scenes, scenes[1:])), "plan is contiguous")
        for first, count, _, sw, sh, x0, y0, x1, y1 in scenes:
            check(sw >= w and sh >= h and 0 <= min(x0, x1) and max(x0, x1) <= sw - w
                  and 0 <= min(y0, y1) and max(y0, y1) <= sh - h, "crop inside %r" % ((sw, sh, x0, y0, x1, y1),))
finally:
    os.remove(photo)

# The report formats fake rows (both verdicts, the qp-63 note, a closest-match note).
row = {"kbps": 100, "bpp_target": 0.1, "mode": "cbr", "budget_bytes": 400.0, "buffer_bytes": 12000.0,
       "mean_bytes": 500.0, "bpp": 0.12, "mean_abs_dev": 0.25, "mean_dev": 0.25, "worst": 0.3,
       "avg_vs_target": 0.25, "over_budget_buffer": 0, "bucket_peak": 0.5, "frames_at_max_qp": 4,
       "mean_qp": 63.0, "min_qp": 63.0, "max_qp": 63.0, "psnr": 30.0, "cqp_qp": 63.0,
       "cqp_mean_bytes": 500.0, "cqp_rate_diff": 0.0, "cqp_psnr": 30.0, "delta_psnr": 0.0,
       "cqp_runs": 1, "cqp_note": "closest of the search (+1.5%)", "enc_s_per_frame": 1.0,
       "cqp_enc_s_per_frame": 1.0, "dec_s_per_frame": 1.0}
args = types.SimpleNamespace(size=(64, 64), fps=30.0, buffer=1.0, scene_frames=15, images="x",
                             out="y", model="m.safetensors", threads=2, tolerance=1.0)
text = rc.format_report(args, [row], [()], [None] * 4, "0" * 16, [100], 1.0)
check("| 100 | 0.100 | cbr |" in text and "average within 2% of target: FAIL" in text
      and "every frame at qp 63" in text and "(!)" in text, "report:\n" + text)

sys.exit(finish("test_rate_control"))
