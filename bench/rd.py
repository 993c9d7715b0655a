#!/usr/bin/env python3
"""RD benchmark: nic against JPEG, WebP, AVIF and JPEG XL on a folder of PNG images.

For every codec and quality point: mean bpp (file bytes * 8 / pixels, averaged over the images),
mean PSNR over RGB (average of the per-image PSNRs, computed by `nic psnr`), and the median over
the images of the encode and decode wall-clock seconds. Then the BD-rate (PSNR) of nic against each
reference codec. Writes rd.csv, rd-images.csv, rd.txt (the printed report) and rd.png (RD plot).

Run bench/rd.sh --help for the options; bench/README.md explains the output. Standard library only.
"""

import argparse
import csv
import fcntl
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, HERE)

import bdrate  # noqa: E402
import pnm  # noqa: E402

REPO = os.path.dirname(HERE)


class BenchError(Exception):
    pass


class Codec:
    """One codec: how to encode a source image at a quality value and how to decode the result.

    encode(q, src_png, src_ppm, out, threads) and decode(compressed, out_base, threads) return
    (argv, decoded_path); decoded files are PNG or PPM (converted to PNG for `nic psnr`)."""

    def __init__(self, name, label, knob, full, quick, ext, tools, encode, decode):
        self.name, self.label, self.knob = name, label, knob
        self.full, self.quick, self.ext, self.tools = full, quick, ext, tools
        self.encode, self.decode = encode, decode


def _jpeg_encode(q, src_png, src_ppm, out, threads):
    return ["cjpeg", "-quality", q, "-sample", "1x1", "-optimize", "-outfile", out, src_ppm]


def _jpeg_decode(src, base, threads):
    return ["djpeg", "-outfile", base + ".ppm", src], base + ".ppm"


def _webp_encode(q, src_png, src_ppm, out, threads):
    mt = ["-mt"] if threads > 1 else []
    return ["cwebp", "-quiet", "-q", q, "-m", "6", "-sharp_yuv"] + mt + [src_png, "-o", out]


def _webp_decode(src, base, threads):
    mt = ["-mt"] if threads > 1 else []
    return ["dwebp", "-quiet"] + mt + [src, "-o", base + ".png"], base + ".png"


def _avif_encode(q, src_png, src_ppm, out, threads):
    # avifenc 0.11 has no -q: a fixed quantizer is --min Q --max Q (0..63, lower = better).
    return ["avifenc", "-c", "aom", "-s", "6", "-y", "444", "-j", str(threads),
            "--min", q, "--max", q, src_png, out]


def _avif_decode(src, base, threads):
    return ["avifdec", "-j", str(threads), src, base + ".png"], base + ".png"


def _jxl_encode(q, src_png, src_ppm, out, threads):
    return ["cjxl", src_png, out, "-d", q, "-e", "7", "--num_threads", str(threads), "--quiet"]


def _jxl_decode(src, base, threads):
    return ["djxl", src, base + ".png", "--num_threads", str(threads)], base + ".png"


REFERENCES = [
    Codec("jpeg", "JPEG (libjpeg-turbo, 4:4:4, -optimize)", "quality",
          "3 5 8 12 20 35 50 70 85 92", "3 10 35 70 90", "jpg", ["cjpeg", "djpeg"],
          _jpeg_encode, _jpeg_decode),
    Codec("webp", "WebP (cwebp -m 6 -sharp_yuv)", "quality",
          "0 5 10 20 35 50 70 80 90", "0 10 35 70 90", "webp", ["cwebp", "dwebp"],
          _webp_encode, _webp_decode),
    Codec("avif", "AVIF (libaom, 4:4:4, speed 6)", "quantizer",
          "58 54 50 45 40 34 28 22 16 10", "54 45 34 22 10", "avif", ["avifenc", "avifdec"],
          _avif_encode, _avif_decode),
    Codec("jxl", "JPEG XL (cjxl -e 7)", "distance",
          "25 15 10 7 5 3.5 2.5 1.5 1 0.7", "15 7 3.5 1.5 0.7", "jxl", ["cjxl", "djxl"],
          _jxl_encode, _jxl_decode),
]
NIC_FULL_QPS = "0 8 16 24 32 40 48 56 63"
NIC_QUICK_QPS = "0 16 32 48 63"


