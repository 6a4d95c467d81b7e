#!/usr/bin/env bash
# Resuming into another layout (issue #6): the tiny 4-layer model of tiny_model.sh (fp32 on the
# CPU) trained for 20 steps on (dp,tp,pp) = (2,2,2) with ZeRO 2, saving at step 10. Resumed from
# step 10 with another layout and ZeRO stage, steps 11..20 (and the step-20 validation loss) match
# the uninterrupted run within 1e-5 relative (gradient norms within 1e-3, as in test_layouts.sh):
#  - (1,1,1) zero 0, (4,2,1) zero 1 and (1,2,4) zero 0 straight from the step directory;
#  - nf-ckpt consolidate of it (one full checkpoint): exports the same Hugging Face weights as the
#    sharded one, resumes at (2,1,2) zero 1, and at one rank bit for bit like the one-rank resume
#    of the sharded checkpoint;
#  - the same (2,2,2) zero 2 run with checkpoint.consolidate true: the same losses bit for bit, and
#    checkpoints whose tensor files and meta.json are byte-identical to nf-ckpt consolidate's of
#    the sharded run (config.yaml differing only in that key and the run's name); it resumes at
#    (2,2,2) zero 2; the same at (2,2,1) zero 0 with an untied lm_head and a tp-padded vocabulary;
#    nf-ckpt inspect verifies it, and finds a changed byte;
#  - a one-rank run's step-10 checkpoint resumed at (2,2,2) zero 2;
#  - a checkpoint of another model (d_model) is refused, naming the key (exit 4).
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"

# run_layout NAME DP TP PP ZERO FLAGS...: run NAME on that layout.
run_layout() {
  local name=$1 dp=$2 tp=$3 pp=$4 zero=$5
  shift 5
  run "$name" $((dp * tp * pp)) --parallel.tp "$tp" --parallel.pp "$pp" --parallel.zero "$zero" "$@"
}

# resumed NAME FROM LAYOUT: NAME said it resumed at step 10 and resharded from LAYOUT.
resumed() {
  grep -q "resumed from .* at step 10" "$work/$1.out" || fail "$1 did not resume from step 10"
  grep -q "resharding .* from layout $2 to " "$work/$1.out" || { grep resum "$work/$1.out"; fail "$1: no resharding line"; }
}

run_layout mesh 2 2 2 2
run single 1
step10=$work/runs/mesh/checkpoints/step_10
[[ -f $step10/optim-tp1-pp1-dp1.safetensors ]] || fail "no ZeRO optimizer file of rank (tp 1, pp 1, dp 1)"
# meta.json lists every tensor shard: the embedding's second vocabulary half is in tp 1's first stage.
$py - "$step10/meta.json" <<'PY' || fail "meta.json's tensor listing"
import json, sys
tensors = json.load(open(sys.argv[1]))["tensors"]
embed = next(t for t in tensors["model-tp1-pp0.safetensors"] if t["name"] == "model.embed_tokens.weight")
assert embed == {"name": "model.embed_tokens.weight", "dtype": "F32", "shape": [130, 64], "global_shape": [260, 64],
                 "slice": {"dim": 0, "index": 1, "count": 2}}, embed
assert not any(t["name"].startswith("model.embed") for t in tensors["model-tp1-pp1.safetensors"])
assert sorted(tensors) == sorted(json.load(open(sys.argv[1]))["files"])
PY

failures=0
printf '%-32s %9s %9s %9s\n' "resumed from step 10" "loss" "grad_norm" "val_loss"
for layout in 1,1,1,0 4,2,1,1 1,2,4,0; do
  IFS=, read -r dp tp pp zero <<<"$layout"
  name="mesh_to_dp${dp}_tp${tp}_pp${pp}_zero${zero}"
  run_layout "$name" "$dp" "$tp" "$pp" "$zero" --resume "$step10"
  resumed "$name" "dp 2, tp 2, pp 2, zero 2"
  compare mesh "$name" 10 || failures=$((failures + 1))
done

# One full checkpoint of the (2,2,2) one: a one-rank checkpoint of the same step.
"$ckpt" consolidate "$step10" "$work/consolidated" >"$work/consolidate.out" 2>&1 ||
  { cat "$work/consolidate.out"; fail "nf-ckpt consolidate"; }
[[ $(ls "$work/consolidated") == $'config.yaml\nmeta.json\nmodel-tp0-pp0.safetensors\noptim-tp0-pp0-dp0.safetensors' ]] ||
  fail "consolidated files: $(ls "$work/consolidated" | tr '\n' ' ')"
ls -d "$work"/consolidated.partial.* 2>/dev/null && fail "a staging directory was left behind"
$py - "$work/consolidated/meta.json" "$step10/meta.json" <<'PY' || fail "consolidated meta.json"
import json, sys
full, mesh = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert full["layout"] == {"tp": 1, "pp": 1, "dp": 1, "zero": 0}, full["layout"]
for key in ("step", "loader", "tokens_seen", "tokenizer_fingerprint"):
    assert full[key] == mesh[key], key
assert sorted(full["files"]) == ["model-tp0-pp0.safetensors", "optim-tp0-pp0-dp0.safetensors"], full["files"]
PY
"$ckpt" consolidate "$step10" "$work/consolidated" >"$work/consolidate2.out" 2>&1
[[ $? -eq 2 ]] && grep -q "exists and is not empty" "$work/consolidate2.out" ||
  { cat "$work/consolidate2.out"; fail "consolidating over a full directory"; }
"$ckpt" export-hf "$work/consolidated" "$work/hf_consolidated" --dtype fp32 >"$work/export.out" 2>&1 &&
  "$ckpt" export-hf "$step10" "$work/hf_mesh" --dtype fp32 >>"$work/export.out" 2>&1 ||
  { cat "$work/export.out"; fail "export-hf"; }
