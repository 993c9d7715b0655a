#!/usr/bin/env python3
"""Long-run benchmark: nic in a GStreamer pipeline and in FFmpeg for many small frames.

Four runs, each watched through /proc while it goes: resident memory, open file descriptors and
threads at frame 1,000 and at the last frame, and the growth between the two.
  gst-encode     videotestsrc ! nicenc ! filesink          (FRAMES frames)
  gst-decode     filesrc ! nicparse ! nicdec ! fakesink     (that stream, one frame damaged)
  ffmpeg-encode  PNGs (looped) -> ffmpeg -c:v nic           (FRAMES frames)
  ffmpeg-decode  ffmpeg -i (that stream, one frame damaged) -f null
A damaged frame in the middle must cost that frame only: the decoders must give FRAMES - 1.
Targets: resident memory at the end within 5% of frame 1,000's, no descriptors or threads more.

usage: bench/soak.py [--frames N] [--size WxH] [--out DIR] [--model PATH]
"""
import argparse
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import pnm  # noqa: E402

EARLY_FRAME = 1000


class SoakError(Exception):
    pass


def proc_sample(pid):
    """(resident kB, open descriptors, threads) of a running process, or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
        fds = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    return rss, fds, threads


def watch(name, command, progress, env, log_path):
    """Runs command; progress(line) returns the frame count a stdout line reports, or None.
    Samples the process at each report. Returns a result dict."""
    start = time.time()
    with open(log_path, "w") as log:
        p = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env,
                             universal_newlines=True, bufsize=1)
        samples = []  # (frame, rss kB, fds, threads)
        frames = 0
        for line in p.stdout:
            n = progress(line, frames)
            if n is None or n == frames:
                continue
            frames = n
            s = proc_sample(p.pid)
            if s:
                samples.append((frames,) + s)
        rc = p.wait()
    if rc != 0:
        raise SoakError("%s exited with %d (log: %s)" % (name, rc, log_path))
    early = next((s for s in samples if s[0] >= EARLY_FRAME), None)
    if early is None or not samples:
        raise SoakError("%s: no sample at frame %d (frames seen: %d)" % (name, EARLY_FRAME, frames))
    late = samples[-1]
    return {"name": name, "frames": frames, "seconds": time.time() - start,
            "early": early, "late": late, "peak_rss": max(s[1] for s in samples)}


def frame_offsets(data):
    """Start offsets of the frames of a raw .nic stream (docs/bitstream.md)."""
    offsets, o = [], 0
    while o + 22 <= len(data):
        n = data[o + 21]
        sizes = [int.from_bytes(data[o + 22 + 4 * i:o + 26 + 4 * i], "little") for i in range(n)]
        offsets.append(o)
        o += 22 + 4 * n + sum(sizes) + 4
    return offsets


def damage_middle_frame(src, dst):
    data = bytearray(open(src, "rb").read())
    offsets = frame_offsets(data)
    middle = offsets[len(offsets) // 2]
    data[middle + 30] ^= 0x5A  # inside the substream sizes or payload: the CRC fails
    open(dst, "wb").write(bytes(data))
    return len(offsets)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--size", default="64x48")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "soak"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "nic-default.safetensors"))
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.split("x"))
    if args.frames <= EARLY_FRAME:
        raise SoakError("--frames must be above %d" % EARLY_FRAME)
    os.makedirs(args.out, exist_ok=True)
    ffmpeg = os.path.join(ROOT, "build", "ffmpeg-codec", "ffmpeg")
    for tool in (ffmpeg,):
        if not os.access(tool, os.X_OK):
            raise SoakError("%s is missing: build first (ninja -C build)" % tool)
    env = dict(os.environ, NIC_MODEL=args.model, OMP_NUM_THREADS="2",
               GST_PLUGIN_PATH=os.path.join(ROOT, "build", "gst-plugin"),
               GST_REGISTRY_1_0=os.path.join(args.out, "gst-registry.bin"))
    out = lambda name: os.path.join(args.out, name)  # noqa: E731

    # Eight different pictures for FFmpeg to loop over.
    for k in range(8):
        rgb = bytearray()
        for y in range(h):
            for x in range(w):
                rgb += bytes([(x * 4 + k * 30) % 256, (y * 5 + k * 11) % 256, ((x + y) * 3) % 256])
        pnm.write_png(out("src%02d.png" % k), w, h, bytes(rgb))

    identity_count = lambda line, n: n + 1 if "last-message = chain" in line else None  # noqa
    ffmpeg_count = lambda line, n: int(line[6:]) if line.startswith("frame=") else None  # noqa
    caps = "video/x-raw,width=%d,height=%d,framerate=30/1" % (w, h)
    results = []
    results.append(watch("gst-encode", [
        "gst-launch-1.0", "-v", "videotestsrc", "num-buffers=%d" % args.frames, "pattern=ball",
        "!", caps, "!", "videoconvert", "!", "nicenc", "!",
        "identity", "name=count", "silent=false", "!", "filesink", "location=" + out("gst.nic")],
        identity_count, env, out("gst-encode.log")))
    damage_middle_frame(out("gst.nic"), out("gst-damaged.nic"))
    results.append(watch("gst-decode", [
        "gst-launch-1.0", "-v", "filesrc", "location=" + out("gst-damaged.nic"), "!", "nicparse",
        "!", "nicdec", "!", "identity", "name=count", "silent=false", "!", "fakesink"],
        identity_count, env, out("gst-decode.log")))
    results.append(watch("ffmpeg-encode", [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "warning", "-y", "-progress", "pipe:1",
        "-stats_period", "0.2", "-stream_loop", "-1", "-framerate", "25",
        "-i", out("src%02d.png"), "-frames:v", str(args.frames), "-c:v", "nic",
        "-model", args.model, "-f", "nic", out("ffmpeg.nic")],
        ffmpeg_count, env, out("ffmpeg-encode.log")))
    damage_middle_frame(out("ffmpeg.nic"), out("ffmpeg-damaged.nic"))
    results.append(watch("ffmpeg-decode", [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "warning", "-y", "-progress", "pipe:1",
        "-stats_period", "0.2", "-model", args.model, "-i", out("ffmpeg-damaged.nic"),
        "-f", "null", "-"],
        ffmpeg_count, env, out("ffmpeg-decode.log")))

    print("%d frames of %dx%d, model %s" % (args.frames, w, h, os.path.basename(args.model)))
    print("| run | frames | s | RSS at %d (MB) | RSS at end (MB) | growth | fds | threads | peak RSS (MB) |"
          % EARLY_FRAME)
    print("|---|---|---|---|---|---|---|---|---|")
    ok = True
    for r in results:
        e, l = r["early"], r["late"]
        growth = (l[1] - e[1]) / e[1] * 100
        expected = args.frames - 1 if r["name"].endswith("decode") else args.frames
        good = abs(growth) <= 5 and l[2] <= e[2] and l[3] <= e[3] and r["frames"] == expected
        ok = ok and good
        print("| %s | %d of %d | %.0f | %.1f | %.1f | %+.1f%% | %d -> %d | %d -> %d | %.1f |%s"
              % (r["name"], r["frames"], expected, r["seconds"], e[1] / 1024, l[1] / 1024, growth,
                 e[2], l[2], e[3], l[3], r["peak_rss"] / 1024, "" if good else " MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SoakError as e:
        sys.stderr.write("soak: %s\n" % e)
        sys.exit(1)
