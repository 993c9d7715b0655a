#!/usr/bin/env python3
"""Rate-control benchmark: frame-size accuracy of nic's rate controller (cbr, abr; what
`nic encode-seq --rc` runs) and the RD cost of rate control against a constant qp at the same
average rate.

1. Makes a test sequence (pans and static crops over the validation photos, a scene cut every
   --scene-frames frames) with FFmpeg, as PNGs in OUT/frames (kept and reused while the
   parameters are unchanged).
2. Starts build/bench/nic-seq-engine on the frames: it analyses each frame once through the C API
   (nic_analyze_rgb) and codes the sequence on request for the cost of quantization and entropy
   coding only, so the many codings below do not repeat the analysis transform.
3. For every bitrate and mode: the sequence under the rate controller (nic_encode_analysis_controlled,
   the same controller as `nic encode-seq --rc MODE --bitrate B --fps F --buffer S`); from the
   per-frame sizes: the mean of |size/budget - 1|, the mean of size/budget - 1, the worst frame, the
   average against the target, frames over budget + buffer and the peak of a leaky bucket.
4. Decodes the stream, mean PSNR over the frames; finds by bisection the constant qp whose average
   bytes/frame matches the stream's within --tolerance, decodes it, mean PSNR; the difference is
   the RD cost of rate control at equal rate.
5. Prints a markdown table (also OUT/rc.txt) and writes OUT/rc.csv and OUT/rc-frames.csv.

Run bench/rate-control.sh --help for the options; bench/README.md explains the output.
Standard library only.
"""

import argparse
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, HERE)

import rd  # noqa: E402  (run, snapshot_nic, file_digest, BenchError)

BenchError = rd.BenchError
REPO = rd.REPO
QP_MIN, QP_MAX = 0.0, 63.0

# Scene k of the sequence: photo k mod n, zoomed by ZOOMS[k mod len] beyond "cover the frame",
# crop window moving from (x0, y0) to (x1, y1), fractions of the room the zoom leaves. A scene
# whose start equals its end is a static crop.
ZOOMS = [1.25, 1.5, 1.15, 1.8, 1.35, 1.6, 1.2]
PATHS = [
    ((0.0, 0.0), (1.0, 1.0)),   # diagonal pan, top left to bottom right
    ((1.0, 0.5), (0.0, 0.5)),   # horizontal pan, right to left
    ((0.5, 0.0), (0.5, 1.0)),   # vertical pan, downwards
    ((0.3, 0.6), (0.3, 0.6)),   # static crop
    ((0.0, 1.0), (1.0, 0.0)),   # diagonal pan, bottom left to top right
    ((0.2, 0.2), (0.6, 0.4)),   # slow drift
]

def parse_size(text):
    m = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not m or int(m.group(1)) < 16 or int(m.group(2)) < 16:
        raise argparse.ArgumentTypeError("expected WxH, e.g. 1920x1080 (at least 16x16)")
    return int(m.group(1)), int(m.group(2))


