#!/usr/bin/env bash
# Installs every Debian package nic needs. Idempotent: quiet and fast when all are present.
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build cmake
  libtorch-dev nlohmann-json3-dev libpng-dev zlib1g-dev libgtest-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  dpkg-dev nasm patch xz-utils make
  libgoogle-perftools-dev
  # A fast BLAS for LibTorch's float64 products (the integer-exact scale and context networks);
  # Debian's default libblas3 is the slow reference implementation.
  libopenblas0-openmp
  bc libjpeg-turbo-progs webp libavif-bin libjxl-tools gnuplot-nox python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
