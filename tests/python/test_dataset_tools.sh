#!/usr/bin/env bash
# The dataset as other tools see it: shards written by the C++ writer are read back with plain
# h5py (check_shard.py) for every format, and `nf-shard verify`/`inspect` are driven as a user
# would, including a corrupted shard (verify must fail with exit code 3 and name the file).
# Last, bench-reader on a 4 MiB shard (a fraction of a second): its --jsonl file holds one JSON
# object per table row, with the row's method and its memcpy baseline.
# usage: test_dataset_tools.sh BUILD_DIR SOURCE_DIR
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
set -e

bible -f 'Gen1:1-Gen6:22' > "$work/genesis.txt"
sed 's/\x1b\[[0-9;]*m//g' /usr/share/games/fortunes/tang300 | grep -v '^%$' > "$work/tang.txt"

for format in pretrain sft dpo; do
  for text in genesis tang; do
    out="$work/$text-$format"
    "$build/tests/write-text-dataset" "$work/$text.txt" "$out" "$format" 8192
    "$py" "$source/tests/python/check_shard.py" "$work/$text.txt" "$out" "$format"
  done
done

dataset="$work/genesis-sft"
"$shard" verify "$dataset" | tee "$work/verify.txt"
grep -q "; OK" "$work/verify.txt"
"$shard" inspect "$dataset" --samples 1 --sample-tokens 16 | tee "$work/inspect.txt"
grep -q "split train: " "$work/inspect.txt"
grep -q "document length: min" "$work/inspect.txt"
grep -q "train document 0:" "$work/inspect.txt"

# Flip one byte near the end of a shard (its token data): verify must fail, naming the shard.
victim="$dataset/train-00001.h5"
size=$(stat -c %s "$victim")
printf '\x7f' | dd of="$victim" bs=1 seek=$((size - 10)) conv=notrunc status=none
set +e
"$shard" verify "$dataset" > "$work/bad.txt" 2>&1
code=$?
set -e
cat "$work/bad.txt"
[[ $code -eq 3 ]] || { echo "expected exit code 3 (data error), got $code"; exit 1; }
grep -q "checksum mismatch in shard '$victim'" "$work/bad.txt"
grep -q "hint: re-run nf-shard build" "$work/bad.txt"

rm "$dataset/manifest.json"
set +e
"$shard" inspect "$dataset" > "$work/missing.txt" 2>&1
code=$?
set -e
[[ $code -eq 3 ]] && grep -q "no manifest.json in '$dataset'" "$work/missing.txt"

"$build/data_tools/bench-reader" --megabytes 4 --windows 2000 --dir "$work/bench-reader" \
  --jsonl "$work/reader.jsonl" > "$work/reader.txt"
"$py" - "$work/reader.txt" "$work/reader.jsonl" <<'PY'
import json, sys
rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in open(sys.argv[1]) if l.startswith("| ")][1:]
records = [json.loads(line) for line in open(sys.argv[2])]
assert len(rows) == 8 and len(records) == len(rows), (rows, records)
baselines = [r[0] for r in rows if r[0].endswith("(baseline)")]
for row, record in zip(rows, records):
    assert list(record) == ["method", "ops_per_s", "gb_per_s", "vs_memcpy", "baseline"], record
    assert record["method"] == row[0] and record["baseline"] in baselines, (row, record)
    assert abs(record["ops_per_s"] - float(row[1])) <= 0.5 and abs(record["gb_per_s"] - float(row[2])) <= 0.005, (row, record)
    assert abs(100 * record["vs_memcpy"] - float(row[3].rstrip("%"))) <= 0.5, (row, record)
    assert (record["vs_memcpy"] == 1) == (record["method"] == record["baseline"]), record
# Each row is compared with the memcpy row above it: windows first, then samples.
assert [r["baseline"] for r in records] == [baselines[0]] * 4 + [baselines[1]] * 4, records
PY
echo "test_dataset_tools: OK"