def parse_numbers(text, what):
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise BenchError("%s: not a list of numbers: %r" % (what, text))
    if not values or any(v <= 0 for v in values):
        raise BenchError("%s: need positive numbers" % what)
    return values


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/rate-control.sh",
        description="Rate-control benchmark: per-frame size accuracy of nic encode-seq --rc cbr/abr "
                    "and the PSNR cost of CBR against constant qp at the same average rate.")
    p.add_argument("--frames", type=int, default=100, help="frames in the sequence (default 100)")
    p.add_argument("--size", type=parse_size, default=(1920, 1080), help="WxH (default 1920x1080)")
    p.add_argument("--bitrates", help='kbit/s values, e.g. "9331 18662 37325" '
                   "(default: the --bpp values at --size and --fps)")
    p.add_argument("--bpp", default="0.15 0.3 0.6",
                   help='target bits per pixel when --bitrates is not given (default "0.15 0.3 0.6")')
    p.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    p.add_argument("--buffer", type=float, default=1.0, help="CBR buffer in seconds (default 1)")
    p.add_argument("--modes", default="cbr abr", help='rate-control modes (default "cbr abr")')
    p.add_argument("--tolerance", type=float, default=1.0,
                   help="constant-qp search: match the average bytes/frame within this %% (default 1)")
    p.add_argument("--max-cqp-runs", type=int, default=10,
                   help="constant-qp search: at most this many encodes per stream (default 10)")
    p.add_argument("--scene-frames", type=int, default=15,
                   help="frames per scene, i.e. a scene cut every N frames (default 15)")
    rd.add_input_args(p, "bench-rc")
    p.add_argument("--engine", default=os.path.join(REPO, "build", "bench", "nic-seq-engine"),
                   help="the sequence engine (default: build/bench/nic-seq-engine)")
    p.add_argument("--ffmpeg", default=os.path.join(REPO, "build", "ffmpeg-codec", "prefix", "bin", "ffmpeg"),
                   help="ffmpeg that makes the sequence (default: build/ffmpeg-codec/prefix/bin/ffmpeg, "
                        "else ffmpeg on PATH)")
    p.add_argument("--threads", type=int, default=2, help="nic --threads (default 2)")
    p.add_argument("--keep", action="store_true",
                   help="keep the .nic streams (in OUT/streams)")
    a = p.parse_args(argv)
    if a.frames < 1 or a.threads < 1 or a.scene_frames < 1 or a.max_cqp_runs < 1:
        p.error("--frames, --threads, --scene-frames and --max-cqp-runs must be at least 1")
    if a.fps <= 0 or a.buffer < 0 or a.tolerance <= 0:
        p.error("--fps and --tolerance must be positive, --buffer not negative")
    a.modes = a.modes.replace(",", " ").split()
    for m in a.modes:
        if m not in ("cbr", "abr"):
            p.error("--modes: unknown mode %r (cbr, abr)" % m)
    return a


# ---- the test sequence ------------------------------------------------------------------------

def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise BenchError("%s is not a PNG" % path)
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def scene_plan(photos, frames, scene_frames, width, height):
    """The scenes: (first frame, frame count, photo, scaled w, h, crop x0, y0, x1, y1)."""
    scenes = []
    first = 0
    k = 0
    while first < frames:
        count = min(scene_frames, frames - first)
        photo = photos[k % len(photos)]
        iw, ih = png_size(photo)
        zoom = ZOOMS[k % len(ZOOMS)]
        cover = max(width / iw, height / ih)
        sw = max(width, int(math.ceil(iw * cover * zoom / 2)) * 2)
        sh = max(height, int(math.ceil(ih * cover * zoom / 2)) * 2)
        (fx0, fy0), (fx1, fy1) = PATHS[k % len(PATHS)]
        rx, ry = sw - width, sh - height
        scenes.append((first, count, photo, sw, sh,
                       round(fx0 * rx), round(fy0 * ry), round(fx1 * rx), round(fy1 * ry)))
        first += count
        k += 1
    return scenes


def make_sequence(args, ffmpeg, log):
    """Writes OUT/frames/frame%04d.png unless a sequence with the same parameters is there."""
    folder = os.path.join(args.out, "frames")
    photos = sorted(os.path.join(args.images, n) for n in os.listdir(args.images)
                    if n.lower().endswith(".png"))
    if not photos:
        raise BenchError("no PNG photos in %s (--images)" % args.images)
    width, height = args.size
    scenes = scene_plan(photos, args.frames, args.scene_frames, width, height)
    params = {"size": [width, height], "frames": args.frames, "scenes": scenes,
              "photos": [[p, os.path.getsize(p), int(os.path.getmtime(p))] for p in photos]}
    manifest = os.path.join(folder, "sequence.json")
    names = [os.path.join(folder, "frame%04d.png" % i) for i in range(args.frames)]
    try:
        with open(manifest) as f:
            if json.load(f) == json.loads(json.dumps(params)) and all(map(os.path.isfile, names)):
                log.write("rc: reusing the sequence in %s\n" % folder)
                return names, scenes
    except (OSError, ValueError):
        pass
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    log.write("rc: making %d frames at %dx%d in %s (%d scenes)\n" % (args.frames, width, height,
                                                                   folder, len(scenes)))
    for first, count, photo, sw, sh, x0, y0, x1, y1 in scenes:
        last = max(1, count - 1)
        crop = "crop=%d:%d:x='%d+(%d)*n/%d':y='%d+(%d)*n/%d'" % (
            width, height, x0, x1 - x0, last, y0, y1 - y0, last)
        rd.run([ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-loop", "1",
                "-i", photo, "-vf", "scale=%d:%d:flags=lanczos,%s,format=rgb24" % (sw, sh, crop),
                "-frames:v", str(count), "-start_number", str(first),
                os.path.join(folder, "frame%04d.png")], "ffmpeg (scene at frame %d)" % first)
    missing = [n for n in names if not os.path.isfile(n)]
    if missing:
        raise BenchError("ffmpeg did not write %s" % missing[0])
    for n in names:
        if png_size(n) != (width, height):
            raise BenchError("%s is not %dx%d" % (n, width, height))
    with open(manifest, "w") as f:
        json.dump(params, f)
    return names, scenes


