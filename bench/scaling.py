"""Scaling-law study (HPCM-1B's method on nic's architecture): trains one architecture at several
sizes with one recipe, measures the test loss on the validation photos by real coding, and fits
power laws L = a * X^b by ordinary least squares in log-log space, X = parameters and X = training
compute (the Pareto front of loss over compute). Prints the table, the exponents with Pearson r,
the loss the fit predicts for the next size up, and the model size the compute front says a
training budget should buy; writes OUT/scaling.csv, OUT/summary.md and two SVG plots (gnuplot).

Sizes: factor k scales every width of the default model's shape, widths (16k, 24k, 32k), latents
32k, hyperprior 16k; k = 4 is nic-default's size. Test loss: lambda * 255^2 * MSE + bpp at the
first rate anchor (qp 0), MSE from the mean PSNR over the photos. Training compute:
6 FLOPs per multiply-accumulate per trained pixel (forward, and backward at twice the forward).

Each size trains in its own run folder under OUT and resumes where it stopped, so the study can be
interrupted and continued (run it niced, alone: it is a benchmark).

Usage: python3 bench/scaling.py [--out DIR] [--sizes 0.75,1,1.5,2,3,4] [--steps 4000]
           [--validate-every 1000] [--budget-steps 110000 --budget-batch 2 --budget-crop 256]
"""

import argparse
import math
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The first anchor is the test lambda.
ANCHORS = (0.012, 0.0021)


def read(path):
    with open(path) as f:
        return f.read()


def size_config(k):
    """nic-train options of size factor k."""
    def w(base):
        return max(2, int(round(base * k / 2)) * 2)  # even: the latents split into 2 groups
    widths = "%d,%d,%d" % (w(16), w(24), w(32))
    return ["--widths", widths, "--latent", str(w(32)), "--hyper", str(w(16))], widths


def test_loss(bpp, psnr, lam=ANCHORS[0]):
    mse_255 = 255.0 ** 2 * 10 ** (-psnr / 10)
    return lam * mse_255 + bpp


def parse_log(text):
    """(parameters, kMAC/px, [(step, bpp, psnr)]) from a run's train.log; a validation belongs to
    the progress line printed before it (the study logs at every validation step)."""
    params = kmacs = None
    points = []
    step = None
    for line in text.splitlines():
        m = re.match(r"parameters: (\d+), ([\d.]+) kMAC/px", line)
        if m:
            params, kmacs = int(m.group(1)), float(m.group(2))
        m = re.match(r"step (\d+) ", line)
        if m:
            step = int(m.group(1))
        m = re.match(r"(moving average|weights) validation .*?qp 0\.0 bpp ([\d.]+) psnr ([\d.]+)", line)
        if m and step is not None:
            points = [p for p in points if p[0] != step]  # a repeated validation replaces
            points.append((step, float(m.group(2)), float(m.group(3))))
    return params, kmacs, points


