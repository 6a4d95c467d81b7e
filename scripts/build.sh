#!/usr/bin/env bash
# Configures and builds NeuralFlow into build/ (or $NF_BUILD_DIR) with Ninja, warnings as errors, and
# the fuzz targets into build/fuzz/ with clang.
# Extra arguments go to CMake, e.g. scripts/build.sh -DNF_WITH_CUDA=ON.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${NF_BUILD_DIR:-$root/build}
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNF_WERROR=ON "$@" >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
grep '^-- NeuralFlow: ' "$build/configure.log"  # the LibTorch found, and which CUDA paths are built
cmake --build "$build" -j "$(nproc)"
# The fuzz targets (tests/fuzz, docs/fuzzing.md): a clang + sanitizer build of their own, in $build/fuzz;
# skipped (exit 77, with a note) where clang or libFuzzer is missing.
NF_FUZZ_BUILD_DIR=$build/fuzz "$root/scripts/fuzz.sh" --build-only || (($? == 77))
