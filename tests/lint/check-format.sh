#!/usr/bin/env bash
# The C and C++ sources follow the project's .clang-format. ffmpeg-codec/ follows FFmpeg's own
# style and is left out. Fix with: clang-format -i FILE...
# usage: check-format.sh SOURCE_ROOT
set -u
root=$1
command -v clang-format >/dev/null || { echo "skipped: no clang-format"; exit 77; }
cd "$root" || exit 1
mapfile -t files < <(git ls-files '*.c' '*.cpp' '*.h' 2>/dev/null | grep -v '^ffmpeg-codec/' ||
  find core tools train bench gst-plugin tests -name '*.c' -o -name '*.cpp' -o -name '*.h')
[ ${#files[@]} -gt 0 ] || { echo "no sources found under $root"; exit 1; }
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "not formatted (clang-format -i ${bad[*]}):"
  for f in "${bad[@]}"; do clang-format "$f" | diff -u "$f" - | head -n 20; done
  exit 1
fi
echo "${#files[@]} files formatted"
