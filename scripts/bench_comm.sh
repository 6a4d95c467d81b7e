#!/usr/bin/env bash
# Collectives and sendrecv through nf's Communicator against the raw MPI calls on the same buffers
# (build/bench/bench-comm, bench/bench_comm.cpp), RANKS ranks on this machine. Prints the machine
# and its load, the commit, then bench-comm's table; every other argument goes to bench-comm
# (--min-bytes 1K --max-bytes 256M --factor 2 --iterations 20 --warmup 5
# --ops all_reduce,reduce_scatter,all_gather,sendrecv --dtype fp32|bf16 --device cpu|cuda
# --jsonl FILE: also append every row to FILE as one JSON object).
#
#   scripts/bench_comm.sh [--ranks N] [--build DIR] [bench-comm options]   (build: ninja -C build bench-comm)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build ranks=2 args=()
while (($#)); do
  case $1 in
    --ranks) ranks=$2; shift ;;
    --build) build=$2; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
bench=$build/bench/bench-comm
[[ -x $bench ]] || { echo "missing $bench (build: ninja -C $build bench-comm)" >&2; exit 2; }
source "$root/scripts/mpi_env.sh"

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
# Cores from /proc/cpuinfo: `nproc` follows the OMP_NUM_THREADS=1 that mpi_env.sh sets.
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -c ^processor /proc/cpuinfo) cores; $ranks ranks;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
# --bind-to none: with more ranks than cores, binding would pin several ranks to one core.
"${MPIEXEC:-mpirun}" -n "$ranks" --bind-to none "$bench" "${args[@]}"
