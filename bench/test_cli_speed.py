#!/usr/bin/env python3
"""Test of cli_speed.py with the small test models (version 2 and version 1) on two small
images: a line per pair with positive times, the baseline at +0.0%, every image, qp and round
counted; a failing CLI is an error with a message and exit status 1.
usage: test_cli_speed.py NIC_CLI   (NIC_TEST_MODEL and NIC_TEST_MODEL_V1 name the models)"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)

import pnm  # noqa: E402
from selftest import check, finish  # noqa: E402


def cli_speed(args):
    return subprocess.run([sys.executable, os.path.join(HERE, "cli_speed.py")] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main():
    nic = sys.argv[1]
    v2, v1 = os.environ["NIC_TEST_MODEL"], os.environ["NIC_TEST_MODEL_V1"]
    with tempfile.TemporaryDirectory() as images:
        for i in range(2):
            pixels = bytes((x * 7 + y * 3 + i * 50) % 256 for y in range(48) for x in range(64)
                           for _ in range(3))
            pnm.write_png(os.path.join(images, "img%d.png" % i), 64, 48, pixels)
        p = cli_speed(["--pair", "v2=%s:%s" % (nic, v2), "--pair", "v1=%s:%s" % (nic, v1),
                       "--images", images, "--qps", "10 40", "--rounds", "2"])
        check(p.returncode == 0, "exit status 0 (got %d: %s)" % (p.returncode, p.stderr))
        rows = {line.split()[0]: line.split() for line in p.stdout.splitlines()[1:]}
        check(sorted(rows) == ["v1", "v2"], "one line per pair: %r" % p.stdout)
        if "v2" in rows and "v1" in rows:
            check(rows["v2"][3] == "+0.0%" and rows["v2"][4] == "+0.0%", "baseline at +0.0%")
            for label in ("v1", "v2"):
                check(float(rows[label][1]) > 0 and float(rows[label][2]) > 0,
                      "%s: positive times" % label)
                check(rows[label][5] == "8", "%s: 2 images x 2 qps x 2 rounds" % label)
        bad = cli_speed(["--pair", "bad=%s:%s" % (nic, os.path.join(images, "none.safetensors")),
                         "--images", images, "--rounds", "1"])
        check(bad.returncode == 1 and "cli_speed:" in bad.stderr,
              "a failing CLI: exit 1 and a message (got %d: %s)" % (bad.returncode, bad.stderr))
        usage = cli_speed(["--pair", "no-separator", "--images", images])
        check(usage.returncode == 2, "a malformed --pair is a usage error")
    return finish("cli_speed")


if __name__ == "__main__":
    sys.exit(main())
