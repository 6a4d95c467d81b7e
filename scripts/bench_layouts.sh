#!/usr/bin/env bash
# Step-time split per layout, one table: the same model, global batch and steps trained on one
# rank and on each layout (dp,tp,pp) given; for each, tokens/s (and its ratio to the single rank,
# run in the same invocation), and the shares of compute, exposed dp/tp communication, pipeline
# bubble and data wait that nf-train's metrics report (averaged over the timed steps).
#
#   scripts/bench_layouts.sh [--layouts 2,1,1:1,2,1:1,1,2] [--steps N] [--build DIR] [-- nf-train overrides]
#     default: the tiny preset (d_model 384, 4 layers, 6 heads) with a byte vocabulary (260) on the KJV
#     Genesis as a byte-level dataset, seq_len 128, micro-batch 2, global batch 16, 12 steps of
#     which the first 2 are not counted. Layouts use dp·tp·pp ranks (oversubscribed when more than
#     the cores: then the split shows the contention, not the network).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build layouts=2,1,1:1,2,1:1,1,2 steps=12
while (($# > 0)); do
  case $1 in
    --layouts) layouts=$2; shift ;;
    --steps) steps=$2; shift ;;
    --build) build=$2; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [--layouts dp,tp,pp:...] [--steps N] [--build DIR] [-- overrides]" >&2; exit 2 ;;
  esac
  shift
done
((steps > 2)) || { echo "bench_layouts.sh: --steps must be more than 2 (2 warm-up steps are not counted)" >&2; exit 2; }
source "$root/scripts/mpi_env.sh"
py=${NF_PYTHON:-$root/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bible -f 'Gen1:1-Gen50:26' >"$work/genesis.txt"
"$build/tests/write-text-dataset" "$work/genesis.txt" "$work/data" pretrain 262144 10 >/dev/null
common=(--config "$root/configs/tiny.yaml" --data.train_path "$work/data" --output.dir "$work/runs"
  --model.vocab_size 260 --model.n_layers 4 --training.seq_len 128 --training.micro_batch_size 2
  --training.global_batch_size 16 --training.max_steps "$steps" --training.warmup_steps 1 --training.log_interval 1
  --training.eval_interval 0 --checkpoint.save_interval 0 "$@")

# run NAME RANKS FLAGS...: one training run; prints "tokens/s compute comm bubble data_wait" averaged
# over the steps after the first two.
run() {
  local name=$1 ranks=$2
  shift 2
  mpirun -n "$ranks" --oversubscribe --bind-to none "$build/src/nf-train" "${common[@]}" --output.name "$name" "$@" \
    >"$work/$name.out" 2>&1 || { tail -20 "$work/$name.out" >&2; exit 1; }
  $py - "$work/runs/$name/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rows = [r for r in rows if "loss" in r][2:]
mean = lambda key: sum(r[key] for r in rows) / len(rows)
comm, bubble, wait = mean("comm"), mean("bubble"), mean("data_wait")
print(f"{mean('tokens_per_s'):.6g} {1 - comm - bubble - wait:.4f} {comm:.4f} {bubble:.4f} {wait:.4f}")
PY
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -c ^processor /proc/cpuinfo) cores;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); $steps steps, the first 2 not counted"
single=$(run single 1)
printf '\n| layout (dp,tp,pp) | ranks | tokens/s | vs 1 rank | compute | comm | bubble | data wait |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
row() {
  $py - "$@" <<'PY'
import sys
layout, ranks, single = sys.argv[1], sys.argv[2], float(sys.argv[3])
tokens, compute, comm, bubble, wait = map(float, sys.argv[4:9])
pct = lambda x: f"{100 * x:.1f}%"
print(f"| {layout} | {ranks} | {tokens:,.0f} | {tokens / single:.2f}x | {pct(compute)} | {pct(comm)} | {pct(bubble)} | {pct(wait)} |")
PY
}
# shellcheck disable=SC2086
row "1,1,1" 1 ${single%% *} $single
IFS=: read -ra list <<<"$layouts"
for layout in "${list[@]}"; do
  IFS=, read -r dp tp pp <<<"$layout"
  name=dp${dp}_tp${tp}_pp${pp}
  result=$(run "$name" $((dp * tp * pp)) --parallel.tp "$tp" --parallel.pp "$pp")
  # shellcheck disable=SC2086
  row "$layout" $((dp * tp * pp)) ${single%% *} $result
done
