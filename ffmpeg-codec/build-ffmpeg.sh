#!/usr/bin/env bash
# Builds FFmpeg 5.1 (Debian bookworm's `ffmpeg` source package) with the nic codec into a private
# prefix. Incremental: a changed wrapper source recompiles only that file and relinks; a changed
# patch series re-extracts the tree and rebuilds everything. See README.md in this directory.
#
# Steps:
#   1. fetch   `apt-get source --download-only ffmpeg` with a private apt configuration (its own
#              sources list, lists and cache under $NIC_FFMPEG_CACHE), once; later runs reuse it.
#   2. unpack  dpkg-source -x (Debian's own patches applied), then patches/series with patch -p1,
#              into BUILD_DIR/src. Redone only when the source package or a patch changes.
#   3. copy    src/ (the wrapper sources) into the tree, file by file, only when they differ.
#   4. config  ./configure out of tree in BUILD_DIR/obj, only when the options or nic's
#              pkg-config data change.
#   5. make    make -jN && make install into BUILD_DIR/prefix.
#
# Usage: build-ffmpeg.sh [options]
#   --build-dir DIR         work directory (default: <repo>/build/ffmpeg-codec)
#   --pkg-config-path DIR   where nic.pc / nic-uninstalled.pc is (default: <repo>/build/meson-uninstalled);
#                           prepended to PKG_CONFIG_PATH
#   --jobs N                make -jN (default: $NIC_FFMPEG_JOBS, else nproc)
#   --output-dir DIR        also put symlinks ffmpeg and ffprobe and the header nic-ffmpeg-paths.h
#                           there (what meson declares as the target's outputs)
#   --fetch-only            only download the source package into the cache
#   --libnic FILE           ignored (lets meson make the target depend on libnic)
# Environment:
#   NIC_FFMPEG_CACHE        source package cache (default: ${XDG_CACHE_HOME:-~/.cache}/nic/ffmpeg-src)
#   NIC_FFMPEG_JOBS         default for --jobs
#
# This script takes no global lock: meson runs it from ninja, which may itself run under a lock.
# It serialises concurrent runs on the same build dir with BUILD_DIR/.lock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"

build_dir="$repo/build/ffmpeg-codec"
pc_path="$repo/build/meson-uninstalled"
jobs="${NIC_FFMPEG_JOBS:-$(nproc 2>/dev/null || echo 2)}"
output_dir=""
fetch_only=0
cache="${NIC_FFMPEG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nic/ffmpeg-src}"

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --pkg-config-path) pc_path="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --output-dir) output_dir="$2"; shift 2 ;;
    --fetch-only) fetch_only=1; shift ;;
    --libnic) shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-ffmpeg.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "build-ffmpeg: $*"; }
die() { echo "build-ffmpeg: error: $*" >&2; exit 1; }

for tool in apt-get dpkg-source patch make pkg-config cc flock; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-deps.sh"
done

# ---- 1. fetch (private apt configuration; the system's apt state is not touched) ----
fetch_source() {
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/archives/partial" "$cache/apt/sources.list.d"
  exec 8>"$cache/.lock"
  flock 8
  if ! ls "$cache"/ffmpeg_*.dsc >/dev/null 2>&1; then
    # The deb-src twin of the system's Debian entries (/etc/apt/sources.list.d/debian.sources).
    cat > "$cache/apt/sources.list" <<'EOF'
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-updates main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bookworm-security main
EOF
    local apt_opts=(
      -o "Dir::Etc::SourceList=$cache/apt/sources.list"
      -o "Dir::Etc::SourceParts=$cache/apt/sources.list.d"
      -o "Dir::State::Lists=$cache/apt/lists"
      -o "Dir::Cache=$cache/apt"
    )
    # apt drops to the _apt user for downloads when run as root; that user cannot write here.
    [ "$(id -u)" -eq 0 ] && apt_opts+=(-o "APT::Sandbox::User=root")
    log "fetching the ffmpeg source package into $cache"
    apt-get -q "${apt_opts[@]}" update >/dev/null
    (cd "$cache" && apt-get -q "${apt_opts[@]}" source --download-only ffmpeg) >/dev/null
    ls "$cache"/ffmpeg_*.dsc >/dev/null 2>&1 || die "apt-get source did not fetch ffmpeg"
  fi
  flock -u 8
  dsc="$(ls "$cache"/ffmpeg_*.dsc | sort -V | tail -n 1)"
  case "$(basename "$dsc")" in
    ffmpeg_5.1.*) ;;
    *) die "expected ffmpeg 5.1.x, the cache has $(basename "$dsc")" ;;
  esac
}
fetch_source
[ "$fetch_only" -eq 1 ] && { log "source: $dsc"; exit 0; }

mkdir -p "$build_dir"
build_dir="$(cd "$build_dir" && pwd)"
exec 9>"$build_dir/.lock"
flock 9

src="$build_dir/src"
obj="$build_dir/obj"
prefix="$build_dir/prefix"

