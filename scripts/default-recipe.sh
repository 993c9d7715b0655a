# The default model's training recipe (models/README.md), sourced by scripts/train-default.sh
# (the CPU, in the background) and scripts/gpu-check.sh train (a borrowed GPU): the architecture,
# the eight rate anchors, the crop and the learning rate. Each adds its own batch, warmup and
# logging.
# shellcheck shell=bash
default_recipe=(--architecture nic-evc-2 --anchor-lambdas 0.3,0.13,0.06,0.027,0.012,0.005,0.0021,0.0009
  --crop 256 --lr 1e-4)
