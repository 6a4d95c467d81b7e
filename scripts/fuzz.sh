#!/usr/bin/env bash
# Builds and runs the libFuzzer targets of nf's parsers of outside input (tests/fuzz, docs/fuzzing.md).
#
#   scripts/fuzz.sh [--seconds N] [TARGET...]   build, then fuzz each target (all: every
#                                               tests/fuzz/fuzz_TARGET.cpp) for N seconds (default 30)
#   scripts/fuzz.sh --build-only                configure and build only
#   scripts/fuzz.sh --no-build ...              run what is built (CTest's fuzz tests: the fixture built it)
#   scripts/fuzz.sh --list                      print the target names
#
# The build: tests/fuzz/CMakeLists.txt with clang++ (ASan + UBSan + libFuzzer) into
# $NF_FUZZ_BUILD_DIR (default build-fuzz/). Each target first replays its regression inputs
# (tests/fuzz/regressions/TARGET/, each once), then fuzzes a scratch copy of its seed corpus
# (tests/fuzz/corpus/TARGET/, which never grows) under RUNS/TARGET/ (RUNS = $NF_FUZZ_BUILD_DIR/runs)
# with its dictionary (tests/fuzz/dict/TARGET.dict) where there is one, -rss_limit_mb=2048 and a 20 s
# limit per input. Prints one table row per target: executions, executions per second, coverage
# (libFuzzer's final cov: edges and ft: features), the corpus at the end (inputs/bytes), and crashes.
# Exits 1 when any target crashed, leaked, hit a sanitizer, a time or a memory limit, naming each
# reproducer: rerun it with `$NF_FUZZ_BUILD_DIR/fuzz_TARGET FILE`, then fix the parser and commit FILE
# under tests/fuzz/regressions/TARGET/. Exits 77 (CTest: skipped) when clang++ or libFuzzer
# (scripts/setup.sh installs clang and libclang-rt-14-dev) is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_dir=$root/tests/fuzz
build=${NF_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=30 build_mode=build targets=()

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
all_targets() { for source in "$fuzz_dir"/fuzz_*.cpp; do basename "$source" .cpp | sed 's/^fuzz_//'; done; }

while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --list) all_targets; exit 0 ;;
    --seconds)
      [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds needs a positive whole number" >&2; exit 2; }
      seconds=$2; shift ;;
    --build-only) build_mode=only ;;
    --no-build) build_mode=none ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [[ -f $fuzz_dir/fuzz_$1.cpp ]] || { echo "fuzz.sh: no target '$1'; targets: $(all_targets | xargs)" >&2; exit 2; }
       targets+=("$1") ;;
  esac
  shift
done
((${#targets[@]} > 0)) || mapfile -t targets < <(all_targets)

# libFuzzer ships in clang's runtime package (libclang-rt-14-dev), apart from clang itself.
if ! command -v clang++ >/dev/null || [[ ! -f $(clang++ --print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a ]]; then
  echo "fuzz.sh: skipped: clang++ with libFuzzer not found; scripts/setup.sh installs clang and libclang-rt-14-dev"
  exit 77
fi

if [[ $build_mode != none ]]; then
  mkdir -p "$build"
  if [[ ! -f $build/build.ninja ]]; then
    CC=clang CXX=clang++ cmake -S "$fuzz_dir" -B "$build" -G Ninja >"$build/configure.log" 2>&1 ||
      { cat "$build/configure.log"; exit 1; }
  fi
  cmake --build "$build" -j "$(nproc)"
  [[ $build_mode == only ]] && exit 0
fi

# The sanitizers' reports end the run with a stack trace; UBSan's too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=() rows=()
# A field of the last status line of a run: "#N DONE cov: E ft: F corp: U/B lim: L exec/s: X rss: R"
# (or the last "pulse"/"NEW" line of a run that crashed).
field() { { grep -E '^#[0-9]+.* cov: ' "$1" || true; } | tail -n 1 | sed -nE "s/.* $2: ([^ ]+).*/\1/p"; }
for target in "${targets[@]}"; do
  binary=$build/fuzz_$target
  [[ -x $binary ]] || { echo "fuzz.sh: $binary is not built (scripts/fuzz.sh --build-only)" >&2; exit 1; }
  run=$build/runs/$target
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts" "$run/tmp"
  cp "$fuzz_dir/corpus/$target"/* "$run/corpus/" 2>/dev/null || true
  regressions=()
  [[ -d $fuzz_dir/regressions/$target ]] && mapfile -t regressions < <(find "$fuzz_dir/regressions/$target" -type f | sort)
  if ((${#regressions[@]} > 0)); then
    if ! TMPDIR=$run/tmp "$binary" "${regressions[@]}" >"$run/regressions.log" 2>&1; then
      tail -n 40 "$run/regressions.log"
      echo "fuzz.sh: $target: a regression input fails again (the lines above; all: $run/regressions.log)"
      failed+=("$target")
      continue
    fi
  fi
  dict=()
  [[ -f $fuzz_dir/dict/$target.dict ]] && dict=("-dict=$fuzz_dir/dict/$target.dict")
  echo "fuzz.sh: $target: ${#regressions[@]} regression inputs pass; fuzzing for ${seconds} s ($run)"
  status=0
  TMPDIR=$run/tmp "$binary" "$run/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="$run/artifacts/" "${dict[@]}" >"$run/fuzz.log" 2>&1 || status=$?
  crashes=$(find "$run/artifacts" -type f | wc -l)
  execs=$(sed -nE 's/^stat::number_of_executed_units: +([0-9]+)/\1/p' "$run/fuzz.log")
  per_second=$(sed -nE 's/^stat::average_exec_per_sec: +([0-9]+)/\1/p' "$run/fuzz.log")
  rows+=("$(printf '%-16s %12s %8s %7s %7s %12s %8s' "$target" "${execs:-?}" "${per_second:-?}" "$(field "$run/fuzz.log" cov)" \
    "$(field "$run/fuzz.log" ft)" "$(field "$run/fuzz.log" corp)" "$crashes")")
  if ((status != 0 || crashes > 0)); then
    grep -E '^(==[0-9]+==ERROR|SUMMARY|nf fuzz:|.*runtime error:)' "$run/fuzz.log" | head -n 5 || true
    for artifact in "$run/artifacts"/*; do
      [[ -e $artifact ]] && echo "fuzz.sh: $target: reproducer $artifact (rerun: $binary $artifact; log: $run/fuzz.log)"
    done
    ((crashes > 0)) || echo "fuzz.sh: $target: libFuzzer exited with $status (log: $run/fuzz.log)"
    failed+=("$target")
  fi
done

if ((${#rows[@]} > 0)); then
  printf '\n%-16s %12s %8s %7s %7s %12s %8s\n' target executions exec/s cov ft corpus crashes
  printf '%s\n' "${rows[@]}"
fi
if ((${#failed[@]} > 0)); then
  echo "fuzz.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, no crash"