def nic_name(effort):
    """Codec name of nic at an encoder effort: "nic" at effort 1, else "nic-eN"."""
    return "nic" if effort == 1 else "nic-e%d" % effort


def is_nic(name):
    return name == "nic" or name.startswith("nic-e")


def nic_codec(nic, model, label_model, effort=1, precision="auto"):
    def encode(q, src_png, src_ppm, out, threads):
        return [nic, "encode", src_png, "-o", out, "--qp", q, "--model", model,
                "--threads", str(threads), "--effort", str(effort), "--precision", precision]

    def decode(src, base, threads):
        return [nic, "decode", src, "-o", base + ".png", "--model", model,
                "--threads", str(threads), "--precision", precision], base + ".png"

    label = "nic (%s%s)" % (os.path.basename(label_model),
                            "" if effort == 1 else ", effort %d" % effort)
    return Codec(nic_name(effort), label, "qp", NIC_FULL_QPS, NIC_QUICK_QPS, "nic", [nic],
                 encode, decode)


def run(argv, what):
    """Runs a tool; returns (wall seconds, stdout). Raises BenchError with the tool's message."""
    start = time.perf_counter()
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise BenchError("%s: cannot run %s: %s" % (what, argv[0], e))
    secs = time.perf_counter() - start
    if p.returncode != 0:
        raise BenchError("%s failed (exit %d): %s\n  command: %s" % (
            what, p.returncode, p.stderr.decode(errors="replace").strip()[-2000:], " ".join(argv)))
    return secs, p.stdout.decode(errors="replace")


def self_reported_seconds(stdout):
    """The codec time the nic CLI prints ('..., 0.512 s'), which excludes model loading and I/O."""
    m = re.search(r"([0-9.]+) s\s*$", stdout.strip())
    return float(m.group(1)) if m else None


