#!/usr/bin/env bash
# Smoke test of scripts/bench_comm.sh (label bench, outside the default suite): bench-comm on 2
# ranks with small messages prints a row for every size of all_reduce, reduce_scatter and
# all_gather, with positive busbw for every side and positive nf/raw ratios.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
out=$(bash "$source/scripts/bench_comm.sh" --build "$build" --ranks 2 --min-bytes 1K --max-bytes 64K --factor 4 \
  --iterations 3 --warmup 1 2>&1)
code=$?
echo "$out"
[[ $code -eq 0 ]] || fail "bench_comm.sh exited $code"
"$py" - "$out" <<'PY' || fail "the table is incomplete or has a non-positive figure"
import sys
lines = [l for l in sys.argv[1].splitlines() if l.startswith("| ")]
header = [c.strip() for c in lines[0].strip("|").split("|")]
busbw = [i for i, c in enumerate(header) if c.endswith("busbw GB/s")]
ratios = [i for i, c in enumerate(header) if c.startswith("nf/")]
assert header[:3] == ["op", "size B", "count"] and len(busbw) >= 2 and ratios, header
rows = [[c.strip() for c in l.strip("|").split("|")] for l in lines[1:] if not l.startswith("|---")]
for op in ("all_reduce", "reduce_scatter", "all_gather"):
    sizes = [int(r[1]) for r in rows if r[0] == op]
    # 1K, 4K, 16K, 64K
    assert sizes == [1024, 4096, 16384, 65536], (op, sizes)
for row in rows:
    assert len(row) == len(header), row
    for i in busbw + ratios:
        assert float(row[i]) > 0, (header[i], row)
print(f"{len(rows)} rows, busbw columns {[header[i] for i in busbw]} all positive")
PY
echo "PASS: bench_comm.sh printed all three collectives with positive bandwidths"
