#!/usr/bin/env bash
# nf-shard build throughput on the KJV bible (scripts/prepare_corpus.sh: 4.1 MB, 1189 chapter
# documents) with a BPE of VOCAB_SIZE ids trained on it: 1 and 2 encoding threads in one process,
# and 2 ranks x 1 thread under mpirun. MB/s is input bytes over the whole command's build time
# (discovery, reading, encoding, HDF5 + SHA-256, manifest), and over CPU seconds; best of RUNS.
#
#   scripts/bench_build.sh [BUILD_DIR] [VOCAB_SIZE] [RUNS]     (build: ninja -C build nf-shard)
set -euo pipefail
build=${1:-build}
vocab=${2:-8192}
runs=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
py=${NF_PYTHON:-$root/.venv/bin/python}  # the project's Python (scripts/setup.sh)
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d /tmp/nf_bench_build.XXXXXX)
trap 'rm -rf "$work"' EXIT
shard="$build/data_tools/nf-shard"

bash "$root/scripts/prepare_corpus.sh" "$work/corpus" > /dev/null
"$shard" tokenizer train --vocab-size "$vocab" --input "$work/corpus/kjv.txt" --out "$work/tok" > /dev/null

# Prints "| best wall MB/s | best CPU MB/s |" of `runs` builds of kjv.txt with the given launcher
# prefix and threads. Wall: input bytes / build time as nf-shard reports it; CPU: input bytes /
# user+sys seconds of the whole command (all ranks), which the load of a shared machine does not skew.
bytes=$(stat -c %s "$work/corpus/kjv.txt")
best() {
  local threads=$1; shift
  local wall=0 cpu=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%U %S" -o "$work/time" "$@" "$shard" build --input "$work/corpus/kjv.txt" --tokenizer "$work/tok" \
      --out "$work/ds" --quiet --threads "$threads" > "$work/out"
    rate=$(sed -n 's/.*(\([0-9.]*\) MB\/s.*/\1/p' "$work/out")
    read -r user sys < "$work/time"
    wall=$("$py" -c "print(max($wall, $rate))")
    cpu=$("$py" -c "print(max($cpu, $bytes / 1e6 / ($user + $sys)))")
  done
  printf '| %.2f | %.2f |' "$wall" "$cpu"
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -c ^processor /proc/cpuinfo) cores," \
  "load average $(cut -d' ' -f1 /proc/loadavg)"
echo "kjv.txt: $bytes bytes; BPE vocab $vocab; best of $runs"
echo "| ranks x threads | wall MB/s | CPU MB/s |"
echo "|---|---|---|"
echo "| 1 x 1 $(best 1)"
echo "| 1 x 2 $(best 2)"
echo "| 2 x 1 (mpirun) $(best 1 mpirun -n 2 --bind-to none)"
