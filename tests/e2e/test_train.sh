#!/usr/bin/env bash
# nf-train as a user runs it, on a byte-level dataset of the KJV bible (vocab 260):
#  - a 12-step run writes config.yaml, logs/train.log, metrics.jsonl, tensorboard/, checkpoints,
#    and its loss falls;
#  - resuming from the step-6 checkpoint reproduces steps 7..12 bit for bit, and resuming the
#    finished run trains nothing and exits 0; a truncated checkpoint is caught by its checksum and
#    --resume auto falls back to the previous one;
#  - dp 2 (ZeRO 0, 1, 2), tp 2 and tp 2 x dp 2 reproduce the single-rank losses within 1e-5 relative;
#  - SIGTERM mid-run saves a checkpoint and exits 75; --resume auto continues from it;
#  - NaN losses skip updates and training.max_bad_steps of them exit 7;
#  - a missing dataset or a too-small model vocabulary fail with exit 2/3 and a named file.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"

genesis_bytes "$work/data"

common=(--config "$source/configs/tiny.yaml" --data.train_path "$work/data" --output.dir "$work/runs"
  --model.vocab_size 260 --model.d_model 64 --model.n_layers 2 --model.n_heads 4 --model.n_kv_heads 2
  --model.max_seq_len 64 --training.seq_len 32 --training.micro_batch_size 2 --training.global_batch_size 8
  --training.max_steps 12 --training.warmup_steps 2 --training.learning_rate 3e-3 --training.log_interval 1
  --training.eval_interval 6 --training.eval_steps 2 --checkpoint.save_interval 6)

# The losses of a run's metrics.jsonl, one "step loss grad_norm lr" line each (%.17g: every bit).
losses() { metrics_records "$1" --keys loss,grad_norm,lr; }

# 1. A full run.
"$train" "${common[@]}" --output.name full >"$work/full.out" 2>&1 || { cat "$work/full.out"; fail "full run"; }
run=$work/runs/full
for f in config.yaml logs/train.log metrics.jsonl checkpoints/latest checkpoints/step_6/meta.json checkpoints/step_12/meta.json; do
  [[ -s $run/$f ]] || fail "missing $run/$f"
done
ls "$run"/tensorboard/events.out.tfevents.* >/dev/null || fail "no TensorBoard event file"
[[ $(cat "$run/checkpoints/latest") == step_12 ]] || fail "latest is $(cat "$run/checkpoints/latest")"
grep -q '^\[rank 0/1\] .* INFO step 12 | loss [0-9.]* | lr .* | grad_norm .* | tokens/s [0-9,]* | GFLOP/s .* | compute .*% | comm .*% | bubble .*% | data_wait .*%$' \
  "$run/logs/train.log" || fail "no step 12 log line in train.log"
grep -q 'val_loss' "$run/metrics.jsonl" || fail "no validation record"
losses "$run/metrics.jsonl" >"$work/full.losses"
[[ $(wc -l <"$work/full.losses") -eq 12 ]] || fail "expected 12 loss records"
$py - "$work/full.losses" <<'PY' || fail "loss did not fall"
import math, sys
rows = [line.split() for line in open(sys.argv[1])]
first, last = float(rows[0][1]), float(rows[-1][1])
print(f"loss {first:.4f} -> {last:.4f} (ln 260 = {math.log(260):.4f})")
sys.exit(0 if abs(first - math.log(260)) < 0.5 and last < first - 0.5 else 1)
PY
echo "PASS: full run, outputs present, loss falls"

# 2. Resume from step 6 reproduces steps 7..12 exactly.
cp -r "$run" "$work/runs/resumed"
rm -r "$work/runs/resumed/checkpoints/step_12"
echo step_6 >"$work/runs/resumed/checkpoints/latest"
"$train" "${common[@]}" --output.name resumed --resume auto >"$work/resumed.out" 2>&1 || { cat "$work/resumed.out"; fail "resume"; }
grep -q 'resumed from .*step_6 at step 6' "$work/resumed.out" || fail "did not resume from step 6"
losses "$work/runs/resumed/metrics.jsonl" >"$work/resumed.losses"
diff "$work/full.losses" "$work/resumed.losses" || fail "resumed losses differ from the uninterrupted run"
echo "PASS: resume from step 6 reproduces steps 7-12 bit for bit"
# A finished run resubmitted (a requeued or re-run job): nothing to train, nothing written, exit 0.
sum=$(md5sum <"$work/runs/resumed/metrics.jsonl")
"$train" "${common[@]}" --output.name resumed --resume auto >"$work/finished.out" 2>&1 || { cat "$work/finished.out"; fail "re-run"; }
grep -q 'INFO done: the run is already at step 12 (training.max_steps); nothing to train$' "$work/finished.out" ||
  { cat "$work/finished.out"; fail "a re-run of a finished run did not say it had nothing to train"; }
