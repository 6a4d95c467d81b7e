#!/usr/bin/env bash
# nf-generate against transformers' generate (issue 19), on the ecosystem fixture's checkpoints
# (prepare_checkpoints.sh: 4-layer models of a 301-id BPE; untied_gqa_tp2 saved at tp 2 with a
# padded vocabulary, tied_mha_pp2 saved at pp 2 with tied embeddings). Each case is generated
# greedily from a checkpoint on one rank (prompts of several lengths, left-padded in batches of 3,
# log-probabilities recorded), and check_generate.py compares, prompt by prompt:
#   transformers' greedy generate on the case's export     token for token
#   the same checkpoint at tp 2 (mpirun -n 2)               token for token
#   no KV cache (the whole sequence every step)             tokens, log-probabilities within 1e-5
#   batches of 1 instead of 3, and the export directory     token for token
#   transformers' log-softmax of the generated sequence     within 1e-4
# then sampling: the same seed twice is identical, at tp 2 and in batches of 1 too; top-k 1 is
# greedy; a conversation prompt gets the chat template's tokens; and three bad inputs are refused
# with a message that names them.
# Usage: test_generate.sh BUILD_DIR SOURCE_DIR FIXTURE_DIR
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/preamble.sh"
fixture=${3:?usage: test_generate.sh BUILD_DIR SOURCE_DIR FIXTURE_DIR}
generate=$build/src/nf-generate

cat >"$work/prompts.jsonl" <<'JSONL'
{"prompt": "In the beginning"}
{"prompt": "And God said, Let there be light: and there was light."}
{"prompt": "And"}
{"prompt": "And the earth was without form, and void; and darkness was upon the face of the deep."}
{"prompt": "These are the generations of Noah"}
JSONL

# gen NAME RANKS ARGS...: nf-generate's JSONL in $work/NAME.jsonl.
gen() {
  local name=$1 ranks=$2
  shift 2
  "$MPIEXEC" -n "$ranks" --oversubscribe "$generate" --prompts "$work/prompts.jsonl" --out "$work/$name.jsonl" "$@" \
    >"$work/$name.out" 2>&1 || { cat "$work/$name.out"; fail "$name: nf-generate failed"; }
}

for case in untied_gqa_tp2 tied_mha_pp2; do
  step=$fixture/runs/$case/checkpoints/step_3
  greedy=(--model "$step" --max-new-tokens 12 --batch-size 3 --logprobs)
  gen "$case.greedy" 1 "${greedy[@]}"
  gen "$case.tp2" 2 "${greedy[@]}" --parallel.tp 2
  gen "$case.nocache" 1 "${greedy[@]}" --no-kv-cache
  gen "$case.batch1" 1 "${greedy[@]}" --batch-size 1
  gen "$case.hfdir" 1 --model "$fixture/$case/hf" --max-new-tokens 12 --batch-size 3
  sampled=(--model "$step" --max-new-tokens 12 --batch-size 3 --temperature 0.9 --top-k 50 --top-p 0.95 --seed 7)
  gen "$case.sampled" 1 "${sampled[@]}"
  gen "$case.sampled_again" 1 "${sampled[@]}"
  gen "$case.sampled_tp2" 2 "${sampled[@]}" --parallel.tp 2
  gen "$case.sampled_batch1" 1 "${sampled[@]}" --batch-size 1
  gen "$case.sampled_seed8" 1 "${sampled[@]}" --seed 8
  gen "$case.top1" 1 --model "$step" --max-new-tokens 12 --batch-size 3 --temperature 1 --top-k 1
done

# A conversation, through the nf template (the fixture's tokenizer has nf's role tokens).
step=$fixture/runs/untied_gqa_tp2/checkpoints/step_3
echo '{"messages": [{"role": "user", "content": "Who made the heaven?"}]}' >"$work/chat.jsonl"
"$generate" --model "$step" --prompts "$work/chat.jsonl" --chat-template nf --max-new-tokens 4 --out "$work/chat.out.jsonl" \
  >"$work/chat.log" 2>&1 || { cat "$work/chat.log"; fail "a conversation prompt failed"; }

# refused WHAT PATTERN ARGS...: nf-generate must fail with a message matching PATTERN.
refused() {
  local what=$1 pattern=$2
  shift 2
  if "$generate" --model "$step" "$@" >"$work/refused.out" 2>&1; then fail "$what was accepted"; fi
  grep -Eq -e "$pattern" "$work/refused.out" || { cat "$work/refused.out"; fail "$what: no message matching '$pattern'"; }
  echo "refused $what: $(grep -E -e "$pattern" "$work/refused.out" | head -1)"
}
long=$(printf 'And God saw the light, that it was good. %.0s' {1..20})
refused "a prompt longer than the context" "--prompt 1: the prompt is [0-9]+ tokens.*model.max_seq_len\) is 64" \
  --prompt "$long"
refused "an unknown chat template" "--chat-template: unknown chat template 'vicuna'" --prompts "$work/chat.jsonl" --chat-template vicuna
echo '{"prompt": 3}' >"$work/bad.jsonl"
refused "a prompt that is not text" "bad.jsonl:1: \"prompt\" is a number, expected a string" --prompts "$work/bad.jsonl"
refused "a conversation without a template" "chat.jsonl:1: a conversation needs a chat template" \
  --prompts "$work/chat.jsonl"

OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$py" "$source/tests/python/ecosystem/check_generate.py" "$fixture" "$work" ||
  fail "check_generate.py"
