#!/usr/bin/env bash
# Installs what nic needs: Debian packages, and LibTorch from the torch wheel of the Python package
# index (with its CUDA libraries) into /opt/nic/libtorch. Idempotent: quiet and fast when all are
# present.
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build cmake
  python3-pip nlohmann-json3-dev libpng-dev zlib1g-dev libgtest-dev libgloo-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  dpkg-dev nasm patch xz-utils make
  clang-format clang-tidy
  libgoogle-perftools-dev
  # A fast BLAS for LibTorch's float64 products (the integer-exact scale and context networks);
  # Debian's default libblas3 is the slow reference implementation.
  libopenblas0-openmp
  bc libjpeg-turbo-progs webp libavif-bin libjxl-tools gnuplot-nox python3
)

# One pinned LibTorch: the same minor version as the GPU machines' PyTorch, so that what is built
# here is what runs there. The build looks for it in this folder (meson.build).
torch_version=2.11.0
torch_dir=/opt/nic/libtorch

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The wheel and its dependencies, unpacked as pip lays out site-packages: torch/lib finds the
# nvidia/ libraries beside it through its own run path. Installed into a new folder and moved into
# place, so an interrupted install is never taken for a finished one.
if [ "$(cat "$torch_dir/nic-torch-version" 2>/dev/null)" != "$torch_version" ]; then
  echo "install-deps: installing LibTorch $torch_version (the torch wheel) into $torch_dir"
  $sudo_cmd rm -rf "$torch_dir.new"
  $sudo_cmd mkdir -p "$(dirname "$torch_dir")"
  $sudo_cmd python3 -m pip install -q --no-compile --disable-pip-version-check --root-user-action=ignore --break-system-packages \
    --target "$torch_dir.new" "torch==$torch_version"
  echo "$torch_version" | $sudo_cmd tee "$torch_dir.new/nic-torch-version" >/dev/null
  $sudo_cmd rm -rf "$torch_dir"
  $sudo_cmd mv "$torch_dir.new" "$torch_dir"
fi
[ ${#missing[@]} -gt 0 ] && echo "install-deps: done"
exit 0
