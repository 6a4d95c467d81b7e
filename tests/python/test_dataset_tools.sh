#!/usr/bin/env bash
# The dataset as other tools see it: shards written by the C++ writer are read back with plain
# h5py (check_shard.py) for every format, and `nf-shard verify`/`inspect` are driven as a user
# would, including a corrupted shard (verify must fail with exit code 3 and name the file).
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
echo "test_dataset_tools: OK"
