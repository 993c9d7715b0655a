#!/usr/bin/env bash
# clang-tidy's bug-prone and performance checks on the C++ sources that do not include LibTorch
# (its headers make each file take minutes): the entropy coder, bitstream, weights file, C API,
# the programs' toolkit, the CLI and the benchmark engine. The GStreamer C sources are left
# out: GLib's type macros trip the checks. A finding fails the test.
# usage: check-tidy.sh SOURCE_ROOT BUILD_DIR
set -u
root=$1 build=$2
command -v clang-tidy >/dev/null || { echo "skipped: no clang-tidy"; exit 77; }
[ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json"; exit 1; }
cd "$root" || exit 1
files=(core/src/entropy/*.cpp core/src/bitstream/*.cpp core/src/io/*.cpp core/src/c_api.cpp
       tools/toolkit/*.cpp tools/nic/main.cpp bench/seq_engine.cpp)
checks='-*,bugprone-*,performance-*'
# Off: style judgements rather than bugs, or noise on this code (error-message building,
# deliberate int/size_t arithmetic that the surrounding checks bound).
checks+=',-bugprone-easily-swappable-parameters,-bugprone-narrowing-conversions'
checks+=',-bugprone-implicit-widening-of-multiplication-result,-performance-avoid-endl'
checks+=',-performance-inefficient-string-concatenation'
out=$(clang-tidy -p "$build" --quiet --checks="$checks" --warnings-as-errors='*' "${files[@]}" 2>&1)
status=$?
echo "$out" | grep -E "warning:|error:" || true
[ $status -eq 0 ] && echo "${#files[@]} files clean" || echo "clang-tidy found problems (status $status)"
exit $status