# ---- encoding, decoding, measuring ------------------------------------------------------------

class Engine:
    """nic-seq-engine as a child process: one command line in, one JSON line out."""

    def __init__(self, argv, log):
        self.log = log
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, universal_newlines=True)
        except OSError as e:
            raise BenchError("cannot run %s: %s" % (argv[0], e))
        hello = self._read("starting nic-seq-engine")
        self.analysis_seconds = hello["analysis_seconds"]

    def _read(self, what):
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().strip()
            raise BenchError("%s: nic-seq-engine ended: %s" % (what, err[-2000:] or "no message"))
        reply = json.loads(line)
        if not reply.get("ok"):
            raise BenchError("%s: %s" % (what, reply.get("error")))
        return reply

    def call(self, command, what):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read(what)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.wait()


class Stream:
    """One coding of the sequence: per-frame qp, bytes and codec seconds (the frame's analysis plus
    its coding, i.e. what a single encode costs), and (once measured) PSNRs."""

    def __init__(self, name, qps, sizes, seconds):
        self.name, self.qps, self.sizes, self.seconds = name, qps, sizes, seconds
        self.psnrs = None
        self.decode_seconds = None

    @property
    def mean_bytes(self):
        return sum(self.sizes) / len(self.sizes)

    @property
    def mean_psnr(self):
        return sum(self.psnrs) / len(self.psnrs)


class Bench:
    def __init__(self, args, engine, frames, log):
        self.args, self.engine, self.frames, self.log = args, engine, frames, log
        self.cqp_cache = {}

    def encode(self, name, spec, what):
        """Codes the sequence; spec is "cqp QP" or "cbr|abr KBIT/S FPS BUFFER_S"."""
        reply = self.engine.call("encode %s %s" % (name, spec), what)
        sizes = reply["sizes"]
        if len(sizes) != len(self.frames):
            raise BenchError("%s: %d frames coded of %d" % (what, len(sizes), len(self.frames)))
        seconds = [a + c for a, c in zip(self.engine.analysis_seconds, reply["seconds"])]
        return Stream(name, reply["qps"], sizes, seconds)

    def measure_psnr(self, stream, what):
        """Decodes the stream and computes each frame's PSNR over RGB."""
        if stream.psnrs is not None:
            return
        reply = self.engine.call("psnr %s" % stream.name, "decoding " + what)
        stream.psnrs = reply["psnrs"]
        stream.decode_seconds = reply["seconds"]

    def save(self, stream, path):
        self.engine.call("save %s %s" % (stream.name, path), "saving " + stream.name)

    def cqp(self, qp):
        qp = round(min(QP_MAX, max(QP_MIN, qp)), 2)
        if qp not in self.cqp_cache:
            s = self.encode("cqp-%05.2f" % qp, "cqp %.2f" % qp, "constant qp %.2f" % qp)
            self.log.write("rc:   cqp %5.2f: %.0f bytes/frame\n" % (qp, s.mean_bytes))
            self.cqp_cache[qp] = s
        return qp, self.cqp_cache[qp]

    def match_cqp(self, target, start_qp):
        """The constant qp whose mean bytes/frame is within --tolerance of target: a bracket
        search from start_qp, then regula falsi on log(bytes) against qp (bisection when it
        stalls). Returns (qp, stream, runs, note); note is '' when matched."""
        tol = self.args.tolerance / 100.0
        big = small = None  # (qp, bytes): a qp giving more / fewer bytes than the target
        best = None
        step = 3.0
        qp = start_qp
        last_side = None
        same_side = 0
        runs = 0
        while runs < self.args.max_cqp_runs:
            before = len(self.cqp_cache)
            qp, s = self.cqp(qp)
            runs += len(self.cqp_cache) - before
            r = s.mean_bytes / target - 1.0
            if best is None or abs(r) < abs(best[1].mean_bytes / target - 1.0):
                best = (qp, s)
            if abs(r) <= tol:
                return qp, s, runs, ""
            side = "big" if r > 0 else "small"
            same_side = same_side + 1 if side == last_side else 0
            last_side = side
            if side == "big":
                big = (qp, s.mean_bytes)
            else:
                small = (qp, s.mean_bytes)
            if big and small:
                span = small[0] - big[0]
                if span <= 0.011:
                    break  # qp resolution of the search (0.01) reached
                if same_side >= 1:
                    nxt = (big[0] + small[0]) / 2
                else:
                    f = (math.log(big[1]) - math.log(target)) / (math.log(big[1]) - math.log(small[1]))
                    nxt = big[0] + f * span
                nxt = round(min(max(nxt, big[0] + 0.01), small[0] - 0.01), 2)
                qp = nxt
            elif big:
                if big[0] >= QP_MAX:
                    break
                qp = min(QP_MAX, big[0] + step)
                step *= 2
            else:
                if small[0] <= QP_MIN:
                    break
                qp = max(QP_MIN, small[0] - step)
                step *= 2
        qp, s = best[0], best[1]
        return qp, s, runs, "closest of the search (%+.1f%%)" % (100.0 * (s.mean_bytes / target - 1.0))