[[ $(md5sum <"$work/runs/resumed/metrics.jsonl") == "$sum" && ! -e $work/runs/resumed/checkpoints/step_13 ]] ||
  fail "a re-run of a finished run trained or wrote"
echo "PASS: --resume auto on a finished run: nothing to train, exit 0"

# 2b. A damaged newest checkpoint: --resume auto falls back to the one before, with a warning.
cp -r "$run" "$work/runs/damaged"
truncate -s 1000 "$work/runs/damaged/checkpoints/step_12/model-tp0-pp0.safetensors"
"$train" "${common[@]}" --output.name damaged --resume "$work/runs/damaged/checkpoints/step_12" >"$work/damaged2.out" 2>&1
code=$?
[[ $code -eq 4 ]] || { cat "$work/damaged2.out"; fail "explicit damaged checkpoint: exit $code, expected 4"; }
"$train" "${common[@]}" --output.name damaged --resume auto --training.max_steps 13 >"$work/damaged.out" 2>&1 ||
  { cat "$work/damaged.out"; fail "resume past a damaged checkpoint"; }
grep -q "skipping checkpoint .*step_12: .*does not match its SHA-256" "$work/damaged.out" || fail "no damaged-checkpoint warning"
grep -q 'resumed from .*step_6 at step 6' "$work/damaged.out" || fail "did not fall back to step 6"
echo "PASS: a truncated checkpoint is detected by checksum; auto falls back, an explicit path fails with exit 4"

# 3. Every 2-rank layout matches the single rank: dp 2 with ZeRO 0/1/2, and tp 2.
compare() { $py - "$work/full.losses" "$2" "$1" <<'PY'
import sys
a = [line.split() for line in open(sys.argv[1])]
b = [line.split() for line in open(sys.argv[2])]
assert len(a) == len(b) == 12, (len(a), len(b))
# Losses within 1e-5 relative (the project's gate). Gradient norms within 1e-4: they are sums of
# squares of fp32 gradients that tp and dp reduce in other orders, so they carry more rounding.
def worst(column):
    return max(abs(float(x[column]) - float(y[column])) / abs(float(x[column])) for x, y in zip(a, b))
print(f"{sys.argv[3]} vs 1 rank: worst relative difference: loss {worst(1):.2e}, grad_norm {worst(2):.2e}")
sys.exit(0 if worst(1) <= 1e-5 and worst(2) <= 1e-4 else 1)
PY
}
for layout in "dp2_zero0 --parallel.zero 0" "dp2_zero1 --parallel.zero 1" "dp2_zero2 --parallel.zero 2 --parallel.bucket_mb 0.05" \
  "tp2 --parallel.tp 2"; do
  read -r name flags <<<"$layout"
  # shellcheck disable=SC2086
  "$MPIEXEC" -n 2 --oversubscribe "$train" "${common[@]}" --output.name "$name" $flags >"$work/$name.out" 2>&1 ||
    { cat "$work/$name.out"; fail "$name run"; }
  losses "$work/runs/$name/metrics.jsonl" >"$work/$name.losses"
  compare "$name" "$work/$name.losses" || fail "$name losses differ from the single rank"
done
"$MPIEXEC" -n 4 --oversubscribe "$train" "${common[@]}" --output.name tp2dp2 --parallel.tp 2 --parallel.zero 1 \
  >"$work/tp2dp2.out" 2>&1 || { cat "$work/tp2dp2.out"; fail "tp2 x dp2 run"; }
losses "$work/runs/tp2dp2/metrics.jsonl" >"$work/tp2dp2.losses"
compare tp2dp2_zero1 "$work/tp2dp2.losses" || fail "tp 2 x dp 2 losses differ from the single rank"
echo "PASS: dp 2 (ZeRO 0, 1, 2), tp 2 and tp 2 x dp 2 (ZeRO 1) reproduce the single-rank losses and gradient norms"

# 3b. Export to Hugging Face: the 1-rank checkpoint exactly, and the tp 2 checkpoint gathered from
# its two shards matches it (the runs differ only by rounding).
"$ckpt" export-hf "$run/checkpoints/step_12" "$work/hf_full" --dtype fp32 >"$work/export.out" 2>&1 ||
  { cat "$work/export.out"; fail "export-hf"; }
"$ckpt" export-hf "$work/runs/tp2/checkpoints/step_12" "$work/hf_tp2" --dtype fp32 >>"$work/export.out" 2>&1 ||
  { cat "$work/export.out"; fail "export-hf of the tp 2 checkpoint"; }
for f in config.json generation_config.json model.safetensors; do [[ -s $work/hf_full/$f ]] || fail "export lacks $f"; done
PYTHONPATH=$source/tests/python $py - "$run/checkpoints/step_12/model-tp0-pp0.safetensors" "$work/hf_full" "$work/hf_tp2" <<'PY' ||
import json, sys
import numpy as np
from test_ckpt_export import read_safetensors
def tensors(path):
    return {name: array for name, _, array in read_safetensors(path)[0]}
