#!/usr/bin/env bash
# Chained stages (issue #7) as a user runs them, on Genesis: a BPE trained by nf-shard, a pretrain
# dataset, and sft/dpo datasets built by nf-shard from scripts/prepare_chat_data.sh's JSONL. One
# config lists pretrain -> sft -> dpo (stages:); one nf-train run trains all three:
#  - each stage writes runs/<task>/<stage>/ and ends at its max_steps;
#  - sft starts from pretrain's final weights: its first loss equals, within 1e-5, a float64 PyTorch
#    cross-entropy over the response tokens only (found from the template, not nf-shard's mask) of
#    the whole epoch under pretrain's final checkpoint (tests/python/stages_reference.py);
#  - dpo starts from sft's final weights, which are also its reference: step 1 has loss ln 2 and
#    zero rewards; step 2's loss and rewards/* equal the reference DPO (label smoothing 0.1) of the
#    step-1 policy against sft's final checkpoint; started with model.init_from instead of
#    training.load_from, its reference is that checkpoint too (step 1 again ln 2);
#  - re-running the job skips the three completed stages; with dpo's run removed it trains dpo again
#    from sft's checkpoint and reproduces its losses bit for bit;
#  - errors name the key: a template the tokenizer lacks (nf-shard, exit 2), a dataset of another
#    format than training.objective (exit 2), a training.load_from that does not exist (exit 4).
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
start=$SECONDS

# Data. The sft and dpo datasets take the pretraining dataset's tokenizer (--tokenizer DATASET).
# shellcheck source=tests/e2e/chat_data.sh
source "$(dirname "${BASH_SOURCE[0]}")/chat_data.sh"
chat_data 'Gen1:1-Gen11:32'
for format in sft dpo; do
  "$shard" build --input "$work/chat/$format.jsonl" --tokenizer "$work/pretrain" --format $format --out "$work/$format" \
    --val-fraction 0.1 --seed 3 --quiet >/dev/null || fail "$format dataset"