def deviation_stats(sizes, budget, buffer_bytes):
    ratios = [s / budget - 1.0 for s in sizes]
    fullness = peak = 0.0
    for s in sizes:  # leaky bucket drained by one budget per frame, never below empty
        fullness = max(0.0, fullness + s - budget)
        peak = max(peak, fullness)
    return {
        "mean_abs_dev": sum(abs(r) for r in ratios) / len(ratios),
        "mean_dev": sum(ratios) / len(ratios),
        "worst": max(ratios),
        "avg_vs_target": (sum(sizes) / len(sizes)) / budget - 1.0,
        "over_budget_buffer": sum(1 for s in sizes if s > budget + buffer_bytes),
        "bucket_peak": peak / buffer_bytes if buffer_bytes > 0 else float("nan"),
    }


def pct(x, digits=1):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else "%+.*f%%" % (digits, 100.0 * x)


def main(argv):
    args = parse_args(argv)
    log = sys.stderr
    t_start = time.perf_counter()
    args.out = os.path.abspath(args.out)
    args.nic = os.path.abspath(args.nic)
    args.engine = os.path.abspath(args.engine)
    args.model = os.path.abspath(args.model)
    for tool, option in ((args.nic, "--nic"), (args.engine, "--engine")):
        if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
            raise BenchError("no %s at %s: build it (ninja -C build) or pass %s" % (
                os.path.basename(tool), tool, option))
    if not os.path.isfile(args.model):
        raise BenchError("no nic model at %s: pass --model" % args.model)
    ffmpeg = args.ffmpeg if os.access(args.ffmpeg, os.X_OK) else shutil.which("ffmpeg")
    if not ffmpeg:
        raise BenchError("no ffmpeg at %s nor on PATH (--ffmpeg)" % args.ffmpeg)
    if not os.path.isdir(args.images):
        raise BenchError("no image folder %s (--images)" % args.images)
    width, height = args.size
    pixels = width * height
    if args.bitrates:
        kbps = parse_numbers(args.bitrates, "--bitrates")
    else:
        kbps = [round(b * pixels * args.fps / 1000.0) for b in parse_numbers(args.bpp, "--bpp")]

    os.makedirs(args.out, exist_ok=True)
    frames, scenes = make_sequence(args, ffmpeg, log)
    scratch = tempfile.TemporaryDirectory(prefix="work-", dir=args.out)
    engine = None
    try:
        _, model, engine_copy = rd.snapshot_nic(args.nic, args.model, os.path.join(scratch.name, "nic"),
                                                log, [args.engine])
        digest = rd.file_digest(model)
        log.write("rc: analysing %d frames once (nic-seq-engine)\n" % len(frames))
        engine = Engine([engine_copy, "--model", model, "--threads", str(args.threads)] + frames, log)
        bench = Bench(args, engine, frames, log)
        rows, frame_rows = [], []
        for rate in kbps:  # constant-qp codings stay cached: every rate and mode may reuse them
            budget = rate * 1000.0 / 8.0 / args.fps
            buffer_bytes = rate * 1000.0 / 8.0 * args.buffer
            for mode in args.modes:
                what = "%s at %g kbit/s" % (mode, rate)
                log.write("rc: %s\n" % what)
                s = bench.encode("%s-%g" % (mode, rate), "%s %g %g %g" % (mode, rate, args.fps, args.buffer),
                                 what)
                stats = deviation_stats(s.sizes, budget, buffer_bytes)
                bench.measure_psnr(s, what)
                start_qp = sum(s.qps) / len(s.qps)
                qp, c, runs, note = bench.match_cqp(s.mean_bytes, start_qp)
                bench.measure_psnr(c, "cqp %.2f" % qp)
                row = {
                    "kbps": rate, "bpp_target": budget * 8.0 / pixels, "mode": mode,
                    "budget_bytes": budget, "buffer_bytes": buffer_bytes,
                    "mean_bytes": s.mean_bytes, "bpp": s.mean_bytes * 8.0 / pixels,
                    **stats,
                    "frames_at_max_qp": sum(1 for q in s.qps if q >= QP_MAX - 1e-6),
                    "mean_qp": start_qp, "min_qp": min(s.qps), "max_qp": max(s.qps),
                    "psnr": s.mean_psnr, "cqp_qp": qp, "cqp_mean_bytes": c.mean_bytes,
                    "cqp_rate_diff": c.mean_bytes / s.mean_bytes - 1.0, "cqp_psnr": c.mean_psnr,
                    "delta_psnr": s.mean_psnr - c.mean_psnr, "cqp_runs": runs, "cqp_note": note,
                    "enc_s_per_frame": sum(s.seconds) / len(s.seconds),
                    "cqp_enc_s_per_frame": sum(c.seconds) / len(c.seconds),
                    "dec_s_per_frame": (sum(s.decode_seconds) / len(s.decode_seconds)
                                        if s.decode_seconds else float("nan")),
                }
                rows.append(row)
                log.write("rc:   %s: avg %s, worst %s, %.2f dB; cqp %.2f: %.2f dB, delta %+.2f dB\n" % (
                    mode, pct(stats["avg_vs_target"], 2), pct(stats["worst"]), s.mean_psnr, qp,
                    c.mean_psnr, row["delta_psnr"]))
                for label, st, setting in ((mode, s, ""), ("cqp", c, "%.2f" % qp)):
                    for i in range(len(frames)):
                        frame_rows.append([
                            "%g" % rate, label, mode if label == "cqp" else "", setting, i,
                            "%.2f" % st.qps[i], st.sizes[i], "%.4f" % (st.sizes[i] / budget - 1.0),
                            "%.4f" % st.psnrs[i], "%.3f" % st.seconds[i]])
                if args.keep:
                    keep = os.path.join(args.out, "streams", "%g" % rate)
                    os.makedirs(keep, exist_ok=True)
                    bench.save(s, os.path.join(keep, mode + ".nic"))
                    bench.save(c, os.path.join(keep, "cqp-%.2f.nic" % qp))
    finally:
        if engine:
            engine.close()
        scratch.cleanup()
    wall = time.perf_counter() - t_start

    report = format_report(args, rows, scenes, frames, digest, kbps, wall)
    sys.stdout.write(report)
    with open(os.path.join(args.out, "rc.txt"), "w") as f:
        f.write(report)
    write_csv(os.path.join(args.out, "rc.csv"), rows)
    with open(os.path.join(args.out, "rc-frames.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kbps", "mode", "matched_mode", "cqp_setting", "frame", "qp", "bytes",
                    "size_over_budget", "psnr", "enc_s"])
        w.writerows(frame_rows)
    return 0


