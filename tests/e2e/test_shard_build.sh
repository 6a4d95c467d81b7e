#!/usr/bin/env bash
# nf-shard build as a user runs it: a BPE trained by `nf-shard tokenizer train` on the KJV bible,
# a dataset built from the KJV + Tang poems on 2 ranks (mpirun) and on 1 rank, both accepted by
# `nf-shard verify`, read with h5py (the same token streams, so the same token totals), and bad
# input: skipped and reported with file:line, or fatal under --strict (exit code 3).
# usage: test_shard_build.sh BUILD_DIR SOURCE_DIR
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
set -e

bash "$source/scripts/prepare_corpus.sh" "$work/corpus"
"$shard" tokenizer train --vocab-size 1024 --input "$work/corpus/kjv.txt" --out "$work/tok" --threads 2

common=(--input "$work/corpus" --tokenizer "$work/tok" --format pretrain --shard-size 512KB --val-fraction 0.02
        --seed 7)
"$MPIEXEC" -n 2 --oversubscribe --bind-to none "$shard" build "${common[@]}" --threads 1 --out "$work/ds2" | tee "$work/build2.txt"
"$shard" build "${common[@]}" --out "$work/ds1" --threads 2 | tee "$work/build1.txt"
ls "$work/ds2" | grep -q '^train-r001-00000.h5$' || fail "rank 1 wrote no shard"
[[ ! -e "$work/ds2/manifest.json.tmp" ]] && ls "$work/ds2" | grep -q '^tokenizer.json$' || fail "no tokenizer copied"
for dataset in ds1 ds2; do
  "$shard" verify "$work/$dataset" | tee "$work/verify-$dataset.txt"
  grep -q "; OK$" "$work/verify-$dataset.txt" || fail "verify rejected $dataset"
done
total() { "$py" -c 'import json,sys; m=json.load(open(sys.argv[1])); print(sum(s["tokens"] for s in m["splits"].values()))' "$1"; }
[[ $(total "$work/ds1/manifest.json") -eq $(total "$work/ds2/manifest.json") ]] || fail "1-rank and 2-rank token totals differ"

# The first paragraph of the corpus, encoded by the tokenizer on its own, opens the dataset.
awk 'NF == 0 { exit } { printf "%s%s", sep, $0; sep = "\n" }' "$work/corpus/kjv.txt" > "$work/first.txt"
"$shard" tokenizer encode --tokenizer "$work/tok" --input "$work/first.txt" > "$work/first.ids"
"$py" "$source/tests/python/check_built_dataset.py" "$work/ds2" --same-as "$work/ds1" \
  --first-doc "$work/first.ids"
"$shard" inspect "$work/ds2" --samples 1 --sample-tokens 12 | grep -q "train document 0:" || fail "inspect"

# Bad input: line 2 is not JSON, line 4 lacks "text". Skipped and reported by default...
printf '%s\n' '{"text": "In the beginning"}' '{"text": oops' '{"text": "God created"}' '{"body": "x"}' \
  > "$work/bad.jsonl"
"$shard" build --input "$work/bad.jsonl" --tokenizer "$work/tok" --out "$work/ds-bad" --quiet \
  > "$work/bad-out.txt" 2> "$work/bad-err.txt" || fail "a build with bad lines failed without --strict"
cat "$work/bad-err.txt"
grep -q "$work/bad.jsonl:2" "$work/bad-err.txt" || fail "bad line 2 not reported"
grep -q "$work/bad.jsonl:4" "$work/bad-err.txt" || fail "bad line 4 not reported"
grep -q "2 bad records skipped" "$work/bad-out.txt" || fail "bad records not counted"
# ... and fatal with --strict, naming file:line; the old manifest is gone, not left looking complete.
set +e
"$shard" build --input "$work/bad.jsonl" --tokenizer "$work/tok" --out "$work/ds-bad" --quiet --strict \
  > "$work/strict.txt" 2>&1
code=$?
set -e
cat "$work/strict.txt"
[[ $code -eq 3 ]] || fail "--strict: expected exit code 3 (data error), got $code"
grep -q "$work/bad.jsonl:2: malformed-json" "$work/strict.txt" || fail "--strict did not name file:line"
[[ ! -e "$work/ds-bad/manifest.json" ]] || fail "a failed build left a manifest"
echo "test_shard_build: OK"
