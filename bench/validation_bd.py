"""BD-rates between models from their validation lines (`nic-train --validate W`, or a run's
train.log): each model against the first, and against the reference codecs of a bench run.

Usage: python3 bench/validation_bd.py [--references RD.csv] [--by-psnr] NAME=FILE [NAME=FILE ...]

FILE holds the output of `nic-train --validate`; its last validation line is used (the real
coding points "qp Q bpp B psnr P", and the unquantized PSNR, the transforms' ceiling). RD.csv is
the rd.csv of a `bench/rd.sh --out DIR` run on the same photos; its codecs other than nic give
reference curves. Negative = fewer bits than the first model (or the reference) for the same PSNR.
--by-psnr adds, for each model, the difference in bits at each whole dB of its curve (and at its
top): the BD-rate is the mean of these, so they show at which qualities a gap lies.
"""

import csv
import math
import os
import re
import sys

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bdrate  # noqa: E402

POINT = re.compile(r"qp ([\d.]+) bpp ([\d.]+) psnr ([\d.]+)")
CEILING = re.compile(r"unquantized psnr ([\d.]+)")


def read_validation(path):
    """([(bpp, psnr), ...], unquantized psnr or None) from the last validation line of a file."""
    line = None
    with open(path) as f:
        for text in f:
            if "validation" in text and POINT.search(text):
                line = text
    if line is None:
        raise SystemExit("%s: no validation line" % path)
    points = [(float(b), float(p)) for _, b, p in POINT.findall(line.split("|")[0])]
    ceiling = CEILING.search(line)
    return points, float(ceiling.group(1)) if ceiling else None


def read_references(path):
    """{codec: [(bpp, psnr), ...]} of every codec but nic in a bench run's rd.csv."""
    curves = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["codec"] != "nic":
                curves.setdefault(row["codec"], []).append((float(row["bpp"]), float(row["psnr"])))
    return curves


def percent(value):
    return "n/a" if value is None else "%+.2f%%" % value


def print_by_psnr(name, points, curves):
    """The rate difference of one model against each of `curves` ({name: points}) along its curve."""
    low, top = min(p for _, p in points), max(p for _, p in points)
    levels = list(range(math.ceil(low), math.floor(top) + 1))
    if not levels or top - levels[-1] > 0.005:
        levels.append(top)
    print()
    print(" | ".join([name + " at PSNR dB"] + ["vs " + c for c in curves]))
    for psnr in levels:
        cells = [percent(bdrate.rate_difference_at(curve, points, psnr)) for curve in curves.values()]
        print(" | ".join(["%.2f" % psnr] + cells))


def main(argv):
    args = argv[1:]
    references = {}
    by_psnr = False
    while args and args[0].startswith("--"):
        if args[0] == "--references" and len(args) >= 2:
            references = read_references(args[1])
            args = args[2:]
        elif args[0] == "--by-psnr":
            by_psnr = True
            args = args[1:]
        else:
            raise SystemExit(__doc__)
    if not args or any("=" not in a for a in args):
        raise SystemExit(__doc__)
    models = []
    for arg in args:
        name, path = arg.split("=", 1)
        models.append((name, *read_validation(path)))
    first_name, first_points, _ = models[0]
    header = ["model", "top (bpp, dB)", "ceiling dB", "vs " + first_name] + ["vs " + c for c in references]
    print(" | ".join(header))
    for name, points, ceiling in models:
        top = max(points)
        cells = [name, "%.4f, %.2f" % top, "%.2f" % ceiling if ceiling else "n/a",
                 percent(bdrate.bd_rate(first_points, points))]
        cells += [percent(bdrate.bd_rate(curve, points)) for curve in references.values()]
        print(" | ".join(cells))
    if by_psnr:
        for index, (name, points, _) in enumerate(models):
            curves = {} if index == 0 else {first_name: first_points}
            curves.update(references)
            if curves:
                print_by_psnr(name, points, curves)


if __name__ == "__main__":
    main(sys.argv)
