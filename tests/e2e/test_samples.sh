#!/usr/bin/env bash
# training.sample (issue 19): completions written while training do not change training. On a
# 320-id BPE pretraining dataset of Genesis and the sft dataset of scripts/prepare_chat_data.sh
# (chat_data.sh), the tiny 4-layer model trains 12 steps:
#   - with samples every 4 steps (temperature 0.8), the losses equal the run without, bit for bit,
#     and samples.jsonl holds each prompt at steps 4, 8, 12 (TensorBoard text: test_tensorboard.sh);
#   - at tp 2 and at dp 2 with ZeRO 3 (parameters gathered for sampling, released after), the
#     losses match one rank's (1e-5) and the samples are the same text;
#   - an sft run samples a conversation prompt through the dataset's chat template;
#   - sampling with parallel.pp 2, with sequence parallelism, or without a prompts file, is refused
#     before training.
# shellcheck source=tests/e2e/chat_data.sh
source "$(dirname "${BASH_SOURCE[0]}")/chat_data.sh"
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"
chat_data 'Gen1:1-Gen11:32'
"$shard" build --input "$work/chat/sft.jsonl" --tokenizer "$work/pretrain" --format sft --out "$work/sft" \
  --val-fraction 0 --quiet >/dev/null || fail "sft dataset"

cat >"$work/prompts.jsonl" <<'JSONL'
{"prompt": "In the beginning God"}
{"prompt": "And Noah"}
{"prompt": "And the LORD said unto"}
JSONL
common+=(--data.train_path "$work/pretrain" --model.vocab_size 320 --training.max_steps 12
  --training.eval_interval 0 --checkpoint.save_interval 0)
sampling=(--training.sample.interval 4 --training.sample.prompts_file "$work/prompts.jsonl"
  --training.sample.max_new_tokens 10 --training.sample.temperature 0.8)

run plain 1
run sampled 1 "${sampling[@]}"
cmp -s "$work/plain.losses" "$work/sampled.losses" || {
  diff "$work/plain.losses" "$work/sampled.losses" | head
  fail "sampling changed the losses"
}
echo "1 rank: the losses with samples equal those without, bit for bit"
[[ ! -e $work/runs/plain/samples.jsonl ]] || fail "a run without training.sample wrote samples.jsonl"

# samples_of NAME: "step index prompt ▸ completion" per sample.
samples_of() {
  $py -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["step"], r["index"], r["finish_reason"], len(r["tokens"]), repr(r["prompt"]), "▸", repr(r["completion"]))
' "$work/runs/$1/samples.jsonl"
}
samples_of sampled >"$work/sampled.samples" || fail "samples.jsonl of the sampled run is not JSONL"
cat "$work/sampled.samples"
[[ $(awk '{print $1}' "$work/sampled.samples" | tr '\n' ' ') == "4 4 4 8 8 8 12 12 12 " ]] ||
  fail "samples.jsonl does not hold the 3 prompts at steps 4, 8 and 12"
[[ $(awk '$1 == 12' "$work/sampled.samples") != $(awk '$1 == 4' "$work/sampled.samples" | sed 's/^4/12/') ]] ||
  fail "the samples at step 12 are those of step 4"
grep -q "step 4 | samples: 3 written" "$work/sampled.out" || fail "no log line for the samples"
# TensorBoard's own reader finds each sample as Text-tab markdown, "**prompt**completion".
$py - "$work/runs/sampled" <<'PY' || fail "TensorBoard does not read the samples as text"
import json, os, sys
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util
run = sys.argv[1]
acc = event_accumulator.EventAccumulator(os.path.join(run, "tensorboard"), size_guidance={"tensors": 0})
acc.Reload()
records = [json.loads(line) for line in open(os.path.join(run, "samples.jsonl"))]
tags = sorted(acc.Tags()["tensors"])
assert tags == ["samples/0", "samples/1", "samples/2"], tags
for r in records:
    tag = f"samples/{r['index']}"
    assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "text", acc.SummaryMetadata(tag)
    event = next(e for e in acc.Tensors(tag) if e.step == r["step"])
    text = tensor_util.make_ndarray(event.tensor_proto).item().decode()
    assert text.startswith("**" + r["prompt"] + "**" + r["completion"]), (text, r)
print(f"TensorBoard: {len(records)} samples as text under {', '.join(tags)}")
PY

for layout in "tp2 2 --parallel.tp 2" "dp2_zero3 2 --parallel.zero 3"; do
  read -r name ranks flags <<<"$layout"
  # shellcheck disable=SC2086  # flags are words
  run "$name" "$ranks" "${sampling[@]}" $flags
  compare plain "$name" || fail "$name with samples strays from one rank"
  samples_of "$name" | cmp -s - "$work/sampled.samples" || {
    samples_of "$name" | diff "$work/sampled.samples" - | head
    fail "$name's samples differ from one rank's"
  }
  echo "$name: the samples equal one rank's"
done

# An sft run samples a conversation through the dataset's chat template (nf: <|user|> ... <|assistant|>).
echo '{"messages": [{"role": "user", "content": "Continue the verse Ge1:3: And God said"}]}' >"$work/chat.jsonl"
run sft 1 --data.train_path "$work/sft" --training.objective sft --training.max_steps 2 \
  --training.sample.interval 2 --training.sample.prompts_file "$work/chat.jsonl" --training.sample.max_new_tokens 6
$py -c '
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["prompt"] == "user: Continue the verse Ge1:3: And God said", r
assert r["step"] == 2 and 1 <= len(r["tokens"]) <= 6, r
' "$work/runs/sft/samples.jsonl" || fail "the sft run's conversation sample"
echo "sft: a conversation sample through the chat template"

# refused NAME PATTERN FLAGS...: nf-train must stop before training with a message matching PATTERN.
refused() {
  local name=$1 pattern=$2
  shift 2
  if "$MPIEXEC" -n 2 --oversubscribe "$train" "${common[@]}" --output.name "$name" "$@" >"$work/$name.out" 2>&1; then
    fail "$name was accepted"
  fi
  grep -Eq "$pattern" "$work/$name.out" || { tail -5 "$work/$name.out"; fail "$name: no message matching '$pattern'"; }
  echo "refused $name: $(grep -Eo "$pattern.*" "$work/$name.out" | head -1 | cut -c1-120)"
}
refused sample_pp2 "training.sample runs the whole model on each rank, but parallel.pp is 2" "${sampling[@]}" \
  --parallel.pp 2
refused sample_no_prompts "training.sample.prompts_file is empty" --training.sample.interval 4
refused sample_sp "training.sample generates one token at a time, which sequence parallelism cannot split" \
  "${sampling[@]}" --parallel.tp 2 --parallel.sequence_parallel true
