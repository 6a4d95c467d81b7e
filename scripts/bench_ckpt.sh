#!/usr/bin/env bash
# Checkpoint save/load bandwidth against dd on the same disk, in one table: bench-ckpt
# (bench/bench_ckpt.cpp: nf-train's save_checkpoint / load_checkpoint of a synthetic Llama model
# with its AdamW moments, tp = ranks) at 1 and 2 ranks, then nf-ckpt consolidate's
# consolidate_checkpoint of the 2-rank checkpoint and its load at 2 ranks, and the 2 ranks writing
# the consolidated checkpoint at save time (checkpoint.consolidate); dd writes as many bytes
# with conv=fdatasync (nf fsyncs every file too) and reads them back after dropping the file's page
# cache (iflag=nocache count=0, i.e. posix_fadvise DONTNEED; bench-ckpt drops its files the same
# way). GB/s = checkpoint bytes (1e9) / wall seconds, the slowest rank's; "vs dd" = that over dd's.
#
#   scripts/bench_ckpt.sh [--build DIR] [--dir DIR] [--d-model N] [--layers N] [--vocab N]
#   (build: ninja -C build bench-ckpt; DIR: where to write, default /tmp: the disk measured)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${NF_PYTHON:-$root/.venv/bin/python}  # the project's Python (scripts/setup.sh)
build=$root/build dir=/tmp args=()
while (($#)); do
  case $1 in
    --build) build=$2; shift ;;
    --dir) dir=$2; shift ;;
    *) args+=("$1") ;;
  esac
  shift
done
bench=$build/bench/bench-ckpt
[[ -x $bench ]] || { echo "missing $bench (build: ninja -C $build bench-ckpt)" >&2; exit 2; }
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d "$dir/nf_bench_ckpt.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -c ^processor /proc/cpuinfo) cores;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "disk: $(df -hT "$work" | awk 'NR == 2 {print $1 ", " $2 ", " $5 " free"}') ($work)"

results=$work/results
for ranks in 1 2; do
  flags=()
  ((ranks == 2)) && flags=(--consolidate)
  # --bind-to none: with as many ranks as cores, binding would pin them to one.
  "${MPIEXEC:-mpirun}" -n "$ranks" --bind-to none "$bench" --dir "$work/ranks$ranks" "${args[@]}" "${flags[@]}" |
    grep '^result' >>"$results"
  rm -rf "$work/ranks$ranks"
done

# dd moves the bytes of the largest checkpoint, in 4 MiB blocks; "seconds" parsed from its summary line.
bytes=$(awk '{print $4}' "$results" | sort -n | tail -1)
blocks=$(((bytes + 4194303) / 4194304))
dd_seconds() { LC_ALL=C dd "$@" 2>&1 | sed -n 's/.* copied, \([0-9.e+-]*\) s,.*/\1/p'; }
echo "result dd-write 1 $((blocks * 4194304)) $(dd_seconds if=/dev/zero of="$work/dd.bin" bs=4M count=$blocks conv=fdatasync)" >>"$results"
dd if="$work/dd.bin" iflag=nocache count=0 status=none
echo "result dd-read 1 $((blocks * 4194304)) $(dd_seconds if="$work/dd.bin" of=/dev/null bs=4M)" >>"$results"

"$py" - "$results" <<'PY'
import sys
rows = [line.split()[1:] for line in open(sys.argv[1])]
rate = {(what, ranks): int(size) / 1e9 / float(seconds) for what, ranks, size, seconds in rows}
names = {"save": "save sharded (tp = ranks)", "load": "load sharded", "consolidate": "nf-ckpt consolidate (read + write)",
         "load-consolidated": "load consolidated (reshard to tp 2)",
         "save-consolidated": "save consolidated (gathered at save time)", "dd-write": "dd write (conv=fdatasync)",
         "dd-read": "dd read (cache dropped)"}
print("| operation | ranks | GB | GB/s | vs dd |")
print("|---|---|---|---|---|")
for what, ranks, size, seconds in rows:
    dd = rate[("dd-read", "1")] if what.startswith(("load", "dd-read")) else rate[("dd-write", "1")]
    print(f"| {names[what]} | {ranks} | {int(size) / 1e9:.3f} | {rate[(what, ranks)]:.3f} | {rate[(what, ranks)] / dd:.2f} |")
PY