# ---- 2. unpack and patch ----
series="$here/patches/series"
patch_key="$( { basename "$dsc"; cat "$series"; while read -r p; do [ -n "$p" ] && cat "$here/patches/$p"; done < "$series"; } | sha256sum | cut -d' ' -f1)"
if [ ! -f "$src/.nic-patches" ] || [ "$(cat "$src/.nic-patches")" != "$patch_key" ]; then
  log "unpacking $(basename "$dsc") and applying $(grep -c . "$series") patches"
  rm -rf "$src" "$build_dir/unpack" "$obj"
  mkdir -p "$build_dir/unpack"
  # dpkg-source also leaves a copy of the orig tarball next to the tree: unpack in a scratch dir.
  (cd "$build_dir/unpack" && dpkg-source -x "$dsc" ffmpeg > dpkg-source.log 2>&1) \
    || { cat "$build_dir/unpack/dpkg-source.log" >&2; die "dpkg-source -x $dsc failed"; }
  while read -r p; do
    [ -n "$p" ] || continue
    patch -d "$build_dir/unpack/ffmpeg" -p1 --batch --forward --quiet < "$here/patches/$p" \
      || die "patch $p does not apply"
  done < "$series"
  echo "$patch_key" > "$build_dir/unpack/ffmpeg/.nic-patches"
  mv "$build_dir/unpack/ffmpeg" "$src"
  rm -rf "$build_dir/unpack"
fi

# ---- 3. wrapper sources (only changed files get a new mtime, so make rebuilds only them) ----
(cd "$here/src" && find . -type f -name '*.[ch]') | while read -r f; do
  if ! cmp -s "$here/src/$f" "$src/$f"; then
    log "updating ${f#./}"
    cp "$here/src/$f" "$src/$f"
  fi
done

# ---- 4. configure ----
export PKG_CONFIG_PATH="$pc_path${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg-config --exists nic || die "pkg-config cannot find nic (looked in $pc_path): build libnic first"
rpath_flags=""
for d in $(pkg-config --libs-only-L nic); do
  rpath_flags="$rpath_flags -Wl,-rpath,${d#-L}"
done

configure_args=(
  --prefix="$prefix"
  --disable-everything --disable-autodetect --enable-pthreads
  --disable-doc --disable-x86asm --disable-network --disable-ffplay
  --enable-zlib --enable-libnic
  --enable-encoder=libnic,png,rawvideo,wrapped_avframe
  --enable-decoder=libnic,png,rawvideo
  --enable-parser=nic,png
  --enable-demuxer=nic,image2,nut,matroska,avi,rawvideo
  --enable-muxer=nic,image2,nut,matroska,avi,rawvideo,null,framemd5
  --enable-protocol=file,pipe
  --enable-filter=scale,format,null,psnr,copy,crop,split,testsrc2
  --enable-indev=lavfi
  --extra-ldflags="$rpath_flags"
)
# The codec frees and reallocates large tensors every frame; with glibc's malloc each one is a fresh
# mmap faulted in under the kernel's lock, tcmalloc reuses them: 1080p encode 4.3 -> 1.7 s/frame.
if pkg-config --exists libtcmalloc_minimal; then
  configure_args+=(--extra-libs="$(pkg-config --libs libtcmalloc_minimal)")
fi
config_key="$( { printf '%s\n' "${configure_args[@]}"; pkg-config --modversion --cflags --libs nic; cat "$src/.nic-patches"; } | sha256sum | cut -d' ' -f1)"
if [ ! -f "$obj/.nic-configure" ] || [ "$(cat "$obj/.nic-configure")" != "$config_key" ] \
   || [ ! -f "$obj/ffbuild/config.mak" ]; then
  log "configuring"
  mkdir -p "$obj"
  rm -f "$obj/.nic-configure"
  if ! (cd "$obj" && "$src/configure" "${configure_args[@]}" > configure.out 2>&1); then
    tail -n 30 "$obj/ffbuild/config.log" >&2 || true
    die "configure failed (see $obj/configure.out and $obj/ffbuild/config.log)"
  fi
  echo "$config_key" > "$obj/.nic-configure"
fi

# ---- 5. build and install ----
log "make -j$jobs"
make -C "$obj" -j"$jobs" --no-print-directory
make -C "$obj" --no-print-directory install >/dev/null

if [ -n "$output_dir" ]; then
  mkdir -p "$output_dir"
  ln -sfn "$prefix/bin/ffmpeg" "$output_dir/ffmpeg"
  ln -sfn "$prefix/bin/ffprobe" "$output_dir/ffprobe"
  header="$output_dir/nic-ffmpeg-paths.h"
  cat > "$header.tmp" <<EOF
/* Generated by ffmpeg-codec/build-ffmpeg.sh: where the nic-enabled FFmpeg is installed. */
#define NIC_FFMPEG_PREFIX "$prefix"
EOF
  if cmp -s "$header.tmp" "$header"; then rm -f "$header.tmp"; else mv "$header.tmp" "$header"; fi
  touch "$prefix/bin/ffmpeg" "$prefix/bin/ffprobe" "$header"  # newer than their inputs for ninja
fi
log "done: $prefix/bin/ffmpeg"
