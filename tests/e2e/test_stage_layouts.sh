#!/usr/bin/env bash
# The SFT and DPO losses on every parallel layout (issue #7, #5's equivalence gate extended to the
# stages): a 1-rank pretraining checkpoint (training.load_from, so each layout also loads it into
# its own shards), then 6 SFT steps (response tokens only) and, separately, 6 DPO steps (label
# smoothing 0.1) on dp 2 (ZeRO 1), tp 2, tp 2 with sequence parallelism, pp 2 (1F1B), dp 2 x tp 2
# and tp 2 x pp 2 (GPipe, ZeRO 0). Each reproduces the single-rank run of its stage:
#  - sft: loss within 1e-5 relative, gradient norm within 1e-3 (as test_layouts.sh); also with
#    training.document_mask (conversations packed in a row attend only to themselves, which moves
#    the losses and gradient norms by more than those tolerances) on tp 2 with sequence
#    parallelism, pp 2 and dp 2 x tp 2 ZeRO 2;
#  - dpo: loss within 1e-5 relative; rewards/chosen, rewards/rejected and rewards/margin within
#    1e-4 of the run's largest reward (a reward is beta times the difference of two fp32 sums of
#    ~50 log-probs, ~150 each: their rounding, ~1e-5 absolute, is ~1e-5 of a reward of 0.5);
#    rewards/accuracy exactly.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
start=$SECONDS

# shellcheck source=tests/e2e/chat_data.sh
source "$(dirname "${BASH_SOURCE[0]}")/chat_data.sh"
chat_data 'Gen1:1-Gen4:26'
for format in sft dpo; do
  "$shard" build --input "$work/chat/$format.jsonl" --tokenizer "$work/pretrain" --format "$format" \
    --out "$work/$format" --val-fraction 0 --quiet >/dev/null || fail "$format dataset"
done

common=(--config "$source/configs/tiny.yaml" --output.dir "$work/runs" --model.vocab_size 320 --model.d_model 64
  --model.n_layers 4 --model.n_heads 4 --model.n_kv_heads 2 --model.max_seq_len 128 --training.seq_len 96
  --training.micro_batch_size 1 --training.global_batch_size 8 --training.warmup_steps 1 --training.log_interval 1
  --training.eval_interval 0 --parallel.collective_timeout_s 60 --parallel.bucket_mb 0.05)
"$train" "${common[@]}" --output.name pretrain --data.train_path "$work/pretrain" --training.max_steps 3 \
  --training.learning_rate 3e-3 >"$work/pretrain.out" 2>&1 || { tail -20 "$work/pretrain.out"; fail "pretrain"; }

stage_flags() {
  local stage=$1
  echo --training.objective "${stage%_masked}" --data.train_path "$work/${stage%_masked}" \
    --training.load_from "$work/runs/pretrain" --training.max_steps 6
  [[ $stage == sft* ]] && echo --training.learning_rate 1e-3
  [[ $stage == sft_masked ]] && echo --training.document_mask true
  [[ $stage == dpo ]] && echo --training.learning_rate 5e-4 --dpo.beta 0.5 --dpo.label_smoothing 0.1
}
# run STAGE NAME RANKS FLAGS...: one run of the stage; its records go to $work/STAGE_NAME.records.
run() {
  local stage=$1 name=$1_$2 ranks=$3
  shift 3
  local run_start=$SECONDS
  # shellcheck disable=SC2046  # stage_flags prints words without spaces
  "$MPIEXEC" -n "$ranks" --oversubscribe "$train" "${common[@]}" $(stage_flags "$stage") --output.name "$name" "$@" \
    >"$work/$name.out" 2>&1 || { tail -30 "$work/$name.out"; fail "$name: nf-train failed"; }
  grep -q "loaded weights from $work/runs/pretrain/checkpoints/step_3" "$work/$name.out" ||
    fail "$name did not load the pretraining checkpoint"
  local keys=loss,grad_norm  # sft, sft_masked
  if [[ $stage == dpo ]]; then keys=loss,rewards/chosen,rewards/rejected,rewards/margin,rewards/accuracy; fi
  metrics_records "$work/runs/$name/metrics.jsonl" --keys "$keys" >"$work/$name.records"
  echo "$name: $((SECONDS - run_start)) s" >>"$work/times"
}

