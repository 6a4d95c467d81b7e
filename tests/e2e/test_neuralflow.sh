#!/usr/bin/env bash
# The NeuralFlow paragraph-latent model (issue #20) as a user runs it, on a small model and a
# 1,200-record dataset of the bundled corpus (scripts/prepare_neuralflow_data.sh: KJV verses and
# Tang poem lines, emotion labels by scripts/neuralflow/emotion_rule.py):
#  1. the four stages in one nf-train job on 4 ranks (--stages vqvae dynamics emotion finetune):
#     each stage starts from the previous one's final checkpoint and ends at its max_steps; metrics
#     carry each stage's terms; a stage leaves the modules it does not train bit for bit as it found
#     them (dynamics: all but the brain; emotion: the encoder and quantizer); the losses fall;
#  2. every stage's losses and terms on dp 2 with ZeRO 1, 2 and 3 equal one rank's
#     (1e-5 relative), the codebook upkeep (EMA, dead-code restarts) included;
#  3. resume: vqvae stopped at step 4 and resumed reproduces the uninterrupted run bit for bit;
#  4. nf-generate continues a text with each emotion; emotion_stat.py reads its output;
#  5. errors: the emotion stage on unlabelled data (names the document and the fix), a label the
#     model does not list, an unknown --stages name, --emotion not a label, parallel.tp > 1.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
start=$SECONDS
generate=$build/src/nf-generate

# Data: the corpus, a 1024-id BPE of it, 1,200 sequence records.
"$source/scripts/prepare_corpus.sh" "$work/corpus" >/dev/null || fail "prepare_corpus.sh"
"$shard" tokenizer train --vocab-size 1024 --input "$work/corpus/kjv.txt" "$work/corpus/tang.txt" --out "$work/tok" \
  --threads 2 >/dev/null || fail "tokenizer train"
NF_CORPUS_DIR=$work/corpus NF_TOKENIZER=$work/tok NF_SEQUENCES_MAX=1200 NF_BUILD_DIR=$build \
  "$source/scripts/prepare_neuralflow_data.sh" "$work/data" >"$work/prepare.log" 2>&1 ||
  { cat "$work/prepare.log"; fail "prepare_neuralflow_data.sh"; }
[[ -f $work/data/neuralflow/manifest.json ]] || fail "no dataset"

cat >"$work/nf.yaml" <<YAML
inherit: $source/configs/neuralflow.yaml
model: {vocab_size: 1024, d_model: 64, n_layers: 1, n_heads: 4, n_kv_heads: 2, d_latent: 16, num_layers: 1,
        codebook_size: 32, max_paragraph_len: 32, max_paragraphs: 4, max_ponder_steps: 3, mamba_d_state: 4}
data: {train_path: $work/data/neuralflow}
training: {micro_batch_size: 2, global_batch_size: 8, log_interval: 1, eval_interval: 0}
output: {dir: $work/runs}
YAML
# The stages' lengths (stages: entries keep their own max_steps) and the emotion stage's dataset.
stage_steps() {  # stage_steps VQVAE DYNAMICS EMOTION FINETUNE: a config with those max_steps
  $py - "$work/nf.yaml" "$@" <<'PY'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
steps = dict(zip(["vqvae", "dynamics", "emotion", "finetune"], map(int, sys.argv[2:6])))
base = yaml.safe_load(open(config["inherit"]))
config["stages"] = base["stages"]
for stage in config["stages"]:
    stage["training"]["max_steps"] = steps[stage["name"]]
    stage["training"]["warmup_steps"] = 2
    if "data" in stage:  # the emotion stage's balanced dataset, built beside the other
        stage["data"]["train_path"] = config["data"]["train_path"] + "_emotion"
yaml.safe_dump(config, sys.stdout)
PY
}
stage_steps 24 16 16 8 >"$work/chain.yaml" || fail "chain config"
stage_steps 3 3 3 3 >"$work/short.yaml" || fail "short config"

# 1. All four stages on 4 ranks.
$MPIEXEC -n 4 "$train" --config "$work/chain.yaml" --stages vqvae dynamics emotion finetune --output.name chain \
  >"$work/chain.log" 2>&1 || { tail -n 30 "$work/chain.log"; fail "the four-stage job"; }
run=$work/runs/chain
for stage in vqvae dynamics emotion finetune; do
  [[ -s $run/$stage/metrics.jsonl ]] || fail "no metrics for stage $stage"
