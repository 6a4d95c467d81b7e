#!/usr/bin/env bash
# A model made and saved by transformers, imported with model.init_from (issue 15):
# transformers_model.py creates a random LlamaForCausalLM (4 layers, d_model 64, 4 heads, 2 kv
# heads), saves it with save_pretrained(max_shard_size="100KB") (several files and an index) and
# computes its loss on every training sample of a byte-token dataset of Genesis 1-2; nf-train
# starts from that directory at learning rate 0 with global_batch_size = every sample, so its
# step-1 loss is the imported model's loss on the same tokens: equal within 1e-5 relative (fp32).
#  - untied embeddings (LlamaConfig's default), RoPE theta 10000, on (dp,tp,pp) = (1,2,2);
#  - tied embeddings with RoPE theta 500000 (transformers 5 writes it under rope_parameters), tp 2.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/preamble.sh"
here=${BASH_SOURCE[0]%/*}

bible -f 'Gen1:1-Gen2:25' | sed 's/^[^ ]* //' >"$work/text.txt" || fail "bible (bible-kjv) is not installed"
"$build/tests/write-text-dataset" "$work/text.txt" "$work/data" pretrain 2048 || fail "dataset"

# imported NAME RANKS TIE ROPE_THETA FLAGS...: transformers' model NAME, trained from at RANKS ranks.
imported() {
  local name=$1 ranks=$2 tie=$3 theta=$4
  shift 4
  read -r samples micro loss < <($py "$here/transformers_model.py" "$work/$name" "$work/data" 32 "$tie" "$theta" 5 \
    2>"$work/$name.py.err") || { cat "$work/$name.py.err"; fail "$name: transformers_model.py"; }
  "$MPIEXEC" -n "$ranks" --oversubscribe "$build/src/nf-train" --config "$source/configs/tiny.yaml" \
    --data.train_path "$work/data" --output.dir "$work/runs" --output.name "$name" --model.init_from "$work/$name" \
    --model.vocab_size 260 --model.d_model 64 --model.n_layers 4 --model.n_heads 4 --model.n_kv_heads 2 \
    --model.ffn_hidden 192 --model.max_seq_len 64 --model.norm_eps 1e-5 --model.tie_embeddings "$tie" \
    --model.rope_theta "$theta" --training.seq_len 32 --training.global_batch_size "$samples" \
    --training.micro_batch_size "$micro" --training.max_steps 1 --training.learning_rate 0 \
    --training.warmup_steps 0 --training.log_interval 1 --training.eval_interval 0 --checkpoint.save_interval 0 \
    --parallel.collective_timeout_s 60 "$@" >"$work/$name.out" 2>&1 ||
    { tail -20 "$work/$name.out"; fail "$name: nf-train"; }
  grep -q "initial weights from model.init_from" "$work/$name.out" || fail "$name: nf-train did not log the import"
  $py - "$work/runs/$name/metrics.jsonl" "$loss" "$name" "$(tail -1 "$work/$name.py.err")" <<'PY' ||
import json, sys
nf = next(json.loads(line)["loss"] for line in open(sys.argv[1]) if '"loss"' in line)
reference = float(sys.argv[2])
error = abs(nf - reference) / abs(reference)
print(f"{sys.argv[3]:<22} nf step-1 loss {nf:.9f}, transformers {reference:.9f}: {error:.2e}  ({sys.argv[4]})")
sys.exit(0 if error <= 1e-5 else 1)
PY
    fail "$name: nf's loss of the imported model differs from transformers'"
}

imported untied_tp2_pp2 4 false 10000 --parallel.tp 2 --parallel.pp 2
imported tied_theta5e5_tp2 2 true 500000 --parallel.tp 2
echo "ok"