CSV_FIELDS = [
    ("kbps", "%g"), ("bpp_target", "%.4f"), ("mode", "%s"), ("budget_bytes", "%.1f"),
    ("buffer_bytes", "%.1f"), ("mean_bytes", "%.1f"), ("bpp", "%.4f"), ("avg_vs_target", "%.5f"),
    ("mean_abs_dev", "%.5f"), ("mean_dev", "%.5f"), ("worst", "%.5f"),
    ("over_budget_buffer", "%d"), ("bucket_peak", "%.4f"), ("frames_at_max_qp", "%d"),
    ("mean_qp", "%.2f"), ("min_qp", "%.2f"), ("max_qp", "%.2f"), ("psnr", "%.4f"),
    ("cqp_qp", "%.2f"), ("cqp_mean_bytes", "%.1f"), ("cqp_rate_diff", "%.5f"), ("cqp_psnr", "%.4f"),
    ("delta_psnr", "%.4f"), ("cqp_runs", "%d"), ("cqp_note", "%s"),
    ("enc_s_per_frame", "%.3f"), ("cqp_enc_s_per_frame", "%.3f"), ("dec_s_per_frame", "%.3f"),
]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([k for k, _ in CSV_FIELDS])
        for r in rows:
            w.writerow([fmt % r[k] for k, fmt in CSV_FIELDS])