def tool_version(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    lines = [l.strip() for l in p.stdout.decode(errors="replace").splitlines() if l.strip()]
    return lines[0] if lines else "?"


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def snapshot_nic(nic, model, dest, log, extra_tools=()):
    """Copies the nic CLI (and extra_tools, other build-tree programs one folder below the build
    root), their libnic (found through the build tree's $ORIGIN/../core runpath) and the model into
    dest, so that a rebuild or a new model during the run cannot mix binaries or break a
    measurement half-way. Holds a shared lock on /tmp/nic-build.lock (the lock the project's
    builds take) while copying. Returns the paths of the copies: nic, model, then extra_tools."""
    lock_fd = None
    try:
        lock_fd = os.open("/tmp/nic-build.lock", os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            log.write("rd: waiting for a build to finish (/tmp/nic-build.lock)\n")
            fcntl.flock(lock_fd, fcntl.LOCK_SH)
    except OSError:
        pass  # no lock available: copy anyway
    try:
        tools = os.path.join(dest, "tools")
        os.makedirs(tools)
        nic_copy = os.path.join(tools, "nic")
        shutil.copy2(nic, nic_copy)
        extra_copies = []
        for tool in extra_tools:
            extra_copies.append(os.path.join(tools, os.path.basename(tool)))
            shutil.copy2(tool, extra_copies[-1])
        library = os.path.join(os.path.dirname(nic), "..", "core", "libnic.so.0")
        if os.path.exists(library):
            core = os.path.join(dest, "core")
            os.makedirs(core)
            shutil.copy2(os.path.realpath(library), os.path.join(core, "libnic.so.0"))
        model_copy = None
        if model is not None:
            model_copy = os.path.join(dest, os.path.basename(model))
            shutil.copy2(model, model_copy)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    run([nic_copy, "--help"], "the copy of the nic CLI")
    return (nic_copy, model_copy, *extra_copies)


def add_input_args(p, out_name):
    """The options every nic benchmark shares: images, output folder, CLI and model."""
    p.add_argument("--images", default=os.path.normpath(os.path.join(REPO, "..", "shared", "data", "valid")),
                   help="folder of PNG images (default: ../shared/data/valid)")
    p.add_argument("--out", default=os.path.join(REPO, "build", out_name),
                   help="output folder (default: build/%s)" % out_name)
    p.add_argument("--nic", default=os.path.join(REPO, "build", "tools", "nic"),
                   help="the nic CLI (default: build/tools/nic)")
    p.add_argument("--model", default=os.path.join(REPO, "models", "nic-default.safetensors"),
                   help="nic model (default: models/nic-default.safetensors)")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/rd.sh",
        description="RD benchmark of nic against JPEG, WebP, AVIF and JPEG XL (PSNR over RGB).")
    add_input_args(p, "bench-rd")
    p.add_argument("--nic-qps", help='nic qp values, e.g. "0 8 16 24 32 40 48 56 63"')
    p.add_argument("--nic-precision", default="auto",
                   help="nic --precision for encoding and decoding: auto (the default: bfloat16 "
                        "on a CPU with AMX, else float32), float32, bfloat16, float16")
    p.add_argument("--nic-efforts", default="1",
                   help='nic encoder efforts, each a curve of its own, e.g. "1 2 3" (default 1)')
    p.add_argument("--jpeg-qualities", help="cjpeg -quality values")
    p.add_argument("--webp-qualities", help="cwebp -q values")
    p.add_argument("--avif-quantizers", help="avifenc --min/--max values (0..63)")
    p.add_argument("--jxl-distances", help="cjxl -d values")
    p.add_argument("--codecs", default="nic jpeg webp avif jxl",
                   help='codecs to run (default: "nic jpeg webp avif jxl")')
    p.add_argument("--threads", type=int, default=2,
                   help="threads for nic, cwebp/dwebp (-mt), avifenc/avifdec, cjxl/djxl (default 2)")
    p.add_argument("--repeat", type=int, default=1,
                   help="time each encode and decode this many times, keep the median (default 1)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: the first 2 images and 5 points per codec")
    p.add_argument("--keep", action="store_true",
                   help="keep the encoded and decoded files (in OUT/files)")
    a = p.parse_args(argv)
    if a.threads < 1 or a.repeat < 1:
        p.error("--threads and --repeat must be at least 1")
    try:
        a.nic_efforts = sorted({int(e) for e in a.nic_efforts.replace(",", " ").split()})
    except ValueError:
        p.error("--nic-efforts takes integers 1..9")
    if not a.nic_efforts or not all(1 <= e <= 9 for e in a.nic_efforts):
        p.error("--nic-efforts takes integers 1..9")
    return a


def points_for(codec, args):
    override = {
        codec.name: args.nic_qps, "jpeg": args.jpeg_qualities, "webp": args.webp_qualities,
        "avif": args.avif_quantizers, "jxl": args.jxl_distances,
    }[codec.name]
    text = override if override else (codec.quick if args.quick else codec.full)
    values = text.replace(",", " ").split()
    for v in values:
        try:
            float(v)
        except ValueError:
            raise BenchError("%s: %r is not a number" % (codec.name, v))
    if not values:
        raise BenchError("%s: no quality points" % codec.name)
    return values


def measure(codec, q, image, work, args):
    """Encodes and decodes one image at one point; returns a dict of per-image results."""
    stem = os.path.splitext(os.path.basename(image["png"]))[0]
    tag = "%s-%s-%s" % (codec.name, q, stem)
    compressed = os.path.join(work, tag + "." + codec.ext)
    base = os.path.join(work, tag + ".dec")
    enc_times, dec_times, enc_core, dec_core = [], [], [], []
    for _ in range(args.repeat):
        argv = codec.encode(q, image["png"], image["ppm"], compressed, args.threads)
        secs, out = run(argv, "%s encode %s at %s" % (codec.name, stem, q))
        enc_times.append(secs)
        enc_core.append(self_reported_seconds(out) if is_nic(codec.name) else None)
    for _ in range(args.repeat):
        argv, decoded = codec.decode(compressed, base, args.threads)
        secs, out = run(argv, "%s decode %s at %s" % (codec.name, stem, q))
        dec_times.append(secs)
        dec_core.append(self_reported_seconds(out) if is_nic(codec.name) else None)
    if decoded.endswith(".ppm"):
        png = base + ".png"
        pnm.ppm_to_png(decoded, png)
        decoded = png
    _, out = run([args.nic_run, "psnr", image["png"], decoded], "psnr of %s" % tag)
    try:
        psnr = float(out.split()[0])
    except (ValueError, IndexError):
        raise BenchError("nic psnr printed %r for %s" % (out, tag))
    size = os.path.getsize(compressed)
    if not args.keep:
        for path in {compressed, decoded, base + ".ppm"}:
            if os.path.exists(path):
                os.remove(path)

    def median_or_none(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    return {
        "image": stem, "bytes": size, "bpp": size * 8.0 / image["pixels"], "psnr": psnr,
        "enc_s": statistics.median(enc_times), "dec_s": statistics.median(dec_times),
        "enc_core_s": median_or_none(enc_core), "dec_core_s": median_or_none(dec_core),
    }


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def write_plot(args, summary, codecs, title):
    data = os.path.join(args.out, "rd-plot.dat")
    with open(data, "w") as f:
        for codec in codecs:
            f.write("# %s\n" % codec.name)
            for row in sorted(summary[codec.name], key=lambda r: r["bpp"]):
                f.write("%.6f %.4f\n" % (row["bpp"], row["psnr"]))
            f.write("\n\n")
    script = os.path.join(args.out, "rd.gp")
    terminal = "pngcairo size 1000,700 font ',11'"
    probe = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    if probe.returncode != 0 or probe.stderr:
        terminal = "png size 1000,700"
    colors = {"nic": "#d62728", "nic-e2": "#e377c2", "nic-e3": "#9467bd", "nic-e4": "#8c564b",
              "nic-e5": "#17becf", "nic-e6": "#bcbd22", "nic-e7": "#393b79", "nic-e8": "#637939",
              "nic-e9": "#843c39", "jpeg": "#7f7f7f", "webp": "#2ca02c", "avif": "#1f77b4",
              "jxl": "#ff7f0e"}
    plots = []
    for index, codec in enumerate(codecs):
        width = 3 if is_nic(codec.name) else 2
        plots.append("'rd-plot.dat' index %d using 1:2 with linespoints lc rgb '%s' lw %d pt 7 "
                     "ps 0.8 title '%s'" % (index, colors[codec.name], width,
                                            codec.label.replace("'", "")))
    with open(script, "w") as f:
        f.write("# Regenerate with: cd %s && gnuplot rd.gp\n" % args.out)
        f.write("set terminal %s\n" % terminal)
        f.write("set output 'rd.png'\n")
        f.write("set title '%s' noenhanced\n" % title.replace("'", ""))
        f.write("set xlabel 'bits per pixel'\nset ylabel 'PSNR over RGB (dB)'\n")
        f.write("set grid\nset key bottom right noenhanced\nset xrange [0:*]\n")
        f.write("plot " + ", \\\n     ".join(plots) + "\n")
    p = subprocess.run(["gnuplot", "rd.gp"], cwd=args.out, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise BenchError("gnuplot failed: %s" % p.stderr.decode(errors="replace"))
    return os.path.join(args.out, "rd.png")


def bd_table(summary, test_name, references):
    """Rows (reference, BD-rate %, BD-PSNR dB, overlap) of test_name against each reference."""
    rows = []
    test = [(r["bpp"], r["psnr"]) for r in summary[test_name]]
    for ref_name in references:
        ref = [(r["bpp"], r["psnr"]) for r in summary[ref_name]]
        if len(test) < 4 or len(ref) < 4:
            rows.append((ref_name, None, None, None, "needs >= 4 points per curve"))
            continue
        interval = bdrate.overlap(ref, test)
        try:
            rate = bdrate.bd_rate(ref, test)
            psnr = bdrate.bd_psnr(ref, test)
        except ValueError as e:
            rows.append((ref_name, None, None, interval, str(e)))
            continue
        note = ""
        if interval is None:
            note = "no PSNR overlap (%s %.2f-%.2f dB, %s %.2f-%.2f dB)" % (
                test_name, min(p for _, p in test), max(p for _, p in test),
                ref_name, min(p for _, p in ref), max(p for _, p in ref))
        elif interval[1] - interval[0] < 2.0:
            note = "narrow overlap: unreliable"
        rows.append((ref_name, rate, psnr, interval, note))
    return rows


def format_bd_rows(rows):
    lines = ["%-10s %10s %10s %18s  %s" % ("reference", "BD-rate", "BD-PSNR", "PSNR overlap", "")]
    for name, rate, psnr, interval, note in rows:
        lines.append("%-10s %10s %10s %18s  %s" % (
            name,
            "n/a" if rate is None else "%+.1f %%" % rate,
            "n/a" if psnr is None else "%+.2f dB" % psnr,
            "-" if interval is None else "%.2f .. %.2f dB" % interval,
            note))
    return lines


def main(argv):
    args = parse_args(argv)
    args.out = os.path.abspath(args.out)
    args.nic = os.path.abspath(args.nic)
    wanted = args.codecs.replace(",", " ").split()
    known = ["nic"] + [c.name for c in REFERENCES]
    for name in wanted:
        if name not in known:
            raise BenchError("unknown codec %r (known: %s)" % (name, " ".join(known)))

    # nic psnr measures every codec, so the nic CLI is needed even without nic in --codecs.
    if not (os.path.isfile(args.nic) and os.access(args.nic, os.X_OK)):
        raise BenchError("no nic CLI at %s: build it (ninja -C build) or pass --nic" % args.nic)
    codecs = []
    if "nic" in wanted:
        args.model = os.path.abspath(args.model)
        if not os.path.isfile(args.model):
            raise BenchError("no nic model at %s: pass --model" % args.model)
        # Replaced by the copies below.
        codecs += [nic_codec(args.nic, args.model, args.model, e, args.nic_precision)
                   for e in args.nic_efforts]
    codecs += [c for c in REFERENCES if c.name in wanted]
    for codec in codecs:
        for tool in codec.tools:
            if shutil.which(tool) is None:
                raise BenchError("%s is not installed: run scripts/install-deps.sh" % tool)
    if shutil.which("gnuplot") is None:
        raise BenchError("gnuplot is not installed: run scripts/install-deps.sh")
    points = {c.name: points_for(c, args) for c in codecs}

    if not os.path.isdir(args.images):
        raise BenchError("no image folder %s (--images)" % args.images)
    names = sorted(n for n in os.listdir(args.images) if n.lower().endswith(".png"))
    if args.quick:
        names = names[:2]
    if not names:
        raise BenchError("no PNG images in %s" % args.images)

    log = sys.stderr
    os.makedirs(args.out, exist_ok=True)
    scratch = tempfile.TemporaryDirectory(prefix="work-", dir=args.out)
    if args.keep:
        work = os.path.join(args.out, "files")
        os.makedirs(work, exist_ok=True)
    else:
        work = scratch.name
    try:
        args.nic_run, model_run = snapshot_nic(
            args.nic, args.model if "nic" in wanted else None, os.path.join(scratch.name, "nic"), log)
        model_digest = file_digest(model_run) if model_run else None
        if "nic" in wanted:
            for i, e in enumerate(args.nic_efforts):
                codecs[i] = nic_codec(args.nic_run, model_run, args.model, e, args.nic_precision)
    except BaseException:
        scratch.cleanup()
        raise
    versions = {
        "jpeg": tool_version(["cjpeg", "-version"]),
        "webp": "cwebp " + tool_version(["cwebp", "-version"]),
        "avif": "avifenc " + tool_version(["avifenc", "--version"]).replace("Version: ", ""),
        "jxl": tool_version(["cjxl", "--version"]),
    }
    header = [
        "RD benchmark: %d image(s) from %s%s" % (len(names), args.images,
                                                  " (--quick)" if args.quick else ""),
        "bpp = file bytes * 8 / pixels, averaged over the images; PSNR over RGB, averaged over the "
        "images; enc_s/dec_s = median over the images of the CLI wall-clock seconds "
        "(%d thread(s), median of %d run(s))" % (args.threads, args.repeat),
    ]
    for codec in codecs:
        if is_nic(codec.name):
            header.append("nic: %s, model %s (sha256 %s), precision %s"
                          % (args.nic, args.model, model_digest, args.nic_precision))
        else:
            header.append("%s: %s" % (codec.name, versions[codec.name]))

    try:
        images = []
        for name in names:
            png = os.path.join(args.images, name)
            width, height = pnm.png_size(png)
            ppm = None
            if any(c.name == "jpeg" for c in codecs):
                ppm = os.path.join(work, os.path.splitext(name)[0] + ".src.ppm")
                pnm.png_to_ppm(png, ppm)
            images.append({"png": png, "ppm": ppm, "pixels": width * height})

        per_image = []
        summary = {}
        for codec in codecs:
            summary[codec.name] = []
            for q in points[codec.name]:
                results = []
                for image in images:
                    r = measure(codec, q, image, work, args)
                    results.append(r)
                    log.write("  %-4s %s %-5s %-14s %7.4f bpp %7.3f dB  enc %6.3f s  dec %6.3f s\n" % (
                        codec.name, codec.knob, q, r["image"], r["bpp"], r["psnr"], r["enc_s"],
                        r["dec_s"]))
                    log.flush()
                for r in results:
                    per_image.append(dict(r, codec=codec.name, quality=q))
                core_enc = [r["enc_core_s"] for r in results if r["enc_core_s"] is not None]
                core_dec = [r["dec_core_s"] for r in results if r["dec_core_s"] is not None]
                summary[codec.name].append({
                    "quality": q,
                    "bpp": statistics.fmean(r["bpp"] for r in results),
                    "psnr": statistics.fmean(r["psnr"] for r in results),
                    "enc_s": statistics.median(r["enc_s"] for r in results),
                    "dec_s": statistics.median(r["dec_s"] for r in results),
                    "enc_core_s": statistics.median(core_enc) if core_enc else None,
                    "dec_core_s": statistics.median(core_dec) if core_dec else None,
                })
    finally:
        scratch.cleanup()

    csv_path = os.path.join(args.out, "rd.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["codec", "quality", "bpp", "psnr", "enc_s", "dec_s"])
        for codec in codecs:
            for row in summary[codec.name]:
                w.writerow([codec.name, row["quality"], "%.5f" % row["bpp"], "%.4f" % row["psnr"],
                            "%.4f" % row["enc_s"], "%.4f" % row["dec_s"]])
    images_path = os.path.join(args.out, "rd-images.csv")
    with open(images_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["codec", "quality", "image", "bytes", "bpp", "psnr", "enc_s", "dec_s",
                    "enc_codec_s", "dec_codec_s"])
        for r in per_image:
            w.writerow([r["codec"], r["quality"], r["image"], r["bytes"], "%.5f" % r["bpp"],
                        "%.4f" % r["psnr"], "%.4f" % r["enc_s"], "%.4f" % r["dec_s"],
                        fmt(r["enc_core_s"], ".4f"), fmt(r["dec_core_s"], ".4f")])

    report = list(header) + [""]
    report.append("%-6s %9s %9s %9s %8s %8s" % ("codec", "quality", "bpp", "PSNR", "enc_s", "dec_s"))
    for codec in codecs:
        for row in summary[codec.name]:
            report.append("%-6s %9s %9.4f %9.3f %8.3f %8.3f" % (
                codec.name, row["quality"], row["bpp"], row["psnr"], row["enc_s"], row["dec_s"]))
    nics = [c.name for c in codecs if is_nic(c.name)]
    for name in nics:
        enc = [r["enc_core_s"] for r in summary[name] if r["enc_core_s"] is not None]
        dec = [r["dec_core_s"] for r in summary[name] if r["dec_core_s"] is not None]
        if enc and dec:
            report.append("")
            report.append("%s codec time as the CLI reports it (no model loading, no file I/O), "
                          "median over points: encode %.3f s, decode %.3f s" % (
                              name, statistics.median(enc), statistics.median(dec)))
    refs = [c.name for c in codecs if not is_nic(c.name)]
    for name in nics:
        if refs:
            report.append("")
            report.append("BD-rate (PSNR) of %s against each reference; negative = %s needs fewer "
                          "bits for the same PSNR" % (name, name))
            report += format_bd_rows(bd_table(summary, name, refs))
    if "nic" in nics and len(nics) > 1:
        report.append("")
        report.append("BD-rate (PSNR) of each encoder effort against effort 1 (nic)")
        rows = [(name,) + bd_table(summary, name, ["nic"])[0][1:] for name in nics if name != "nic"]
        report += [l.replace("reference", "effort   ", 1) for l in format_bd_rows(rows)]
    if "jpeg" in summary and len(refs) > 1:
        report.append("")
        report.append("Sanity check: BD-rate (PSNR) of each reference against JPEG")
        others = [n for n in refs if n != "jpeg"]
        rows = []
        for name in others:
            row = bd_table(summary, name, ["jpeg"])[0]
            rows.append((name,) + row[1:])
        report += [l.replace("reference", "codec    ", 1) for l in format_bd_rows(rows)]

    title = "RD, PSNR over RGB: %d image(s) of %s%s" % (
        len(names), os.path.basename(args.images.rstrip("/")), " (--quick)" if args.quick else "")
    plot = write_plot(args, summary, codecs, title)
    report += ["", "wrote %s, %s, %s" % (csv_path, images_path, plot)]
    text = "\n".join(report) + "\n"
    with open(os.path.join(args.out, "rd.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        sys.stderr.write("rd: %s\n" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
