#!/usr/bin/env bash
# DPO on every parallel layout (issue #7): a 1-rank pretraining checkpoint (training.load_from, so
# each layout also loads it into its own shards), then 6 DPO steps (label smoothing 0.1) on
# dp 2 (ZeRO 1), tp 2, tp 2 with sequence parallelism, pp 2 (1F1B), dp 2 x tp 2 and tp 2 x pp 2
# (GPipe, ZeRO 0). Each reproduces
# the single-rank run: loss within 1e-5 relative; rewards/chosen, rewards/rejected and
# rewards/margin within 1e-4 of the run's largest reward (a reward is beta times the difference of
# two fp32 sums of ~50 log-probs, ~150 each: their rounding, ~1e-5 absolute, is ~1e-5 of a reward
# of 0.5); rewards/accuracy exactly.
set -uo pipefail
build=$1 source=$2
train=$build/src/nf-train
shard=$build/data_tools/nf-shard
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
py=/usr/bin/python3
start=$SECONDS

source "${BASH_SOURCE[0]%/*}/chat_data.sh"
chat_data 'Gen1:1-Gen4:26'
"$shard" build --input "$work/chat/dpo.jsonl" --tokenizer "$work/pretrain" --format dpo --out "$work/dpo" \
  --val-fraction 0 --quiet >/dev/null || fail "dpo dataset"

common=(--config "$source/configs/tiny.yaml" --output.dir "$work/runs" --model.vocab_size 320 --model.d_model 64
  --model.n_layers 4 --model.n_heads 4 --model.n_kv_heads 2 --model.max_seq_len 128 --training.seq_len 96
  --training.micro_batch_size 1 --training.global_batch_size 8 --training.warmup_steps 1 --training.log_interval 1
  --training.eval_interval 0 --parallel.collective_timeout_s 60 --parallel.bucket_mb 0.05)
"$train" "${common[@]}" --output.name pretrain --data.train_path "$work/pretrain" --training.max_steps 3 \
  --training.learning_rate 3e-3 >"$work/pretrain.out" 2>&1 || { tail -20 "$work/pretrain.out"; fail "pretrain"; }

dpo=(--training.stage dpo --data.train_path "$work/dpo" --training.load_from "$work/runs/pretrain"
  --training.max_steps 6 --training.learning_rate 5e-4 --dpo.beta 0.5 --dpo.label_smoothing 0.1)
# run NAME RANKS FLAGS...: one DPO run; its records go to $work/NAME.records.
run() {
  local name=$1 ranks=$2
  shift 2
  local run_start=$SECONDS
  "$MPIEXEC" -n "$ranks" --oversubscribe "$train" "${common[@]}" "${dpo[@]}" --output.name "$name" "$@" \
    >"$work/$name.out" 2>&1 || { tail -30 "$work/$name.out"; fail "$name: nf-train failed"; }
  grep -q "loaded weights from $work/runs/pretrain/checkpoints/step_3" "$work/$name.out" ||
    fail "$name did not load the pretraining checkpoint"
  $py -c '
import json, sys
keys = ["loss", "rewards/chosen", "rewards/rejected", "rewards/margin", "rewards/accuracy"]
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "loss" in r: print(r["step"], *("%.17g" % r[k] for k in keys))
' "$work/runs/$name/metrics.jsonl" >"$work/$name.records"
  echo "$name: $((SECONDS - run_start)) s" >>"$work/times"
}

# compare NAME: one table row; non-zero when NAME strays from the single rank.
compare() { $py - "$work/single.records" "$work/$1.records" "$1" <<'PY'
import sys
a = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
b = [[float(x) for x in line.split()] for line in open(sys.argv[2])]
if len(a) != 6 or len(b) != 6:
    print(f"{sys.argv[3]:<22} records: {len(a)} vs {len(b)}")
    sys.exit(1)
loss = max(abs(x[1] - y[1]) / abs(x[1]) for x, y in zip(a, b))
scale = max(abs(v) for row in a for v in row[2:5])
rewards = max(abs(x[i] - y[i]) / scale for x, y in zip(a, b) for i in (2, 3, 4))
accuracy = max(abs(x[5] - y[5]) for x, y in zip(a, b))
ok = loss <= 1e-5 and rewards <= 1e-4 and accuracy == 0
print(f"{sys.argv[3]:<22} {loss:9.2e} {rewards:9.2e} {accuracy:9.2e}  {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
}

run single 1
$py - "$work/single.records" <<'PY' || fail "the single-rank DPO run did not learn"
import math, sys
rows = [[float(x) for x in line.split()] for line in open(sys.argv[1])]
print(f"single rank: loss {rows[0][1]:.6f} -> {rows[-1][1]:.6f}, margin {rows[-1][4]:.4f}, accuracy {rows[-1][5]:.3f}")
sys.exit(0 if abs(rows[0][1] - math.log(2)) < 1e-6 and rows[-1][1] < rows[0][1] and rows[-1][4] > 0 else 1)
PY
failures=0
printf '%-22s %9s %9s %9s\n' layout loss rewards accuracy
run dp2_zero1 2 --parallel.zero 1 && compare dp2_zero1 || failures=$((failures + 1))
run tp2 2 --parallel.tp 2 && compare tp2 || failures=$((failures + 1))
run tp2_sp 2 --parallel.tp 2 --parallel.sequence_parallel true && compare tp2_sp || failures=$((failures + 1))
run pp2_1f1b 2 --parallel.pp 2 && compare pp2_1f1b || failures=$((failures + 1))
run dp2_tp2 4 --parallel.tp 2 && compare dp2_tp2 || failures=$((failures + 1))
run tp2_pp2_gpipe 4 --parallel.tp 2 --parallel.pp 2 --parallel.pp_schedule gpipe && compare tp2_pp2_gpipe ||
  failures=$((failures + 1))
cat "$work/times"
[[ $failures -eq 0 ]] || fail "$failures layouts differ from the single rank"
echo "PASS: DPO on dp 2, tp 2 (with and without sequence parallelism), pp 2, dp 2 x tp 2 and tp 2 x pp 2 reproduces" \
  "the single-rank run ($((SECONDS - start)) s)"
