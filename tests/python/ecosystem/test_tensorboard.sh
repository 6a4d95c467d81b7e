#!/usr/bin/env bash
# TensorBoard's own reader over nf-train's event files (issue 15), on byte-token datasets of
# Genesis 1-4 and a tiny model: a pretraining run (3 steps, validation at step 2, peak_tflops set
# so perf/mfu is written) resumed to step 4 (a second event file, validation at step 4), and a
# DPO run (2 steps: rewards/*, val/rewards/*). check_tensorboard.py reads each run's tensorboard/
# with EventAccumulator and finds every tag and value of its metrics.jsonl and every tag
# docs/training.md documents.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/preamble.sh"

bible -f 'Gen1:1-Gen4:26' | sed 's/^[^ ]* //' >"$work/text.txt" || fail "bible (bible-kjv) is not installed"
for format in pretrain dpo; do
  "$build/tests/write-text-dataset" "$work/text.txt" "$work/$format" $format 65536 5 || fail "$format dataset"
done
common=(--config "$source/configs/tiny.yaml" --output.dir "$work/runs" --model.vocab_size 260 --model.d_model 32
  --model.n_layers 2 --model.n_heads 2 --model.n_kv_heads 1 --model.max_seq_len 512 --training.warmup_steps 1
  --training.log_interval 1 --training.eval_steps 1 --checkpoint.save_interval 0)
"$build/src/nf-train" "${common[@]}" --output.name pretrain --data.train_path "$work/pretrain" --training.seq_len 32 \
  --training.micro_batch_size 4 --training.global_batch_size 4 --training.max_steps 3 --training.eval_interval 2 \
  --training.peak_tflops 1 >"$work/pretrain.out" 2>&1 || { tail -20 "$work/pretrain.out"; fail "pretrain run"; }
# Resumed from its step-3 checkpoint to step 4: a second event file in the same directory.
"$build/src/nf-train" "${common[@]}" --output.name pretrain --data.train_path "$work/pretrain" --training.seq_len 32 \
  --training.micro_batch_size 4 --training.global_batch_size 4 --training.max_steps 4 --training.eval_interval 2 \
  --training.peak_tflops 1 --checkpoint.resume auto >"$work/resumed.out" 2>&1 ||
  { tail -20 "$work/resumed.out"; fail "the resumed pretraining run"; }
grep -q "resumed from .* at step 3" "$work/resumed.out" || fail "the pretraining run did not resume from step 3"
[[ $(ls "$work/runs/pretrain/tensorboard" | wc -l) -eq 2 ]] || fail "the resumed run did not add an event file"
"$build/src/nf-train" "${common[@]}" --output.name dpo --data.train_path "$work/dpo" --training.objective dpo \
  --training.seq_len 512 --training.micro_batch_size 2 --training.global_batch_size 2 --training.max_steps 2 \
  --training.eval_interval 2 >"$work/dpo.out" 2>&1 || { tail -20 "$work/dpo.out"; fail "dpo run"; }
$py "${BASH_SOURCE[0]%/*}/check_tensorboard.py" "$source/docs/training.md" "$work/runs/pretrain" "$work/runs/dpo" ||
  fail "TensorBoard's EventAccumulator does not find what nf wrote"
echo "ok"
