#!/usr/bin/env python3
"""What test_train.sh asks of nic-train's weights files (safetensors), read with the standard
library only: the test machines have no numpy.

usage: safetensors_check.py config FILE            anchor lambdas of the model config
       safetensors_check.py tensor FILE NAME       a float32 tensor, space-separated
       safetensors_check.py float16 F32 F16        F16 is the float16 export of F32
       safetensors_check.py data-parallel START ONE TWO
                                                   runs ONE and TWO moved from START alike
Exit status 0 when the check holds, 1 (with the reason on stderr) when not.
"""
import json
import struct
import sys

FORMATS = {"F32": "f", "F16": "e", "I32": "i"}


def load(path):
    """The file's metadata and {name: (dtype, values)}."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        code = FORMATS[entry["dtype"]]
        count = (end - begin) // struct.calcsize(code)
        raw = data[8 + n + begin:8 + n + end]
        tensors[name] = (entry["dtype"], struct.unpack("<%d%s" % (count, code), raw))
    return metadata, tensors


def fail(reason):
    print(reason, file=sys.stderr)
    sys.exit(1)


def config(path):
    metadata, _ = load(path)
    print(json.loads(metadata["nic.config"])["anchor_lambdas"])


def tensor(path, name):
    _, tensors = load(path)
    dtype, values = tensors[name]
    if dtype != "F32":
        fail("%s is %s, not F32" % (name, dtype))
    print(" ".join("%.6f" % v for v in values))


def float16(path32, path16):
    """Large float tensors became F16 within float16's rounding; the rest is unchanged."""
    _, f32 = load(path32)
    _, f16 = load(path16)
    if f32.keys() != f16.keys():
        fail("the two files hold different tensors")
    if not any(dtype == "F16" for dtype, _ in f16.values()):
        fail("no float16 tensor")
    for name, (dtype, values) in f16.items():
        if dtype != "F16":
            if f32[name] != (dtype, values):
                fail("%s changed" % name)
            continue
        if f32[name][0] != "F32" or len(values) < 1024:
            fail("%s should not be float16" % name)
        scale = max(abs(v) for v in f32[name][1]) or 1.0
        if max(abs(a - b) for a, b in zip(values, f32[name][1])) > scale / 1024:
            fail("%s is further from float32 than float16's rounding" % name)


def data_parallel(start_path, one_path, two_path):
    """Training moved the weights, and two processes moved them as one process did."""
    def floats(path):
        _, tensors = load(path)
        return {k: v for k, (dtype, v) in tensors.items() if dtype == "F32"}

    start, one, two = (floats(p) for p in (start_path, one_path, two_path))

    def worst(a, b):
        return max(max(abs(x - y) for x, y in zip(a[k], b[k])) for k in a)

    moved, apart = worst(start, one), worst(one, two)
    print("weights moved by up to %.3g in 3 steps; one vs two processes: %.3g" % (moved, apart))
    if not (moved > 1e-3 and apart < 1e-5):
        fail("data-parallel weights differ from one process's")


COMMANDS = {"config": config, "tensor": tensor, "float16": float16, "data-parallel": data_parallel}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        fail(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
