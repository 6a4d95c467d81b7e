#!/usr/bin/env bash
# Smoke test of scripts/bench_ckpt.sh (label bench, outside the default suite): a ~3 MB model
# saved and loaded at 1 and 2 ranks, consolidated and loaded again, saved consolidated by the 2
# ranks, next to dd: the table has
# every row with positive sizes, rates and ratios.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
out=$(bash "$source/scripts/bench_ckpt.sh" --build "$build" --d-model 64 --layers 2 --vocab 1000 2>&1)
code=$?
echo "$out"
[[ $code -eq 0 ]] || fail "bench_ckpt.sh exited $code"
"$py" - "$out" <<'PY' || fail "the table is incomplete or has a non-positive figure"
import sys
rows = [[c.strip() for c in l.strip("|").split("|")] for l in sys.argv[1].splitlines() if l.startswith("| ")]
assert rows[0] == ["operation", "ranks", "GB", "GB/s", "vs dd"], rows[0]
rows = [r for r in rows[1:] if not r[0].startswith("---")]
operations = [(r[0].split(" (")[0], r[1]) for r in rows]
assert operations == [("save sharded", "1"), ("load sharded", "1"), ("save sharded", "2"), ("load sharded", "2"),
                      ("nf-ckpt consolidate", "2"), ("load consolidated", "2"), ("save consolidated", "2"), ("dd write", "1"),
                      ("dd read", "1")], operations
assert all(float(v) > 0 for r in rows for v in r[2:]), rows
print(f"{len(rows)} rows, all positive")
PY
