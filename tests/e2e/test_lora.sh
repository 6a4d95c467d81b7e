#!/usr/bin/env bash
# LoRA (issue 19), on the tiny 4-layer model of tiny_model.sh: a base pretrained 10 steps, then
# LoRA (rank 4 on every projection) trained from it with training.load_from:
#   - the layout gate: dp 2 ZeRO 1, tp 2, tp 2 + sequence parallelism, pp 2, dp 2 × tp 2 ZeRO 2
#     reproduce one rank's losses (1e-5);
#   - the checkpoint holds the adapters only and pins its base (meta.json's lora_base); resumed at
#     step 10 on tp 2 (resharded) it reproduces steps 11-20, and so it does on its pinned base after
#     the base run trained on (its latest moved);
#   - export-hf --merge-lora and export-peft, read by transformers and peft (check_lora.py): the
#     adapter on the exported base, the merged model and nf's forward give the same logits;
#   - DPO with LoRA: its reference is the base (the policy with its adapters off): step 1's loss is
#     ln 2 with rewards 0, and the rewards move after;
#   - refused: a target that matches no module, dropout, ZeRO 3, LoRA without a base, a resume
#     with another rank, a plain export of a LoRA checkpoint, and adapters whose base is now another
#     model.
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"

run base 1 --training.max_steps 10
lora=(--training.load_from "$work/runs/base" --model.lora.rank 4 --model.lora.alpha 8 --training.learning_rate 3e-3)
run lora_1 1 "${lora[@]}"
grep -q "loaded weights from .*runs/base/checkpoints/step_10" "$work/lora_1.out" || fail "lora_1 did not load the base"
# The adapters learn: the validation loss at step 20 is below the base's at step 10.
read -r base_val lora_val < <(echo "$(awk '$1 == "val" {v = $3} END {print v}' "$work/base.losses")" \
  "$(awk '$1 == "val" {v = $3} END {print v}' "$work/lora_1.losses")")
awk -v b="$base_val" -v l="$lora_val" 'BEGIN {exit !(l < b)}' || fail "LoRA: val loss $lora_val, not below the base's $base_val"
echo "LoRA from the base: val loss $base_val -> $lora_val"
echo "layout                           loss      grad_norm val_loss"
for layout in "lora_dp2_z1 2 --parallel.zero 1" "lora_tp2 2 --parallel.tp 2" \
  "lora_tp2_sp 2 --parallel.tp 2 --parallel.sequence_parallel true" "lora_pp2 2 --parallel.pp 2" \
  "lora_dp2_tp2_z2 4 --parallel.tp 2 --parallel.zero 2"; do
  read -r name ranks flags <<<"$layout"
  # shellcheck disable=SC2086  # flags are words
  run "$name" "$ranks" "${lora[@]}" $flags
  compare lora_1 "$name" || fail "$name strays from one rank"
done

# The checkpoint: adapters only, 4 layers x 7 projections x (A, B).
$py - "$work/runs/lora_1/checkpoints/step_20" <<'PY' || fail "the LoRA checkpoint's tensors"
import json, os, sys
from safetensors import safe_open
f = safe_open(os.path.join(sys.argv[1], "model-tp0-pp0.safetensors"), "pt")
names = list(f.keys())
assert len(names) == 4 * 7 * 2 and all(".lora_A." in n or ".lora_B." in n for n in names), names
assert all(f.get_tensor(n).abs().max() > 0 for n in names if ".lora_B." in n), "a B factor is still 0"
print(f"the checkpoint holds {len(names)} adapter tensors (every B trained away from 0) and no base weight")
PY
# Resume at step 10 on tp 2 (resharded): steps 11-20 as the uninterrupted run.
run lora_resumed 2 "${lora[@]}" --parallel.tp 2 --checkpoint.resume "$work/runs/lora_1/checkpoints/step_10"
grep -q "resumed from .*lora_1/checkpoints/step_10 at step 10" "$work/lora_resumed.out" || fail "no resume"
compare lora_1 lora_resumed 10 || fail "the resumed LoRA run strays"

# Exports, read by transformers and peft.
step=$work/runs/lora_1/checkpoints/step_20
"$ckpt" export-hf "$work/runs/base/checkpoints/step_10" "$work/base_hf" --dtype fp32 >/dev/null || fail "base export"
"$ckpt" export-hf "$step" "$work/merged_hf" --dtype fp32 --merge-lora >"$work/merge.out" 2>&1 ||
  { cat "$work/merge.out"; fail "export-hf --merge-lora"; }
"$ckpt" export-peft "$step" "$work/peft" --base "$work/base_hf" >"$work/peft.out" 2>&1 ||
  { cat "$work/peft.out"; fail "export-peft"; }
"$build/tests/nf_checkpoint_logits" "$step" "$work/lora_logits.pt" 2 24 5 >/dev/null || fail "nf's logits of the LoRA run"
$py "$source/tests/python/ecosystem/check_lora.py" "$work/base_hf" "$work/peft" "$work/merged_hf" \
  "$work/lora_logits.pt" || fail "check_lora.py"

