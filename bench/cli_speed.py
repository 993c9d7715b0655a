#!/usr/bin/env python3
"""The nic CLI's codec time for several (build, model) pairs, interleaved.

Each round takes every image at every qp and encodes and decodes it with each pair in turn, so
that the machine's drift (other load, clock, cache) falls on all pairs alike; bench/rd.py, which
runs one codec after another, cannot compare pairs that closely. The time is the one the CLI
reports (no model loading, no file I/O): one frame, its first, as a user of `nic encode` sees it.
Prints, per pair, the median encode and decode seconds over all images, qps and rounds, and their
ratio to the first pair. Standard library only.

    bench/cli_speed.py --pair nic-evc-1=build/tools/nic:MODEL1 \\
        --pair default=build/tools/nic:models/nic-default.safetensors --images DIR
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rd import BenchError, run, self_reported_seconds  # noqa: E402


def parse_pair(text):
    """'LABEL=NIC:MODEL' -> (label, nic, model)."""
    label, sep, rest = text.partition("=")
    nic, sep2, model = rest.partition(":")
    if not (sep and sep2 and label and nic and model):
        raise argparse.ArgumentTypeError("expected LABEL=NIC:MODEL, got %r" % text)
    return label, nic, model


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pair", type=parse_pair, action="append", required=True,
                   help="LABEL=NIC:MODEL, a CLI binary and a model; the first is the baseline")
    p.add_argument("--images", required=True, help="folder of PNG images")
    p.add_argument("--qps", default="0 32 63", help='qps (default "0 32 63")')
    p.add_argument("--rounds", type=int, default=3, help="rounds over everything (default 3)")
    p.add_argument("--threads", type=int, default=2, help="nic --threads (default 2)")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def codec_seconds(argv, what):
    _, out = run(argv, what)
    secs = self_reported_seconds(out)
    if secs is None:
        raise BenchError("%s: no time in the CLI's output: %s" % (what, out.strip()[-200:]))
    return secs


def measure(args, work):
    images = sorted(os.path.join(args.images, f) for f in os.listdir(args.images)
                    if f.endswith(".png"))
    if not images:
        raise BenchError("no PNG images in " + args.images)
    times = {label: ([], []) for label, _, _ in args.pair}
    for _ in range(args.rounds):
        for image in images:
            for qp in args.qps.split():
                for label, nic, model in args.pair:
                    stream = os.path.join(work, "frame.nic")
                    common = ["--model", model, "--threads", str(args.threads)]
                    times[label][0].append(codec_seconds(
                        [nic, "encode", image, "-o", stream, "--qp", qp] + common,
                        "%s encode %s" % (label, image)))
                    times[label][1].append(codec_seconds(
                        [nic, "decode", stream, "-o", os.path.join(work, "frame.png")] + common,
                        "%s decode" % label))
    return times


def report(args, times):
    base_label = args.pair[0][0]
    base = [statistics.median(t) for t in times[base_label]]
    lines = ["label        encode s   decode s   encode vs %s   decode vs %s   n" %
             (base_label, base_label)]
    for label, _, _ in args.pair:
        enc, dec = (statistics.median(t) for t in times[label])
        lines.append("%-12s %8.3f   %8.3f   %+14.1f%%   %+14.1f%%   %d" % (
            label, enc, dec, 100 * (enc / base[0] - 1), 100 * (dec / base[1] - 1),
            len(times[label][0])))
    return "\n".join(lines)


def main(argv):
    args = parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as work:
            times = measure(args, work)
    except BenchError as e:
        print("cli_speed: %s" % e, file=sys.stderr)
        return 1
    print(report(args, times))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