def ols_loglog(xs, ys):
    """Fit y = a * x^b by least squares on (log x, log y): (a, b, Pearson r of the logs)."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    n = len(lx)
    mx, my = sum(lx) / n, sum(ly) / n
    sxx = sum((x - mx) ** 2 for x in lx)
    syy = sum((y - my) ** 2 for y in ly)
    sxy = sum((x - mx) * (y - my) for x, y in zip(lx, ly))
    if sxx == 0:
        raise ValueError("need at least two distinct x values")
    b = sxy / sxx
    a = math.exp(my - b * mx)
    r = sxy / math.sqrt(sxx * syy) if syy > 0 else 0.0
    return a, b, r


def pareto_front(points):
    """The points (compute, loss, ...) no other point beats with less or equal compute and lower
    loss, by increasing compute."""
    front = []
    for p in sorted(points, key=lambda p: (p[0], p[1])):
        if not front or p[1] < front[-1][1]:
            front.append(p)
    return front


def train_size(args, k, run):
    options, _ = size_config(k)
    cmd = [args.train, "--run", run] + options + [
        "--data", args.data, "--valid", args.valid, "--steps", str(args.steps),
        "--validate-every", str(args.validate_every), "--log-every", str(args.validate_every),
        "--batch", str(args.batch), "--crop", str(args.crop), "--threads", str(args.threads),
        "--anchor-lambdas", ",".join(str(a) for a in ANCHORS)]
    with open(os.path.join(run, "console.log"), "a") as console:
        subprocess.run(cmd, check=True, stdout=console, stderr=subprocess.STDOUT)


def parameters_of(args, k, scratch):
    """Parameters and kMAC/px of a size without training it (nic-train --steps 0)."""
    run = os.path.join(scratch, "size-%g" % k)
    options, _ = size_config(k)
    out = subprocess.run([args.train, "--run", run] + options + ["--data", args.data, "--steps", "0"],
                         check=True, capture_output=True, text=True).stdout
    params, kmacs, _ = parse_log(out)
    return params, kmacs


def plot(path, title, xlabel, series, fit):
    """An SVG log-log plot of point series [(label, [(x, y)])] and the fitted line (a, b, x0, x1)."""
    data = path + ".dat"
    with open(data, "w") as f:
        for label, pts in series:
            f.write("# %s\n" % label)
            for x, y in pts:
                f.write("%g %g\n" % (x, y))
            f.write("\n\n")
    a, b, x0, x1 = fit
    plots = ["'%s' index %d with linespoints title '%s'" % (data, i, label)
             for i, (label, _) in enumerate(series)]
    plots.append("[%g:%g] %g * x**%g with lines dashtype 2 title 'L = %.3g X^{%.3f}'" % (x0, x1, a, b, a, b))
    script = "\n".join([
        "set terminal svg size 720,480", "set output '%s'" % path, "set logscale xy",
        "set title '%s'" % title, "set xlabel '%s'" % xlabel, "set ylabel 'test loss'",
        "set key top right", "set samples 200", "plot " + ", ".join(plots)])
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("scaling: no plot %s (%s)" % (path, e), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/nic-scaling")
    ap.add_argument("--sizes", default="0.75,1,1.5,2,3,4")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--validate-every", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train", default=os.path.join(ROOT, "build/train/nic-train"))
    ap.add_argument("--data", default=os.path.join(ROOT, "../shared/data/train"))
    ap.add_argument("--valid", default=os.path.join(ROOT, "../shared/data/valid"))
    # The training budget to advise on: nic-default's recipe so far.
    ap.add_argument("--budget-steps", type=float, default=110000)
    ap.add_argument("--budget-batch", type=int, default=2)
    ap.add_argument("--budget-crop", type=int, default=256)
    ap.add_argument("--analyse-only", action="store_true", help="fit what the run folders hold")
    args = ap.parse_args()

    sizes = [float(s) for s in args.sizes.split(",")]
    if len(sizes) < 2:
        raise SystemExit("scaling: need at least two sizes")
    os.makedirs(args.out, exist_ok=True)
    pixels_per_step = args.batch * args.crop ** 2
    rows = []
    for k in sizes:
        run = os.path.join(args.out, "size-%g" % k)
        os.makedirs(run, exist_ok=True)
        log_path = os.path.join(run, "train.log")
        if not args.analyse_only:
            _, _, points = parse_log(read(log_path)) if os.path.exists(log_path) else (0, 0, [])
            if not points or points[-1][0] < args.steps:
                print("scaling: training size %g (%s)" % (k, size_config(k)[1]), flush=True)
                train_size(args, k, run)
        params, kmacs, points = parse_log(read(log_path))
        if params is None or not points:
            raise SystemExit("scaling: %s has no parameters line or validation" % log_path)
        for step, bpp, psnr in points:
            rows.append(dict(k=k, widths=size_config(k)[1], params=params, kmacs=kmacs, step=step,
                             flops=6.0 * kmacs * 1e3 * pixels_per_step * step, bpp=bpp, psnr=psnr,
                             loss=test_loss(bpp, psnr)))

    with open(os.path.join(args.out, "scaling.csv"), "w") as f:
        keys = ["k", "widths", "params", "kmacs", "step", "flops", "bpp", "psnr", "loss"]
        f.write(",".join(keys) + "\n")
        for r in rows:
            f.write(",".join(str(r[key]) for key in keys) + "\n")

    final = {}
    for r in rows:
        if r["k"] not in final or r["step"] > final[r["k"]]["step"]:
            final[r["k"]] = r
    last = [final[k] for k in sizes]
    lines = ["# Scaling-law study", "",
             "One recipe: %d steps, batch %d, crop %d, anchors %s; test loss = %g * 255^2 * MSE + bpp "
             "at qp 0 on %s." % (args.steps, args.batch, args.crop, ",".join(map(str, ANCHORS)),
                                 ANCHORS[0], args.valid), "",
             "| k | widths | parameters | kMAC/px | steps | bpp | PSNR | test loss | training PFLOPs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in last:
        lines.append("| %g | %s | %d | %.1f | %d | %.4f | %.2f | %.4f | %.3f |" % (
            r["k"], r["widths"], r["params"], r["kmacs"], r["step"], r["bpp"], r["psnr"], r["loss"],
            r["flops"] / 1e15))

    a_n, b_n, r_n = ols_loglog([r["params"] for r in last], [r["loss"] for r in last])
    front = pareto_front([(r["flops"], r["loss"], r["params"], r["k"]) for r in rows])
    lines += ["", "Loss against parameters (final point of each size): L = %.4g * N^%.4f, Pearson r %.3f"
              % (a_n, b_n, r_n)]
    k_next = sizes[-1] * (sizes[-1] / sizes[-2])
    scratch = os.path.join(args.out, "next-size")
    os.makedirs(scratch, exist_ok=True)
    n_next, kmacs_next = parameters_of(args, k_next, scratch)
    lines.append("Next size up, k = %g (%s): %d parameters, %.1f kMAC/px; predicted loss %.4f at %d steps"
                 % (k_next, size_config(k_next)[1], n_next, kmacs_next, a_n * n_next ** b_n, args.steps))
    fits = {"params": (a_n, b_n, min(r["params"] for r in last), n_next)}
    if len(front) >= 2:
        a_c, b_c, r_c = ols_loglog([p[0] for p in front], [p[1] for p in front])
        lines.append("Loss against compute (Pareto front, %d points): L = %.4g * C^%.4f, Pearson r %.3f"
                     % (len(front), a_c, b_c, r_c))
        fits["compute"] = (a_c, b_c, front[0][0], front[-1][0])
        budget = 6.0 * last[-1]["kmacs"] * 1e3 * args.budget_batch * args.budget_crop ** 2 * args.budget_steps
        lines.append("Front points (PFLOPs, loss, size k): " + ", ".join(
            "(%.4f, %.4f, %g)" % (p[0] / 1e15, p[1], p[3]) for p in front))
        if len({p[2] for p in front}) >= 2:
            a_o, b_o, r_o = ols_loglog([p[0] for p in front], [p[2] for p in front])
            lines.append("Compute-optimal size on the front: N = %.4g * C^%.4f (r %.3f); a budget of %.3g "
                         "PFLOPs (%d steps of batch %d x %d^2 at size k = %g) buys N = %.3g parameters"
                         % (a_o, b_o, r_o, budget / 1e15, args.budget_steps, args.budget_batch,
                            args.budget_crop, sizes[-1], a_o * budget ** b_o))
        else:
            lines.append("The front holds one size only: no compute-optimal size fit.")
    summary = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)

    by_size = [("k=%g" % k, [(r["params"], r["loss"]) for r in last if r["k"] == k]) for k in sizes]
    plot(os.path.join(args.out, "loss-vs-parameters.svg"), "nic: test loss against parameters",
         "parameters", by_size, fits["params"])
    if "compute" in fits:
        curves = [("k=%g" % k, [(r["flops"], r["loss"]) for r in rows if r["k"] == k]) for k in sizes]
        plot(os.path.join(args.out, "loss-vs-compute.svg"), "nic: test loss against training compute",
             "training FLOPs", curves, fits["compute"])


if __name__ == "__main__":
    main()
