"""Compares one codec's curves from two bench/rd.sh runs (e.g. two nic models): BD-rate of the
test run against the reference run on the mean curve over the images, and image by image.

Usage: python3 bench/rd_compare.py REFERENCE_OUT TEST_OUT [CODEC]   (the --out folders; CODEC
defaults to nic). Negative = the test run needs fewer bits for the same PSNR.
"""

import csv
import os
import sys

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bdrate  # noqa: E402


def curves(out_dir, codec):
    """{image: [(bpp, psnr), ...]} and the mean curve, from OUT/rd-images.csv and OUT/rd.csv."""
    per_image = {}
    with open(os.path.join(out_dir, "rd-images.csv")) as f:
        for row in csv.DictReader(f):
            if row["codec"] == codec:
                per_image.setdefault(row["image"], []).append((float(row["bpp"]), float(row["psnr"])))
    with open(os.path.join(out_dir, "rd.csv")) as f:
        mean = [(float(r["bpp"]), float(r["psnr"])) for r in csv.DictReader(f) if r["codec"] == codec]
    if not mean:
        raise SystemExit("no %s points in %s" % (codec, out_dir))
    return per_image, mean


def main(argv):
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    codec = argv[3] if len(argv) == 4 else "nic"
    ref_images, ref_mean = curves(argv[1], codec)
    test_images, test_mean = curves(argv[2], codec)
    rate, gain = bdrate.bd_rate(ref_mean, test_mean), bdrate.bd_psnr(ref_mean, test_mean)
    if rate is None or gain is None:
        raise SystemExit("the mean curves do not overlap in PSNR")
    print("mean curve: BD-rate %+.2f %%, BD-PSNR %+.3f dB" % (rate, gain))
    better = 0
    common = sorted(set(ref_images) & set(test_images))
    for image in common:
        rate = bdrate.bd_rate(ref_images[image], test_images[image])
        if rate is None:
            print("  %-16s no PSNR overlap" % image)
            continue
        better += rate < 0
        print("  %-16s BD-rate %+7.2f %%" % (image, rate))
    print("better on %d of %d images" % (better, len(common)))


if __name__ == "__main__":
    main(sys.argv)
