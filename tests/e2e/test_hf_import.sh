#!/usr/bin/env bash
# Hugging Face import (issue #6): the tiny model of tiny_model.sh trained 10 steps at one rank is
# exported with nf-ckpt export-hf (fp32), and new runs start from it with model.init_from at
# learning rate 0, so their step-1 validation loss is that of the imported weights: it must equal
# the original run's step-10 validation loss (1e-5 relative) at
#  - one rank, and (dp,tp,pp) = (1,2,2), whose losses also match the one-rank run's;
#  - (2,1,1) with ZeRO 1 from an export split (--max-shard-size) into model.safetensors.index.json
#    and shards, which hold the unsplit export's tensors byte for byte (a stale ZeRO master would
#    put the random init back at the first update);
#  - one rank from the nf step directory itself.
# A config.json with another num_key_value_heads is refused naming both keys (exit 4), and a
# resumable checkpoint takes precedence over model.init_from.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"

run base 1 --training.max_steps 10
"$build/src/nf-ckpt" export-hf "$work/runs/base/checkpoints/step_10" "$work/hf" --dtype fp32 >"$work/export.out" 2>&1 ||
  { cat "$work/export.out"; fail "nf-ckpt export-hf"; }

# Learning rate 0: the weights stay the imported ones; validation after steps 1 and 2.
init=(--training.learning_rate 0 --training.max_steps 2 --training.eval_interval 1 --checkpoint.save_interval 0)
val_at() { awk -v step="$2" '$1 == "val" && $2 == step {print $3}' "$work/$1.losses"; }
# imported NAME: NAME logged the import and its step-1 validation loss is base's at step 10.
imported() {
  grep -q "initial weights from model.init_from" "$work/$1.out" || fail "$1 did not log the import"
  $py -c 'import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
r = abs(a - b) / abs(a)
print(f"{sys.argv[3]:<24} step-1 val_loss {b:.9g}, trained model {a:.9g}: {r:.2e}")
sys.exit(r > 1e-5)' "$(val_at base 10)" "$(val_at "$1" 1)" "$1" || fail "$1: the imported model's validation loss differs"
}

run hf_single 1 --model.init_from "$work/hf" "${init[@]}"
imported hf_single
run hf_tp2_pp2 4 --model.init_from "$work/hf" --parallel.tp 2 --parallel.pp 2 "${init[@]}"
imported hf_tp2_pp2
compare hf_single hf_tp2_pp2 || fail "(1,2,2) strays from one rank"

# The export split into shards and an index, as large Hugging Face models come: the shards, read
# here with a plain safetensors parser, hold every tensor of the unsplit export, byte for byte.
"$build/src/nf-ckpt" export-hf "$work/runs/base/checkpoints/step_10" "$work/hf_split" --dtype fp32 \
  --max-shard-size 100KB >"$work/export_split.out" 2>&1 || { cat "$work/export_split.out"; fail "export-hf --max-shard-size"; }
$py - "$work/hf" "$work/hf_split" <<'PY' || fail "the split export differs from the unsplit one"
import json, os, struct, sys
def tensors(path):
    raw = open(path, "rb").read()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + length])
    assert header.pop("__metadata__") == {"format": "pt"}, path
    data = raw[8 + length:]
    return {name: (h["dtype"], h["shape"], data[h["data_offsets"][0]:h["data_offsets"][1]]) for name, h in header.items()}
whole, split = sys.argv[1], sys.argv[2]
expected = tensors(f"{whole}/model.safetensors")
index = json.load(open(f"{split}/model.safetensors.index.json"))
files = sorted(set(index["weight_map"].values()))
assert len(files) > 2 and files == sorted(f for f in os.listdir(split) if f.endswith(".safetensors")), files
assert not os.path.exists(f"{split}/model.safetensors")
found = {}
for file in files:
    part = tensors(f"{split}/{file}")
    assert len(b"".join(t[2] for t in part.values())) <= 100 * 1024 or len(part) == 1, file
    for name, tensor in part.items():
        assert index["weight_map"][name] == file, name
        found[name] = tensor
assert found == expected, "tensors differ"
assert index["metadata"]["total_size"] == sum(len(t[2]) for t in expected.values())
print(f"split export: {len(files)} shards, {len(found)} tensors, equal to the unsplit export")
PY
run hf_split_zero1 2 --model.init_from "$work/hf_split" --parallel.zero 1 "${init[@]}"
imported hf_split_zero1
run nf_step_dir 1 --model.init_from "$work/runs/base/checkpoints/step_10" "${init[@]}"
imported nf_step_dir

# Another num_key_value_heads in config.json: refused before any training, naming both keys.
cp -r "$work/hf" "$work/hf_bad"
$py -c 'import json, sys
config = json.load(open(sys.argv[1]))
config["num_key_value_heads"] = 4
json.dump(config, open(sys.argv[1], "w"))' "$work/hf_bad/config.json"
"$MPIEXEC" -n 1 "$build/src/nf-train" "${common[@]}" --output.name bad --model.init_from "$work/hf_bad" >"$work/bad.out" 2>&1
code=$?
[[ $code -eq 4 ]] || { cat "$work/bad.out"; fail "a mismatched config.json exited $code, not 4"; }
grep -q "has num_key_value_heads = 4 but this job has model.n_kv_heads = 2" "$work/bad.out" ||
  { cat "$work/bad.out"; fail "the mismatch message does not name the keys"; }
echo "mismatched config.json: $(grep -m1 'num_key_value_heads' "$work/bad.out")"

# A checkpoint to resume from wins over model.init_from.
run hf_single 1 --model.init_from "$work/hf" "${init[@]}" --training.max_steps 3 --checkpoint.resume auto
grep -q "model.init_from .* not loaded: checkpoint.resume auto has a checkpoint" "$work/hf_single.out" ||
  fail "the resume did not take precedence over model.init_from"
grep -q "resumed from .* at step 2" "$work/hf_single.out" || fail "hf_single did not resume from step 2"
echo "ok"