done
"$shard" inspect "$work/sft" | grep -q "format sft, .*, chat template nf" || fail "inspect shows no chat template"
# One step = one whole epoch (every sft sample, every dpo pair), so the references need no sample order.
read -r sft_samples dpo_pairs < <($py -c '
import json, sys
train = lambda d: json.load(open(d + "/manifest.json"))["splits"]["train"]
print((train(sys.argv[1])["tokens"] - 1) // 64, train(sys.argv[2])["documents"])' "$work/sft" "$work/dpo")

cat >"$work/chain.yaml" <<EOF
inherit: $source/configs/tiny.yaml
model: {vocab_size: 320, d_model: 64, n_layers: 2, n_heads: 4, n_kv_heads: 2, max_seq_len: 160}
training: {seq_len: 64, micro_batch_size: 2, global_batch_size: 8, learning_rate: 3.0e-3, warmup_steps: 2,
           log_interval: 1, eval_interval: 0}
output: {dir: $work/runs, name: chain}
stages:
  - name: pretrain
    training: {max_steps: 12}
    data: {train_path: $work/pretrain}
  - name: sft
    training: {objective: sft, max_steps: 4, micro_batch_size: $sft_samples, global_batch_size: $sft_samples,
               learning_rate: 1.0e-3, eval_interval: 2, eval_steps: 1}
    data: {train_path: $work/sft}
  - name: dpo
    training: {objective: dpo, max_steps: 3, seq_len: 160, micro_batch_size: $dpo_pairs, global_batch_size: $dpo_pairs,
               learning_rate: 1.0e-3, warmup_steps: 1, eval_interval: 3, eval_steps: 1}
    dpo: {beta: 0.2, label_smoothing: 0.1}
    checkpoint: {save_interval: 1}
    data: {train_path: $work/dpo}
EOF

# 1. The chain.
chain_start=$SECONDS
"$train" --config "$work/chain.yaml" >"$work/chain.out" 2>&1 || { tail -30 "$work/chain.out"; fail "the chain"; }
echo "the chain (12 + 4 + 3 steps) took $((SECONDS - chain_start)) s"
runs=$work/runs/chain
for stage_steps in pretrain:12 sft:4 dpo:3; do
  stage=${stage_steps%:*} steps=${stage_steps#*:}
  for f in config.yaml logs/train.log metrics.jsonl; do [[ -s $runs/$stage/$f ]] || fail "missing $runs/$stage/$f"; done
  [[ $(cat "$runs/$stage/checkpoints/latest" 2>/dev/null) == step_$steps ]] || fail "$stage did not end at step $steps"
done
grep -q "loaded weights from $runs/pretrain/checkpoints/step_12 (training.load_from" "$work/chain.out" ||
  fail "sft did not load pretrain's final checkpoint"
grep -q "dpo: reference model from $runs/sft/checkpoints/step_4" "$work/chain.out" ||
  fail "dpo's reference is not sft's final checkpoint"
grep -q 'INFO step 2 | loss [0-9.]* | rewards/chosen -\?[0-9.]* | rewards/rejected .* | rewards/accuracy .*% | rewards/margin ' \
  "$runs/dpo/logs/train.log" || fail "no rewards in dpo's log line"
grep '"val_loss"' "$runs/dpo/metrics.jsonl" | grep -q '"val_rewards/accuracy"' ||
  fail "dpo logged no validation loss and rewards"
$py "$source/tests/python/read_tfevents.py" "$runs"/dpo/tensorboard/events.out.tfevents.* >"$work/dpo.tfevents" ||
  fail "dpo's TensorBoard file"
for tag in rewards/chosen rewards/rejected rewards/accuracy rewards/margin; do
  grep -q "^3 $tag " "$work/dpo.tfevents" || fail "no TensorBoard scalar $tag at step 3"
done
echo "PASS: pretrain -> sft -> dpo wrote runs/chain/{pretrain,sft,dpo} and each loaded the one before"

# 2. The sft loss is the masked cross-entropy under pretrain's final weights.
PYTHONPATH=$source/tests/python $py "$source/tests/python/stages_reference.py" sft "$work/sft" \
  "$runs/pretrain/checkpoints/step_12" "$runs/sft" 1 || fail "sft's first loss differs from the reference"

# 3. dpo: policy = reference at step 1; step 2 against the reference computation.
$py - "$runs/dpo/metrics.jsonl" <<'PY' || fail "dpo step 1 is not ln 2 with zero rewards"
import json, math, sys
first = [json.loads(line) for line in open(sys.argv[1]) if '"loss"' in line][0]
print(f"dpo step 1: loss {first['loss']:.9f} (ln 2 = {math.log(2):.9f}), rewards/chosen {first['rewards/chosen']}, "
      f"rewards/rejected {first['rewards/rejected']}")
assert abs(first["loss"] - math.log(2)) < 1e-6 and first["rewards/chosen"] == 0 and first["rewards/rejected"] == 0
PY
PYTHONPATH=$source/tests/python $py "$source/tests/python/stages_reference.py" dpo "$work/dpo" \
  "$runs/dpo/checkpoints/step_1" "$runs/sft/checkpoints/step_4" "$runs/dpo" 2 ||
  fail "dpo's step 2 differs from the reference"
echo "PASS: sft's loss counts the response tokens only; dpo's loss and rewards match the reference"
sed '/^stages:/,$d' "$work/chain.yaml" >"$work/single.yaml"  # the chain's shared keys, one run
single=(--config "$work/single.yaml" --output.name single --training.max_steps 2 --training.warmup_steps 0)
# DPO from model.init_from instead of training.load_from: the reference starts from the same weights.
"$train" "${single[@]}" --output.name dpo_init_from --training.objective dpo --data.train_path "$work/dpo" \
  --training.seq_len 160 --training.micro_batch_size "$dpo_pairs" --training.global_batch_size "$dpo_pairs" \
  --model.init_from "$runs/sft/checkpoints/step_4" >"$work/dpo_init_from.out" 2>&1 ||
  { tail -20 "$work/dpo_init_from.out"; fail "dpo from model.init_from"; }
grep -q "dpo: reference model from $runs/sft/checkpoints/step_4" "$work/dpo_init_from.out" ||
  fail "dpo's reference does not start from model.init_from"
$py - "$work/runs/dpo_init_from/metrics.jsonl" <<'PY' || fail "dpo from model.init_from: step 1 is not ln 2"
import json, math, sys
first = [json.loads(line) for line in open(sys.argv[1]) if '"loss"' in line][0]
assert abs(first["loss"] - math.log(2)) < 1e-6 and first["rewards/chosen"] == 0, first
PY
echo "PASS: dpo from model.init_from: the reference is the initial policy (step 1: loss ln 2, zero rewards)"

# 4. Re-running skips the complete stages; without dpo's run, dpo trains again from sft's checkpoint.
sums() { md5sum "$runs"/*/metrics.jsonl; }
before=$(sums)
"$train" --config "$work/chain.yaml" --resume auto >"$work/again.out" 2>&1 || { tail -20 "$work/again.out"; fail "re-run"; }
for stage in pretrain sft dpo; do
  grep -q "stage $stage: complete ($runs/$stage/checkpoints/step_[0-9]* is at training.max_steps); skipping" \
    "$work/again.out" || fail "the re-run did not skip $stage"
done
! grep -q "INFO step 1 |" "$work/again.out" || fail "the re-run trained"
[[ $(sums) == "$before" ]] || fail "the re-run changed metrics.jsonl"
mv "$runs/dpo" "$work/dpo_first"
"$train" --config "$work/chain.yaml" --resume auto >"$work/dpo_again.out" 2>&1 ||
  { tail -20 "$work/dpo_again.out"; fail "re-run without dpo"; }
grep -q "stage sft: complete" "$work/dpo_again.out" && grep -q "stage dpo: layout" "$work/dpo_again.out" ||
  fail "the re-run did not skip sft and train dpo"
cmp <(metrics_records "$work/dpo_first/metrics.jsonl" --keys loss) <(metrics_records "$runs/dpo/metrics.jsonl" --keys loss) ||
  fail "dpo trained again differs from the first run"
echo "PASS: a re-run skips the complete stages; dpo alone again reproduces its losses bit for bit"
# 5. Errors.
expect_error() {  # CODE MESSAGE COMMAND...: the command fails with CODE and prints MESSAGE
  local code=$1 message=$2
  shift 2
  "$@" >"$work/error.out" 2>&1
  local got=$?
  [[ $got -eq $code ]] && grep -qF -- "$message" "$work/error.out" ||
    { cat "$work/error.out"; fail "expected exit $code and '$message', got exit $got"; }
}
expect_error 2 "chat template chatml needs the special token <|im_start|>, and the bpe tokenizer" \
  "$shard" build --input "$work/chat/sft.jsonl" --tokenizer "$work/pretrain" --format sft --chat-template chatml \
  --out "$work/chatml" --quiet
expect_error 2 "training.objective sft trains on sft data, but '$work/pretrain' is a pretrain dataset" \
  "$train" "${single[@]}" --training.objective sft --data.train_path "$work/pretrain"
expect_error 4 "training.load_from: no checkpoint at '$work/runs/nowhere' or 'nowhere'" \
  "$train" "${single[@]}" --training.stage sft --data.train_path "$work/sft" --training.load_from nowhere
"$train" --config "$work/chain.yaml" --print-config >"$work/print.out" 2>&1 &&
  [[ $(grep -c "^# stage \(pretrain\|sft\|dpo\) ($runs/" "$work/print.out") -eq 3 ]] ||
  { cat "$work/print.out"; fail "--print-config does not print the three stages"; }
echo "PASS: a missing template marker, a dataset of another format and a missing load_from fail naming the key"
echo "test_stages: $((SECONDS - start)) s"