cmp -s "$work/hf_consolidated/model.safetensors" "$work/hf_mesh/model.safetensors" ||
  fail "the consolidated checkpoint exports other weights than the (2,2,2) one"

run_layout full_to_dp2_tp1_pp2_zero1 2 1 2 1 --resume "$work/consolidated"
resumed full_to_dp2_tp1_pp2_zero1 "dp 1, tp 1, pp 1, zero 0"
compare mesh full_to_dp2_tp1_pp2_zero1 10 || failures=$((failures + 1))
# At one rank the consolidated checkpoint loads as saved, and gives what resharding gave.
run full_to_single 1 --resume "$work/consolidated"
grep -q "resharding" "$work/full_to_single.out" && fail "the one-rank resume of a consolidated checkpoint resharded"
diff "$work/mesh_to_dp1_tp1_pp1_zero0.losses" "$work/full_to_single.losses" ||
  fail "resuming the consolidated checkpoint differs from resharding the (2,2,2) one at one rank"

# Consolidated at save time: the job gathers what nf-ckpt consolidate reads from the shards.
run_layout saved_whole 2 2 2 2 --checkpoint.consolidate true
diff "$work/mesh.losses" "$work/saved_whole.losses" || fail "checkpoint.consolidate changed the training"
# same_files SAVED OFFLINE: a checkpoint consolidated at save time has the files of nf-ckpt consolidate's.
same_files() {
  [[ $(ls "$1") == $(ls "$2") ]] || fail "$1, consolidated at save time, holds $(ls "$1" | tr '\n' ' ')"
  for file in model-tp0-pp0.safetensors optim-tp0-pp0-dp0.safetensors meta.json; do
    cmp "$1/$file" "$2/$file" || fail "$1/$file, consolidated at save time, differs from nf-ckpt consolidate's"
  done
}
whole10=$work/runs/saved_whole/checkpoints/step_10
same_files "$whole10" "$work/consolidated"
# nf-ckpt inspect checks every file against meta.json: intact, then with one byte changed (exit 4).
"$ckpt" inspect "$whole10" >"$work/inspect.out" 2>&1 || { cat "$work/inspect.out"; fail "nf-ckpt inspect"; }
grep -q "step 10, layout dp 1, tp 1, pp 1, zero 0" "$work/inspect.out" &&
  grep -q "^optim-tp0-pp0-dp0.safetensors: .* SHA-256 ok" "$work/inspect.out" &&
  grep -q "^  model.layers.3.mlp.down_proj.weight  F32 \[64, 192\]" "$work/inspect.out" ||
  { cat "$work/inspect.out"; fail "nf-ckpt inspect of a step directory"; }
cp -r "$whole10" "$work/damaged"
printf 'x' | dd of="$work/damaged/optim-tp0-pp0-dp0.safetensors" bs=1 seek=4000 conv=notrunc status=none
"$ckpt" inspect "$work/damaged" >"$work/inspect_damaged.out" 2>&1
code=$?
[[ $code -eq 4 ]] && grep -q "^optim-tp0-pp0-dp0.safetensors: .* MISMATCH" "$work/inspect_damaged.out" ||
  { cat "$work/inspect_damaged.out"; fail "nf-ckpt inspect of a damaged checkpoint: exit $code"; }
diff <(sed 's/^  consolidate: true$/  consolidate: false/; s/^  name: saved_whole$/  name: mesh/' "$whole10/config.yaml") \
  "$work/consolidated/config.yaml" || fail "config.yaml consolidated at save time differs in more than its run"
run_layout whole_to_dp2_tp2_pp2_zero2 2 2 2 2 --resume "$whole10"
resumed whole_to_dp2_tp2_pp2_zero2 "dp 1, tp 1, pp 1, zero 0"
compare mesh whole_to_dp2_tp2_pp2_zero2 10 || failures=$((failures + 1))
# Without ZeRO the moments come whole from dp rank 0 of each tp slice; an untied lm_head and a
# vocabulary that tp 2 pads (261 -> 262 rows) have their padding rows dropped.
untied=(--training.max_steps 10 --model.vocab_size 261 --model.tie_embeddings false)
run_layout sharded_zero0 2 2 1 0 "${untied[@]}"
run_layout whole_zero0 2 2 1 0 "${untied[@]}" --checkpoint.consolidate true
"$ckpt" consolidate "$work/runs/sharded_zero0/checkpoints/step_10" "$work/consolidated_zero0" >/dev/null ||
  fail "nf-ckpt consolidate of the (2,2,1) zero 0 run"
same_files "$work/runs/whole_zero0/checkpoints/step_10" "$work/consolidated_zero0"

run_layout single_to_dp2_tp2_pp2_zero2 2 2 2 2 --resume "$work/runs/single/checkpoints/step_10"
resumed single_to_dp2_tp2_pp2_zero2 "dp 1, tp 1, pp 1, zero 0"
compare single single_to_dp2_tp2_pp2_zero2 10 || failures=$((failures + 1))
[[ $failures -eq 0 ]] || fail "$failures resharded resumes differ from the uninterrupted runs"
echo "PASS: resharded resumes and a consolidated checkpoint continue the uninterrupted runs"

# Another model: refused before anything is loaded, naming the key.
"$build/src/nf-train" "${common[@]}" --output.name other_model --model.d_model 32 --resume "$step10" >"$work/other.out" 2>&1
code=$?
[[ $code -eq 4 ]] && grep -q "was trained with model.d_model = 64 but this job has model.d_model = 32" "$work/other.out" ||
  { tail -5 "$work/other.out"; fail "a checkpoint of another d_model: exit $code"; }
echo "PASS: a checkpoint of another model is refused with exit 4, naming model.d_model"
