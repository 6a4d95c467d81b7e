#!/usr/bin/env bash
# The checkpoints the ecosystem checks read (the fixture of check_transformers_export.py,
# check_safetensors.py and, for AutoTokenizer, check_tokenizers.py): a 301-id BPE trained by
# nf-shard on Genesis 1-11 and a pretraining dataset of those verses; then the 4-layer model of
# tests/e2e/tiny_model.sh (d_model 64, 4 heads) trained 3 steps, fp32, in four cases of 2 ranks:
#   tied_gqa_tp2      tied embeddings, 2 kv heads, tp 2 (the vocabulary padded 301 -> 302 rows)
#   untied_gqa_tp2    an lm_head, 2 kv heads, tp 2 (padded)
#   untied_mha_zero1  an lm_head, 4 kv heads, dp 2 with ZeRO 1 (one optimizer file per dp rank)
#   tied_mha_pp2      tied embeddings, 4 kv heads, pp 2 (the head stage's copy of the embedding)
# Each case: CASE/hf (nf-ckpt export-hf, fp32, with the dataset's tokenizer) and CASE/logits.pt
# (nf's own forward of the step directory, nf_checkpoint_logits). untied_gqa_tp2 also gets
# hf_split (--max-shard-size 100KB), hf_bf16 and hf_fp16, consolidated/ (nf-ckpt consolidate) and
# a run saved with checkpoint.consolidate true. cases.json says what each case is.
# Usage: prepare_checkpoints.sh BUILD_DIR SOURCE_DIR OUT_DIR NF_CHECKPOINT_LOGITS
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/preamble.sh"
out=$3 logits=$4
rm -rf "$out" && mkdir -p "$out" || fail "cannot create $out"

bible -f 'Gen1:1-Gen11:32' | sed 's/^[^ ]* //' >"$out/genesis.txt" || fail "bible (bible-kjv) is not installed"
"$shard" tokenizer train --vocab-size 301 --input "$out/genesis.txt" --out "$out/tok" --threads 1 >/dev/null ||
  fail "nf-shard tokenizer train"
"$shard" build --input "$out/genesis.txt" --tokenizer "$out/tok" --out "$out/data" --val-fraction 0 --threads 1 \
  --quiet >/dev/null || fail "nf-shard build"

common=(--config "$source/configs/tiny.yaml" --data.train_path "$out/data" --output.dir "$out/runs"
  --model.vocab_size 301 --model.d_model 64 --model.n_layers 4 --model.n_heads 4 --model.max_seq_len 64
  --training.seq_len 32 --training.micro_batch_size 2 --training.global_batch_size 8 --training.max_steps 3
  --training.warmup_steps 1 --training.learning_rate 3e-3 --training.log_interval 1 --training.eval_interval 0
  --parallel.collective_timeout_s 60)

# train CASE FLAGS...: 3 steps on 2 ranks; the final checkpoint is runs/CASE/checkpoints/step_3.
train() {
  local name=$1
  shift
  "$MPIEXEC" -n 2 --oversubscribe "$build/src/nf-train" "${common[@]}" --output.name "$name" "$@" \
    >"$out/$name.out" 2>&1 || { tail -20 "$out/$name.out"; fail "$name: nf-train failed"; }
}

# export CASE: CASE/hf and nf's logits of the same checkpoint.
export_case() {
  local step=$out/runs/$1/checkpoints/step_3
  mkdir -p "$out/$1"
  "$ckpt" export-hf "$step" "$out/$1/hf" --dtype fp32 >"$out/$1/export.out" 2>&1 ||
    { cat "$out/$1/export.out"; fail "$1: nf-ckpt export-hf"; }
  "$logits" "$step" "$out/$1/logits.pt" 3 24 7 >"$out/$1/logits.out" 2>&1 ||
    { cat "$out/$1/logits.out"; fail "$1: nf_checkpoint_logits"; }
}

train tied_gqa_tp2 --model.tie_embeddings true --model.n_kv_heads 2 --parallel.tp 2
train untied_gqa_tp2 --model.tie_embeddings false --model.n_kv_heads 2 --parallel.tp 2
train untied_mha_zero1 --model.tie_embeddings false --model.n_kv_heads 4 --parallel.zero 1
train tied_mha_pp2 --model.tie_embeddings true --model.n_kv_heads 4 --parallel.pp 2
train untied_gqa_tp2_whole --model.tie_embeddings false --model.n_kv_heads 2 --parallel.tp 2 \
  --checkpoint.consolidate true
for name in tied_gqa_tp2 untied_gqa_tp2 untied_mha_zero1 tied_mha_pp2; do export_case $name; done

padded=$out/runs/untied_gqa_tp2/checkpoints/step_3
"$ckpt" export-hf "$padded" "$out/untied_gqa_tp2/hf_split" --dtype fp32 --max-shard-size 100KB >/dev/null ||
  fail "export-hf --max-shard-size"
"$ckpt" export-hf "$padded" "$out/untied_gqa_tp2/hf_bf16" --dtype bf16 >/dev/null || fail "export-hf --dtype bf16"
"$ckpt" export-hf "$padded" "$out/untied_gqa_tp2/hf_fp16" --dtype fp16 >/dev/null || fail "export-hf --dtype fp16"
"$ckpt" consolidate "$padded" "$out/untied_gqa_tp2/consolidated" >/dev/null || fail "nf-ckpt consolidate"

cat >"$out/cases.json" <<EOF
{"tied_gqa_tp2": {"tied": true, "n_heads": 4, "n_kv_heads": 2, "vocab": 301, "layout": "tp 2"},
 "untied_gqa_tp2": {"tied": false, "n_heads": 4, "n_kv_heads": 2, "vocab": 301, "layout": "tp 2",
                    "exports": ["hf", "hf_split"]},
 "untied_mha_zero1": {"tied": false, "n_heads": 4, "n_kv_heads": 4, "vocab": 301, "layout": "dp 2, zero 1"},
 "tied_mha_pp2": {"tied": true, "n_heads": 4, "n_kv_heads": 4, "vocab": 301, "layout": "pp 2"}}
EOF
echo "prepared 5 runs, 4 exports and nf's logits in $out"