done
grep -q "INFO loaded weights from $run/vqvae/checkpoints/step_24" "$work/chain.log" || fail "dynamics did not start from vqvae"
grep -q 'INFO dynamics: frozen encoder, quantizer, emotion, decoder' "$work/chain.log" || fail "dynamics' frozen modules"
$py - "$run" <<'PY' || fail "stage metrics, frozen modules or falling losses"
import json, sys
from safetensors.torch import load_file
run = sys.argv[1]
records = {s: [json.loads(l) for l in open(f"{run}/{s}/metrics.jsonl") if '"loss"' in l and "val_loss" not in l]
           for s in ["vqvae", "dynamics", "emotion", "finetune"]}
terms = {"vqvae": ["recon_loss", "bow_loss", "commit_loss", "perplexity", "dead_codes", "latent_spread"],
         "dynamics": ["prediction_loss", "copy_last_loss", "mean_latent_loss", "ponder_steps", "ponder_cost"],
         "emotion": ["prediction_loss", "next_loss"], "finetune": ["recon_loss", "prediction_loss", "next_loss"]}
for stage, names in terms.items():
    for name in names:
        assert all(name in r for r in records[stage]), (stage, name)
for stage in ["vqvae", "dynamics", "emotion"]:
    first, last = records[stage][0]["loss"], records[stage][-1]["loss"]
    assert last < first, (stage, first, last)
    print(f"{stage}: loss {first:.4f} -> {last:.4f}")
steps = {"vqvae": 24, "dynamics": 16, "emotion": 16, "finetune": 8}
weights = {s: load_file(f"{run}/{s}/checkpoints/step_{n}/model-tp0-pp0.safetensors") for s, n in steps.items()}
def same(a, b, prefixes):
    names = [n for n in weights[a] if n.startswith(prefixes)]
    assert names
    return all(weights[a][n].equal(weights[b][n]) for n in names)
def moved(a, b, prefixes):
    return any(not weights[a][n].equal(weights[b][n]) for n in weights[a] if n.startswith(prefixes))
assert same("vqvae", "dynamics", ("encoder.", "quantizer.", "emotion.", "decoder.")), "dynamics moved a frozen module"
assert moved("vqvae", "dynamics", ("brain.",)), "dynamics did not train the brain"
assert same("dynamics", "emotion", ("encoder.", "quantizer.")), "emotion moved the encoder or the codebook"
assert moved("dynamics", "emotion", ("emotion.",)) and moved("dynamics", "emotion", ("decoder.",)), "emotion did not train"
assert moved("emotion", "finetune", ("encoder.",)), "finetune did not train the encoder"
print("frozen modules unchanged bit for bit; trained ones moved")
PY
echo "PASS: four stages on 4 ranks, each from the previous one's checkpoint; frozen modules kept; losses fall"

# 2. Layouts: every stage's records on dp 2 (ZeRO 1, ZeRO 3) against one rank's.
layout() {  # layout NAME RANKS ZERO
  $MPIEXEC -n "$2" "$train" --config "$work/short.yaml" --output.name "$1" --parallel.zero "$3" \
    >"$work/$1.log" 2>&1 || { tail -n 20 "$work/$1.log"; fail "layout $1"; }
}
layout one 1 0
layout dp2_zero1 2 1
layout dp2_zero2 2 2
layout dp2_zero3 2 3
$py - "$work/runs" <<'PY' || fail "layouts differ from one rank"
import json, math, sys
runs = sys.argv[1]
def records(name, stage):
    return [json.loads(l) for l in open(f"{runs}/{name}/{stage}/metrics.jsonl") if '"loss"' in l]
skip = {"step", "lr", "tokens_per_s", "gflops_per_s", "comm", "bubble", "data_wait", "skipped_steps", "mfu"}
worst = 0.0
for stage in ["vqvae", "dynamics", "emotion", "finetune"]:
    reference = records("one", stage)
    assert len(reference) == 3, (stage, len(reference))
    for name in ["dp2_zero1", "dp2_zero2", "dp2_zero3"]:
        other = records(name, stage)
        assert len(other) == len(reference)
        for a, b in zip(reference, other):
            for key, value in a.items():
                if key in skip or not isinstance(value, float):
                    continue
                error = abs(b[key] - value) / max(abs(value), 1e-6)
                worst = max(worst, error)
                assert error <= 1e-5 or abs(b[key] - value) < 1e-7, (name, stage, a["step"], key, value, b[key])
print(f"dp2 with ZeRO 1, 2 and 3 matches one rank: worst relative difference {worst:.1e}")
PY
echo "PASS: vqvae, dynamics, emotion, finetune: dp 2 with ZeRO 1, 2 and 3 reproduce one rank's losses and terms"