def format_report(args, rows, scenes, frames, digest, kbps, wall):
    width, height = args.size
    out = []
    out.append("# nic rate control: %d frames at %dx%d, %g fps, buffer %g s\n\n" % (
        len(frames), width, height, args.fps, args.buffer))
    out.append("sequence: %d scenes of up to %d frames (pans and static crops over %s), in %s\n" % (
        len(scenes), args.scene_frames, args.images, os.path.join(args.out, "frames")))
    out.append("model: %s (sha256 %s); nic --threads %d; constant-qp match within %g%%\n\n" % (
        os.path.basename(args.model), digest, args.threads, args.tolerance))
    out.append("| kbit/s | bpp | mode | budget B/frame | avg B/frame | avg vs target | mean abs dev "
               "| mean dev | worst frame | frames > budget+buffer | bucket peak | frames at qp 63 "
               "| PSNR dB | cqp qp | cqp rate vs mode | cqp PSNR dB | delta PSNR dB |\n")
    out.append("|" + " ---: |" * 2 + " --- |" + " ---: |" * 14 + "\n")
    for r in rows:
        out.append("| %g | %.3f | %s | %.0f | %.0f | %s | %s | %s | %s | %d | %.0f%% | %d | %.2f "
                   "| %.2f | %s | %.2f | %+.2f |\n" % (
                       r["kbps"], r["bpp_target"], r["mode"], r["budget_bytes"], r["mean_bytes"],
                       pct(r["avg_vs_target"], 2), pct(r["mean_abs_dev"]).lstrip("+"),
                       pct(r["mean_dev"], 2), pct(r["worst"]), r["over_budget_buffer"],
                       100.0 * r["bucket_peak"], r["frames_at_max_qp"], r["psnr"], r["cqp_qp"],
                       pct(r["cqp_rate_diff"], 2) + ("" if not r["cqp_note"] else " (!)"),
                       r["cqp_psnr"], r["delta_psnr"]))
    out.append("\n")
    notes = [r for r in rows if r["cqp_note"]]
    for r in notes:
        out.append("(!) %g kbit/s %s: no constant qp matched within %g%%: %s\n" % (
            r["kbps"], r["mode"], args.tolerance, r["cqp_note"]))
    cbr = [r for r in rows if r["mode"] == "cbr"]
    if cbr:
        over = ["%g kbit/s: %d frames" % (r["kbps"], r["over_budget_buffer"])
                for r in cbr if r["over_budget_buffer"]]
        off = ["%g kbit/s: %s%s" % (r["kbps"], pct(r["avg_vs_target"], 2),
                                     " (every frame at qp 63: the target is below the codec's rate "
                                     "at qp 63 for this content and size)"
                                     if r["frames_at_max_qp"] == len(frames) else "")
               for r in cbr if abs(r["avg_vs_target"]) > 0.02]
        out.append("CBR targets: no frame over budget + buffer: %s; average within 2%% of "
                   "target: %s\n" % ("FAIL (%s)" % "; ".join(over) if over else "PASS",
                                     "FAIL (%s)" % "; ".join(off) if off else "PASS"))
    capped = [r for r in rows if r["frames_at_max_qp"]]
    if capped:
        out.append("note: frames coded at qp 63 (the target may be below what the codec reaches at this "
                   "size): %s\n" % ", ".join("%g %s: %d" % (r["kbps"], r["mode"], r["frames_at_max_qp"])
                                             for r in capped))
    enc = [r["enc_s_per_frame"] for r in rows]
    cq = [r["cqp_enc_s_per_frame"] for r in rows]
    dec = [r["dec_s_per_frame"] for r in rows if not math.isnan(r["dec_s_per_frame"])]
    out.append("codec time per frame (the CLI's own, no model load or I/O): rate-controlled encode "
               "%.3f s, cqp encode %.3f s, decode %s; whole run %.0f s\n" % (
                   sum(enc) / len(enc), sum(cq) / len(cq),
                   "%.3f s" % (sum(dec) / len(dec)) if dec else "n/a", wall))
    return "".join(out)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        sys.stderr.write("rc: %s\n" % e)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
