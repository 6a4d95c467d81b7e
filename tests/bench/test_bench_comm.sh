#!/usr/bin/env bash
# Smoke test of scripts/bench_comm.sh (label bench, outside the default suite): bench-comm on 2
# ranks with small messages prints a row for every size of all_reduce, reduce_scatter, all_gather
# and sendrecv, with positive busbw for every side and positive nf/raw ratios; its --jsonl file
# holds one JSON object per table row, with the same op, size and times.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
out=$(bash "$source/scripts/bench_comm.sh" --build "$build" --ranks 2 --min-bytes 1K --max-bytes 64K --factor 4 \
  --iterations 3 --warmup 1 --jsonl "$work/comm.jsonl" 2>&1)
code=$?
echo "$out"
[[ $code -eq 0 ]] || fail "bench_comm.sh exited $code"
"$py" - "$out" "$work/comm.jsonl" <<'PY' || fail "the table or its JSONL is incomplete or has a non-positive figure"
import json, sys
lines = [l for l in sys.argv[1].splitlines() if l.startswith("| ")]
header = [c.strip() for c in lines[0].strip("|").split("|")]
busbw = [i for i, c in enumerate(header) if c.endswith("busbw GB/s")]
ratios = [i for i, c in enumerate(header) if c.startswith("nf/")]
assert header[:3] == ["op", "size B", "count"] and len(busbw) >= 2 and ratios, header
rows = [[c.strip() for c in l.strip("|").split("|")] for l in lines[1:] if not l.startswith("|---")]
for op in ("all_reduce", "reduce_scatter", "all_gather", "sendrecv"):
    sizes = [int(r[1]) for r in rows if r[0] == op]
    # 1K, 4K, 16K, 64K
    assert sizes == [1024, 4096, 16384, 65536], (op, sizes)
for row in rows:
    assert len(row) == len(header), row
    for i in busbw + ratios:
        assert float(row[i]) > 0, (header[i], row)
# sendrecv's bus factor is 1: busbw = algbw on every side.
for row in (r for r in rows if r[0] == "sendrecv"):
    for i in busbw:
        assert row[i] == row[i - 1], (header[i], row)
print(f"{len(rows)} rows, busbw columns {[header[i] for i in busbw]} all positive")

records = [json.loads(line) for line in open(sys.argv[2])]
assert len(records) == len(rows), (len(records), len(rows))
sides = [c[: -len(" us")] for c in header if c.endswith(" us")]
for record, row in zip(records, rows):
    assert list(record) == ["op", "bytes", "count", "ranks", "dtype", "device", "library", "iterations", "sides"], record
    assert [record["op"], record["bytes"], record["count"]] == [row[0], int(row[1]), int(row[2])], (record, row)
    assert record["ranks"] == 2 and record["dtype"] == "fp32" and record["device"] == "cpu", record
    assert record["library"] and record["iterations"] == 3, record
    assert list(record["sides"]) == sides, record
    for s, side in enumerate(sides):
        figures = record["sides"][side]
        assert list(figures) == ["us", "algbw_gbps", "busbw_gbps"], figures
        # the table's columns, rounded: us, algbw, busbw of this side
        printed = [float(row[3 + 3 * s + k]) for k in range(3)]
        for value, shown, digits in zip(figures.values(), printed, (1, 3, 3)):
            assert value > 0 and abs(value - shown) <= 0.5 * 10**-digits + 1e-9, (side, figures, printed)
print(f"{len(records)} JSONL records, one per row, matching the table")
PY
echo "PASS: bench_comm.sh printed all four operations with positive bandwidths, and --jsonl the same rows"