# 3. Resume: vqvae 4 steps, then on to 8, against 8 in one go (a constant schedule: max_steps must not change it).
resume_run() {  # resume_run NAME STEPS
  "$train" --config "$work/short.yaml" --stages vqvae --output.name "$1" --resume auto \
    --training.max_steps "$2" --training.warmup_steps 2 --training.lr_schedule constant --checkpoint.save_interval 2 \
    >>"$work/$1.log" 2>&1 ||
    { tail -n 20 "$work/$1.log"; fail "resume run $1"; }
}
resume_run straight 8
resume_run resumed 4
resume_run resumed 8
grep -q 'INFO resumed from .*step_4' "$work/resumed.log" || fail "the second run did not resume at step 4"
$py - "$work/runs/straight/vqvae/metrics.jsonl" "$work/runs/resumed/vqvae/metrics.jsonl" <<'PY' ||
import json, sys
timing = {"tokens_per_s", "gflops_per_s", "comm", "bubble", "data_wait"}
def records(path):
    out = [{k: v for k, v in json.loads(l).items() if k not in timing} for l in open(path)]
    return [r for r in out if "loss" in r]
straight, resumed = records(sys.argv[1]), records(sys.argv[2])
assert len(straight) == 8 and straight == resumed, (straight, resumed)
PY
  fail "the resumed vqvae run differs from the uninterrupted one"
echo "PASS: vqvae resumed at step 4 reproduces the uninterrupted 8 steps bit for bit (codebook statistics included)"

# 4. Generation with each emotion.
"$generate" --model "$run/finetune" --prompt $'In the beginning God created the heaven and the earth.\n\nAnd the earth was without form, and void.' \
  --emotion all --paragraphs 2 --temperature 0.7 --out "$work/generated.jsonl" 2>"$work/generate.log" ||
  { cat "$work/generate.log"; fail "nf-generate"; }
$py - "$work/generated.jsonl" <<'PY' || fail "nf-generate's records"
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
assert [r["emotion"] for r in records] == ["neutral", "happy", "sad", "angry"], records
assert all(len(r["paragraphs"]) == 2 and len(r["codes"]) == 2 for r in records)
PY
$py "$source/scripts/neuralflow/emotion_stat.py" "$work/generated.jsonl" >"$work/stat.txt" || fail "emotion_stat.py"
echo "PASS: nf-generate --emotion all: a continuation of 2 paragraphs per emotion; emotion_stat.py reads them"

# 5. Errors.
expect_error() {  # expect_error CODE TEXT COMMAND...: exits CODE and prints TEXT
  local code=$1 text=$2
  shift 2
  "$@" >"$work/error.log" 2>&1
  local got=$?
  [[ $got == "$code" ]] || { cat "$work/error.log"; fail "expected exit $code, got $got: $*"; }
  grep -qF -- "$text" "$work/error.log" || { cat "$work/error.log"; fail "no '$text' in the error of: $*"; }
}
$py -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l); r.pop("emotion", None); print(json.dumps(r))' "$work/data/neuralflow_text/sequences.jsonl" \
  >"$work/unlabelled.jsonl"
"$shard" build --input "$work/unlabelled.jsonl" --tokenizer "$work/tok" --format sequence --out "$work/unlabelled" \
  --quiet >/dev/null || fail "unlabelled dataset"
expect_error 3 "has no emotion label, but the emotion stage trains on labelled text only" \
  "$train" --config "$work/short.yaml" --stages emotion --output.name unlabelled --data.train_path "$work/unlabelled" \
  --training.load_from "$work/runs/one/dynamics"
expect_error 3 "which model.emotions [neutral, joyful] does not list" \
  "$train" --config "$work/short.yaml" --stages vqvae --output.name labels --model.emotions neutral,joyful
expect_error 2 "--stages pretrain: $work/short.yaml has no such stage (its stages: vqvae, dynamics, emotion, finetune)" \
  "$train" --config "$work/short.yaml" --stages pretrain
expect_error 2 "--emotion 'furious' is not one of the model's emotions (neutral, happy, sad, angry)" \
  "$generate" --model "$run/finetune" --prompt "And God said." --emotion furious
expect_error 2 "model.arch neuralflow trains on data parallelism only" \
  $MPIEXEC -n 2 "$train" --config "$work/short.yaml" --stages vqvae --output.name tp --parallel.tp 2
echo "PASS: clear errors for unlabelled data, an unknown label, an unknown stage or emotion, and tp > 1"
echo "test_neuralflow: $((SECONDS - start)) s"