shard = tensors(sys.argv[1])
full = tensors(sys.argv[2] + "/model.safetensors")
tp2 = tensors(sys.argv[3] + "/model.safetensors")
assert sorted(shard) == sorted(full) == sorted(tp2), (sorted(shard), sorted(full))
for name in full:
    assert np.array_equal(np.asarray(shard[name]), np.asarray(full[name])), name
    a, b = np.asarray(full[name], np.float64), np.asarray(tp2[name], np.float64)
    assert a.shape == b.shape, (name, a.shape, b.shape)
    assert np.abs(a - b).max() <= 1e-4 * max(1.0, np.abs(a).max()), (name, np.abs(a - b).max())
config = json.load(open(sys.argv[2] + "/config.json"))
assert config["architectures"] == ["LlamaForCausalLM"] and config["num_key_value_heads"] == 2, config
print(f"exported {len(full)} tensors; the tp 2 export matches the 1-rank one")
PY
  fail "exported tensors"
echo "PASS: nf-ckpt export-hf writes the checkpoint's tensors; a tp 2 checkpoint consolidates to the same model"

# 4. SIGTERM: finish the step, save, exit 75; then resume.
"$train" "${common[@]}" --output.name preempt --training.max_steps 100000 --checkpoint.save_interval 0 \
  >"$work/preempt.out" 2>&1 &
pid=$!
wait_for_steps "$work/runs/preempt/metrics.jsonl" 3 20
kill -TERM $pid
wait $pid
code=$?
[[ $code -eq 75 ]] || { cat "$work/preempt.out"; fail "preempted run exited $code, expected 75"; }
saved=$(cat "$work/runs/preempt/checkpoints/latest")
grep -q "preempted by a signal at step ${saved#step_}" "$work/preempt.out" || fail "no preemption message for $saved"
"$train" "${common[@]}" --output.name preempt --training.max_steps $((${saved#step_} + 2)) --resume auto \
  >"$work/preempt2.out" 2>&1 || { cat "$work/preempt2.out"; fail "resume after preemption"; }
grep -q "resumed from .*$saved" "$work/preempt2.out" || fail "did not resume from $saved"
echo "PASS: SIGTERM saved $saved and exited 75; the resumed run continued from it"

# 5. Non-finite losses: skipped, then the run stops with exit 7.
"$train" "${common[@]}" --output.name diverge --training.learning_rate 1e30 --training.grad_clip 0 \
  --training.max_bad_steps 3 >"$work/diverge.out" 2>&1
code=$?
[[ $code -eq 7 ]] || { tail -5 "$work/diverge.out"; fail "diverging run exited $code, expected 7"; }
grep -q 'update skipped (1 in a row)' "$work/diverge.out" || fail "no skipped-update warning"
grep -q 'training diverged: 3 steps in a row had a non-finite loss' "$work/diverge.out" || fail "no divergence message"
echo "PASS: non-finite losses were skipped and 3 in a row stopped the run with exit 7"

# 6. Bad inputs name the file.
"$train" "${common[@]}" --output.name missing --data.train_path "$work/nowhere" >"$work/missing.out" 2>&1
code=$?
[[ $code -eq 3 ]] && grep -q "$work/nowhere" "$work/missing.out" || { cat "$work/missing.out"; fail "missing dataset: exit $code"; }
"$train" "${common[@]}" --output.name small --model.vocab_size 200 >"$work/small.out" 2>&1
code=$?
[[ $code -eq 3 ]] && grep -q "vocab" "$work/small.out" || { cat "$work/small.out"; fail "vocab mismatch: exit $code"; }
"$train" "${common[@]}" --output.name empty --data.train_path "" >"$work/empty.out" 2>&1
code=$?
[[ $code -eq 2 ]] && grep -q 'config error: data.train_path is empty$' "$work/empty.out" &&
  grep -q 'hint: pass --data.train_path DIR' "$work/empty.out" || { cat "$work/empty.out"; fail "empty data.train_path: exit $code"; }
# A config this user may not read (root reads anything, so root asks nobody to try).
cp "$source/configs/tiny.yaml" "$work/unreadable.yaml" && chmod 000 "$work/unreadable.yaml" && chmod 755 "$work"
as_user=()
[[ $(id -u) -eq 0 ]] && as_user=(su nobody -s /bin/bash -c)
if ((${#as_user[@]})); then
  "${as_user[@]}" "cd / && '$(realpath "$train")' --config '$work/unreadable.yaml' --dry-run" >"$work/unreadable.out" 2>&1
else
  "$train" --config "$work/unreadable.yaml" --dry-run >"$work/unreadable.out" 2>&1
fi
code=$?
[[ $code -eq 2 ]] && grep -q "config error: config file '$work/unreadable.yaml' cannot be opened for reading" \
  "$work/unreadable.out" || { cat "$work/unreadable.out"; fail "unreadable config: exit $code"; }
echo "PASS: a missing dataset and a too-small vocabulary fail with exit 3, an empty data.train_path and an unreadable config with exit 2, naming the problem"