# compare STAGE NAME: one table row; non-zero when NAME strays from the stage's single rank.
compare() { $py - "$work/$1_single.records" "$work/$1_$2.records" "$1 $2" "$1" <<'PY'
import sys
a = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
b = [[float(x) for x in line.split()] for line in open(sys.argv[2])]
if len(a) != 6 or len(b) != 6:
    print(f"{sys.argv[3]:<26} records: {len(a)} vs {len(b)}")
    sys.exit(1)
loss = max(abs(x[1] - y[1]) / abs(x[1]) for x, y in zip(a, b))
if sys.argv[4].startswith("sft"):
    norm = max(abs(x[2] - y[2]) / abs(x[2]) for x, y in zip(a, b))
    ok = loss <= 1e-5 and norm <= 1e-3
    print(f"{sys.argv[3]:<26} {loss:9.2e} {'-':>9} {norm:9.2e}  {'ok' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)
scale = max(abs(v) for row in a for v in row[2:5])
rewards = max(abs(x[i] - y[i]) / scale for x, y in zip(a, b) for i in (2, 3, 4))
accuracy = max(abs(x[5] - y[5]) for x, y in zip(a, b))
ok = loss <= 1e-5 and rewards <= 1e-4 and accuracy == 0
print(f"{sys.argv[3]:<26} {loss:9.2e} {rewards:9.2e} {accuracy:9.2e}  {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
}

run sft single 1
run dpo single 1
$py - "$work/sft_single.records" "$work/dpo_single.records" <<'PY' || fail "a single-rank run did not learn"
import math, sys
sft = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
dpo = [[float(x) for x in line.split()] for line in open(sys.argv[2])]
print(f"single rank: sft loss {sft[0][1]:.6f} -> {sft[-1][1]:.6f}; dpo loss {dpo[0][1]:.6f} -> {dpo[-1][1]:.6f},"
      f" margin {dpo[-1][4]:.4f}, accuracy {dpo[-1][5]:.3f}")
learned = sft[-1][1] < sft[0][1] and abs(dpo[0][1] - math.log(2)) < 1e-6 and dpo[-1][1] < dpo[0][1] and dpo[-1][4] > 0
sys.exit(0 if learned else 1)
PY
failures=0
printf '%-26s %9s %9s %9s\n' "stage layout" loss rewards "accuracy (dpo) / grad norm (sft)"
# sft_masked: sft with training.document_mask (each packed conversation attends only to itself).
run sft_masked single 1
grep -q "attention: within each packed document" "$work/sft_masked_single.out" || fail "no document-mask log line"
# The mask changes the run by more than the tolerances below, so a layout that dropped it would fail.
$py - "$work/sft_single.records" "$work/sft_masked_single.records" <<'PY' || fail "the document mask changed too little"
import sys
plain, masked = ([[float(x) for x in line.split()] for line in open(f)] for f in sys.argv[1:3])
loss = max(abs(a[1] - b[1]) / a[1] for a, b in zip(plain, masked))
norm = max(abs(a[2] - b[2]) / a[2] for a, b in zip(plain, masked))
print(f"sft with and without training.document_mask: losses differ by up to {loss:.2e}, gradient norms by {norm:.2e}")
sys.exit(0 if loss > 1e-5 and norm > 1e-3 else 1)
PY
for layout in tp2_sp pp2_1f1b dp2_tp2; do
  case $layout in
    tp2_sp) flags=(2 --parallel.tp 2 --parallel.sequence_parallel true) ;;
    pp2_1f1b) flags=(2 --parallel.pp 2) ;;
    dp2_tp2) flags=(4 --parallel.tp 2 --parallel.zero 2) ;;
  esac
  run sft_masked "$layout" "${flags[@]}" && compare sft_masked "$layout" || failures=$((failures + 1))
done
for stage in sft dpo; do
  run "$stage" dp2_zero1 2 --parallel.zero 1 && compare "$stage" dp2_zero1 || failures=$((failures + 1))
  run "$stage" tp2 2 --parallel.tp 2 && compare "$stage" tp2 || failures=$((failures + 1))
  run "$stage" tp2_sp 2 --parallel.tp 2 --parallel.sequence_parallel true && compare "$stage" tp2_sp ||
    failures=$((failures + 1))
  run "$stage" pp2_1f1b 2 --parallel.pp 2 && compare "$stage" pp2_1f1b || failures=$((failures + 1))
  run "$stage" dp2_tp2 4 --parallel.tp 2 && compare "$stage" dp2_tp2 || failures=$((failures + 1))
  # Recomputation and ZeRO 3 (issue #17) under both objectives: DPO's frozen reference runs plainly.
  run "$stage" dp2_pp2_zero3_full 4 --parallel.pp 2 --parallel.zero 3 --training.recompute full &&
    compare "$stage" dp2_pp2_zero3_full || failures=$((failures + 1))
  run "$stage" tp2_pp2_gpipe 4 --parallel.tp 2 --parallel.pp 2 --parallel.pp_schedule gpipe &&
    compare "$stage" tp2_pp2_gpipe || failures=$((failures + 1))
done
cat "$work/times"
[[ $failures -eq 0 ]] || fail "$failures runs differ from the single rank"
echo "PASS: SFT (also document-masked) and DPO on dp 2, tp 2 (with and without sequence parallelism), pp 2, dp 2 x tp 2," \
  "dp 2 x pp 2 with ZeRO 3 and full recomputation, and tp 2 x pp 2" \
  "reproduce the single-rank runs ($((SECONDS - start)) s)"