# The base is pinned: trained further, the base run's latest moves to step 20, but a resume of the
# LoRA run from its step 10 loads the step-10 base its meta.json names, and reproduces steps 11-20.
grep -q '"lora_base": ".*/runs/base/checkpoints/step_10"' "$step/meta.json" || fail "meta.json pins no lora_base"
run base 1 --training.max_steps 20 --checkpoint.resume auto
[[ $(cat "$work/runs/base/checkpoints/latest") == step_20 ]] || fail "the base run did not move on to step 20"
run lora_pinned 1 "${lora[@]}" --checkpoint.resume "$work/runs/lora_1/checkpoints/step_10"
grep -q "LoRA base: .*/runs/base/checkpoints/step_10 as pinned by the checkpoint" "$work/lora_pinned.out" ||
  fail "the resume did not go back to the pinned base"
compare lora_1 lora_pinned 10 || fail "the resume on the pinned base strays"

# DPO with LoRA: the reference is the base.
bible -f 'Gen1:1-Gen4:26' | sed 's/^[^ ]* //' >"$work/text.txt"
"$build/tests/write-text-dataset" "$work/text.txt" "$work/dpo" dpo 65536 || fail "dpo dataset"
run lora_dpo 1 "${lora[@]}" --training.objective dpo --data.train_path "$work/dpo" --training.seq_len 64 \
  --training.max_steps 4 --training.eval_interval 0 --training.learning_rate 3e-2
$py - "$work/runs/lora_dpo/metrics.jsonl" <<'PY' || fail "DPO with LoRA"
import json, math, sys
steps = [r for r in map(json.loads, open(sys.argv[1])) if "loss" in r]
assert abs(steps[0]["loss"] - math.log(2)) < 1e-6, steps[0]
assert steps[0]["rewards/margin"] == 0.0, steps[0]
# A reference that kept the adapters on would be the policy itself: rewards 0 at every step.
assert any(r["rewards/chosen"] != 0.0 for r in steps[1:]), steps
print(f"dpo + LoRA: step 1 loss {steps[0]['loss']:.6f} = ln 2 (reference = base), then rewards/chosen "
      + ", ".join(f"{r['rewards/chosen']:.4f}" for r in steps[1:]))
PY

# refused NAME PATTERN FLAGS...: nf-train must stop with a message matching PATTERN.
refused() {
  local name=$1 pattern=$2
  shift 2
  if "$MPIEXEC" -n 2 --oversubscribe "$train" "${common[@]}" --output.name "$name" "$@" >"$work/$name.out" 2>&1; then
    fail "$name was accepted"
  fi
  grep -Eq -e "$pattern" "$work/$name.out" || { tail -5 "$work/$name.out"; fail "$name: no message matching '$pattern'"; }
  echo "refused $name: $(grep -Eo -e "$pattern" "$work/$name.out" | head -1)"
}
refused bad_target "model.lora.target_modules: 'attn' matches no module" "${lora[@]}" \
  --model.lora.target_modules "[q_proj,attn]"
refused dropout "model.lora.dropout is 0.05" "${lora[@]}" --model.lora.dropout 0.05
refused zero3 "model.lora with parallel.zero 3" "${lora[@]}" --parallel.zero 3
refused no_base "model.lora trains adapters beside a frozen model, but neither training.load_from nor model.init_from" \
  --model.lora.rank 4
cp -r "$work/runs/lora_1" "$work/runs/lora_rank8"
refused other_rank "trained with LoRA rank 4, alpha 8 .* but this job has LoRA rank 8" "${lora[@]}" \
  --model.lora.rank 8 --output.name lora_rank8 --checkpoint.resume auto
if "$ckpt" export-hf "$step" "$work/plain_hf" >"$work/plain.out" 2>&1; then fail "a plain export of LoRA was accepted"; fi
grep -q "holds LoRA adapters only: export them merged into their base with --merge-lora" "$work/plain.out" ||
  { cat "$work/plain.out"; fail "the plain export's message"; }
echo "refused a plain export: $(grep -o "holds LoRA adapters only[^,]*" "$work/plain.out")"
# The base the adapters reference, replaced by another model (d_model 32): refused, naming both.
mv "$work/runs/base" "$work/base_saved"
run base 1 --training.max_steps 10 --model.d_model 32 --model.n_heads 2 --model.n_kv_heads 1
if "$ckpt" export-hf "$step" "$work/other_hf" --merge-lora >"$work/other.out" 2>&1; then
  fail "adapters merged into another base"
fi
grep -q "were trained on another model than their base .*runs/base.* model.d_model = 32 but this job has model.d_model = 64" \
  "$work/other.out" || { cat "$work/other.out"; fail "the message for adapters of another base"; }
echo "refused adapters for another base: $(grep -o "model.d_model = 32 but [^;]*" "$work/other.out")"
echo "ok"
