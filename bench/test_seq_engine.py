#!/usr/bin/env python3
"""Test of nic-seq-engine (the rate-control benchmark's codec) with the small test model: its
streams are byte for byte those of `nic encode-seq`, PSNRs are plausible, bad commands get an
error reply and the engine goes on, bad input makes it exit 1 with a message.
usage: test_seq_engine.py NIC_SEQ_ENGINE NIC_CLI   (NIC_TEST_MODEL names the model)"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import pnm  # noqa: E402
from selftest import check, finish  # noqa: E402



def frame_pixels(width, height, shift):
    """A gradient with a moving bright square: each frame differs."""
    rgb = bytearray()
    for y in range(height):
        for x in range(width):
            inside = shift <= x < shift + 12 and 8 <= y < 20
            rgb += bytes([(x * 5 + shift * 9) % 256, (y * 6) % 256, 240 if inside else 60])
    return bytes(rgb)


def main():
    engine, nic = sys.argv[1], sys.argv[2]
    model = os.environ["NIC_TEST_MODEL"]
    with tempfile.TemporaryDirectory() as tmp:
        frames = []
        for i in range(4):
            frames.append(os.path.join(tmp, "f%d.png" % i))
            pnm.write_png(frames[-1], 48, 40, frame_pixels(48, 40, 4 * i))
        p = subprocess.Popen([engine, "--model", model, "--threads", "2"] + frames,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True)

        def call(line):
            p.stdin.write(line + "\n")
            p.stdin.flush()
            return json.loads(p.stdout.readline())

        hello = json.loads(p.stdout.readline())
        check(hello.get("ok") and hello["frames"] == 4 and (hello["width"], hello["height"]) == (48, 40)
              and len(hello["analysis_seconds"]) == 4, "hello %r" % hello)

        cbr = call("encode s1 cbr 60 30 1")
        check(cbr.get("ok") and len(cbr["sizes"]) == 4 and len(cbr["qps"]) == 4, "cbr %r" % cbr)
        saved = os.path.join(tmp, "s1.nic")
        check(call("save s1 " + saved).get("ok"), "save")
        cli = os.path.join(tmp, "cli.nic")
        subprocess.run([nic, "encode-seq"] + frames + ["-o", cli, "--rc", "cbr", "--bitrate", "60",
                        "--fps", "30", "--buffer", "1", "--model", model, "--threads", "2"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(saved, "rb") as a, open(cli, "rb") as b:
            check(a.read() == b.read(), "the engine's cbr stream differs from nic encode-seq's")
        check(os.path.getsize(saved) == sum(cbr["sizes"]), "sizes add up to the stream")

        psnr = call("psnr s1")
        check(psnr.get("ok") and len(psnr["psnrs"]) == 4 and all(5 < v <= 99 for v in psnr["psnrs"]),
              "psnr %r" % psnr)
        low, high = call("encode q10 cqp 10"), call("encode q50 cqp 50")
        check(low["qps"] == [10] * 4 and high["qps"] == [50] * 4, "cqp qps")
        check(sum(low["sizes"]) > sum(high["sizes"]), "qp 10 costs more than qp 50")

        for bad, fragment in (("encode s2 vbr 60 30 1", "unknown mode"), ("encode s2 cbr", "missing"),
                              ("encode s2 cqp 99", "qp"), ("psnr nope", "no stream"),
                              ("frobnicate x", "unknown command"), ("psnr", "needs a stream id"),
                              ("save s1", "needs a path"), ("drop nope", "no stream")):
            r = call(bad)
            check(r.get("ok") is False and fragment in r.get("error", ""), "%r: %r" % (bad, r))
        check(call("drop q10").get("ok") and call("psnr q10").get("ok") is False, "drop")
        check(call("psnr s1").get("ok"), "still serving after errors")
        p.stdin.write("quit\n")
        p.stdin.close()
        check(p.wait(timeout=60) == 0, "exit status after quit")

        # Bad input: a missing frame, frames of different sizes, no frames.
        other = os.path.join(tmp, "other.png")
        pnm.write_png(other, 40, 40, frame_pixels(40, 40, 0))
        for argv, fragment in (([frames[0], os.path.join(tmp, "missing.png")], "missing.png"),
                               ([frames[0], other], "size of the first"), ([], "usage")):
            r = subprocess.run([engine, "--model", model] + argv, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
            check(r.returncode == 1 and fragment in r.stderr, "%r: exit %d, %r" % (argv, r.returncode, r.stderr))

    return finish("test_seq_engine")


if __name__ == "__main__":
    sys.exit(main())
