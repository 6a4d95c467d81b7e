#!/usr/bin/env bash
# Damaged datasets under nf-train (issue 21). On the tiny model's Genesis dataset (64 KiB
# shards), each of these stops a 2-rank nf-train with a DataError naming the shard and the fix,
# before any training step, and `nf-shard verify` names the same damage:
#   - a byte flipped in the middle of a shard's token array (its chunk's CRC-32C),
#   - a byte flipped in the document offsets (checked at open),
#   - a truncated shard,
#   - a shard swapped in from another build of the same sizes (the manifest's digest).
# A dataset built before chunk checksums still trains, with a warning, to the same losses.
# usage: test_damaged_data.sh BUILD_DIR SOURCE_DIR
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"
common+=(--training.max_steps 4 --training.eval_interval 0 --checkpoint.save_interval 0)
shard_file=train-00000.h5

# damaged NAME: a copy of the dataset in $work/NAME.
damaged() { rm -rf "${work:?}/$1" && cp -r "$work/data" "$work/$1"; }
# flip DATASET ARRAY FRACTION: flips one bit of the byte FRACTION of the way into ARRAY of the shard.
flip() { "$py" - "$work/$1/$shard_file" "$2" "$3" <<'PY'
import sys, h5py
path, array, fraction = sys.argv[1], sys.argv[2], float(sys.argv[3])
with h5py.File(path, "r") as f:
    offset = f[array].id.get_offset() + int(f[array].id.get_storage_size() * fraction)
with open(path, "r+b") as out:
    out.seek(offset)
    byte = out.read(1)[0]
    out.seek(offset)
    out.write(bytes([byte ^ 0x04]))
PY
}
# expect_stop NAME MESSAGE...: nf-train on 2 ranks over $work/NAME fails, saying every MESSAGE,
# having logged no training step; nf-shard verify rejects the dataset too.
expect_stop() {
  local name=$1
  shift
  "$MPIEXEC" -n 2 --oversubscribe "$train" "${common[@]}" --data.train_path "$work/$name" --output.name "$name" \
    >"$work/$name.out" 2>&1 && fail "$name: nf-train trained on a damaged dataset"
  for message in "$@"; do
    grep -qF -- "$message" "$work/$name.out" || { tail -20 "$work/$name.out"; fail "$name: no '$message'"; }
  done
  [[ ! -s $work/runs/$name/metrics.jsonl ]] || ! grep -q '"step"' "$work/runs/$name/metrics.jsonl" ||
    fail "$name: steps were trained before the damage was found"
  "$shard" verify "$work/$name" >"$work/$name.verify" 2>&1 && fail "$name: nf-shard verify accepted it"
  echo "$name: stopped: $(grep -m1 -o "shard '[^']*' [^:]*" "$work/$name.out")"
}

damaged tokens && flip tokens tokens 0.5
expect_stop tokens "shard '$work/tokens/$shard_file' is damaged: /tokens chunk 0" "nf-shard verify"
grep -q "/tokens chunk 0" "$work/tokens.verify" || fail "verify did not name the damaged chunk"

damaged offsets && flip offsets doc_offsets 0.5
expect_stop offsets "shard '$work/offsets/$shard_file' is damaged: /doc_offsets chunk 0"

damaged truncated && truncate -s 40000 "$work/truncated/$shard_file"
expect_stop truncated "shard '$work/truncated/$shard_file'" "truncated"

# Another build of the same text with one letter changed: the same sizes and counts everywhere.
sed '0,/God/s//Gad/' "$work/genesis.txt" >"$work/genesis-other.txt"
"$build/tests/write-text-dataset" "$work/genesis-other.txt" "$work/other" pretrain 65536 10 >/dev/null ||
  fail "second dataset"
damaged swapped && cp "$work/other/$shard_file" "$work/swapped/$shard_file"
expect_stop swapped "shard '$work/swapped/$shard_file' is not the shard the manifest lists"

# Built before chunk checksums: no /chunk_crc32c, no digests in the manifest.
damaged old
"$py" - "$work/old" <<'PY' || fail "could not strip the chunk checksums"
import hashlib, json, os, sys, h5py
root = sys.argv[1]
manifest = json.load(open(os.path.join(root, "manifest.json")))
for split in manifest["splits"].values():
    for shard in split["shards"]:
        path = os.path.join(root, shard["file"])
        with h5py.File(path, "r+") as f:
            del f["chunk_crc32c"]
        shard["sha256"] = hashlib.sha256(open(path, "rb").read()).hexdigest()
        del shard["chunk_crc32c"]
json.dump(manifest, open(os.path.join(root, "manifest.json"), "w"))
PY
run fresh 2
run old 2 --data.train_path "$work/old"
grep -q "built before per-chunk checksums" "$work/old.out" || fail "no warning for a dataset without chunk checksums"
compare fresh old || fail "the dataset without chunk checksums trained differently"
"$shard" verify "$work/old" | grep -q "built before per-chunk checksums" || fail "verify did not note the old dataset"
echo "PASS"
