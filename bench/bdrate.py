"""Bjontegaard delta rate (BD-rate), the standard method of VCEG-M33, Python standard library only.

Each curve is a list of (rate, psnr) points (rate in bpp or any unit proportional to bits). For each
curve, log(rate) is fitted as a cubic polynomial of PSNR (least squares; exactly through the points
when there are four); both fits are integrated over the PSNR interval the two curves share, and the
mean difference of log-rate is turned back into a rate ratio:

    BD-rate = (exp(mean(log R_test - log R_ref)) - 1) * 100 %

Negative = the test codec needs fewer bits than the reference for the same PSNR.

Usage as a tool:  python3 bdrate.py "R1,P1 R2,P2 ..." "R1,P1 R2,P2 ..."   (reference, then test)
"""

import math
import sys


def polyfit(xs, ys, degree):
    """Least-squares polynomial fit. Returns (coefficients c[0..degree] in t, center, scale) with
    y ~= sum(c[k] * t**k), t = (x - center) / scale. Working in the standardized variable t keeps
    the normal equations well conditioned (PSNR values near 40 cubed are ~64000)."""
    n = len(xs)
    if n <= degree:
        raise ValueError("a degree-%d fit needs at least %d points, got %d" % (degree, degree + 1, n))
    center = sum(xs) / n
    scale = max(abs(x - center) for x in xs)
    if scale == 0:
        raise ValueError("all points have the same PSNR: cannot fit a curve")
    ts = [(x - center) / scale for x in xs]
    m = degree + 1
    # Normal equations A c = b with A[i][j] = sum t^(i+j), b[i] = sum y t^i.
    a = [[sum(t ** (i + j) for t in ts) for j in range(m)] for i in range(m)]
    b = [sum(y * t ** i for t, y in zip(ts, ys)) for i in range(m)]
    # Gaussian elimination with partial pivoting.
    for col in range(m):
        pivot = max(range(col, m), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            raise ValueError("degenerate fit: too few distinct PSNR values")
        a[col], a[pivot] = a[pivot], a[col]
        b[col], b[pivot] = b[pivot], b[col]
        for r in range(col + 1, m):
            f = a[r][col] / a[col][col]
            for k in range(col, m):
                a[r][k] -= f * a[col][k]
            b[r] -= f * b[col]
    c = [0.0] * m
    for i in reversed(range(m)):
        c[i] = (b[i] - sum(a[i][k] * c[k] for k in range(i + 1, m))) / a[i][i]
    return c, center, scale


def evaluate_fit(fit, x):
    """The fitted polynomial at x."""
    c, center, scale = fit
    t = (x - center) / scale
    return sum(ck * t ** k for k, ck in enumerate(c))


def integrate_fit(fit, lo, hi):
    """Integral over x in [lo, hi] of the fitted polynomial."""
    c, center, scale = fit

    def antiderivative(x):
        t = (x - center) / scale
        return scale * sum(ck * t ** (k + 1) / (k + 1) for k, ck in enumerate(c))

    return antiderivative(hi) - antiderivative(lo)


def _clean(curve):
    points = [(float(r), float(p)) for r, p in curve]
    for r, p in points:
        if not (r > 0 and math.isfinite(r) and math.isfinite(p)):
            raise ValueError("bad RD point (rate %r, psnr %r): rates must be > 0" % (r, p))
    return points


def overlap(reference, test):
    """The PSNR interval both curves cover, or None."""
    lo = max(min(p for _, p in reference), min(p for _, p in test))
    hi = min(max(p for _, p in reference), max(p for _, p in test))
    return (lo, hi) if hi > lo else None


def _log_rate_fit(curve, degree):
    """log(rate) as a polynomial of PSNR, the fit both bd_rate and rate_difference_at use."""
    return polyfit([p for _, p in curve], [math.log(r) for r, _ in curve], degree)


def bd_rate(reference, test, degree=3):
    """BD-rate of `test` against `reference`, in percent; None when the PSNR ranges do not overlap.

    reference, test: sequences of (rate, psnr) with at least degree + 1 points each."""
    reference, test = _clean(reference), _clean(test)
    interval = overlap(reference, test)
    if interval is None:
        return None
    lo, hi = interval
    fit_ref, fit_test = _log_rate_fit(reference, degree), _log_rate_fit(test, degree)
    mean_diff = (integrate_fit(fit_test, lo, hi) - integrate_fit(fit_ref, lo, hi)) / (hi - lo)
    return (math.exp(mean_diff) - 1.0) * 100.0


def rate_difference_at(reference, test, psnr, degree=3):
    """How many more bits (percent) `test` needs than `reference` at one PSNR, from the same cubic
    fits of log-rate as bd_rate; None when psnr is outside the interval both curves cover.
    bd_rate is the mean of this over that interval (in log-rate); this shows where a gap lies."""
    reference, test = _clean(reference), _clean(test)
    interval = overlap(reference, test)
    if interval is None or not interval[0] <= psnr <= interval[1]:
        return None
    fit_ref, fit_test = _log_rate_fit(reference, degree), _log_rate_fit(test, degree)
    return (math.exp(evaluate_fit(fit_test, psnr) - evaluate_fit(fit_ref, psnr)) - 1.0) * 100.0


def bd_psnr(reference, test, degree=3):
    """BD-PSNR of `test` against `reference` in dB (PSNR fitted as a cubic of log-rate), or None."""
    reference, test = _clean(reference), _clean(test)
    lo = max(min(math.log(r) for r, _ in reference), min(math.log(r) for r, _ in test))
    hi = min(max(math.log(r) for r, _ in reference), max(math.log(r) for r, _ in test))
    if hi <= lo:
        return None
    fit_ref = polyfit([math.log(r) for r, _ in reference], [p for _, p in reference], degree)
    fit_test = polyfit([math.log(r) for r, _ in test], [p for _, p in test], degree)
    return (integrate_fit(fit_test, lo, hi) - integrate_fit(fit_ref, lo, hi)) / (hi - lo)


def _parse(text):
    return [tuple(float(v) for v in item.split(",")) for item in text.split()]


def main(argv):
    if len(argv) != 3:
        sys.stderr.write('usage: bdrate.py "R,P R,P ..." "R,P R,P ..."  (reference, then test)\n')
        return 2
    try:
        ref, test = _parse(argv[1]), _parse(argv[2])
        if len(ref) < 4 or len(test) < 4:
            raise ValueError("each curve needs at least 4 points")
        rate = bd_rate(ref, test)
        psnr = bd_psnr(ref, test)
    except ValueError as e:
        sys.stderr.write("bdrate.py: %s\n" % e)
        return 1
    print("BD-rate %s  BD-PSNR %s" % (
        "n/a" if rate is None else "%+.2f %%" % rate,
        "n/a" if psnr is None else "%+.3f dB" % psnr))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
