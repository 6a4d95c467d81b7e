#!/usr/bin/env bash
# LoRA beside full fine-tuning (issue #19), one table: continued pretraining of the quickstart's
# tiny model (runs/pretrain_tiny, 9.4M parameters, on data/pretrain_tiny) on 2 ranks (dp 2, fp32,
# one thread each), 12 steps, either every weight or rank-8 adapters on every projection
# (model.lora). Per mode: trainable parameters, tokens/s (median of steps 3-12), the measured peak
# of tensors per rank (the largest rank's) and the tensors held when training began, the planner's
# prediction, and the checkpoint's size.
#
#   scripts/bench_lora.sh [--build DIR] [--rank 8]   (~2 min on 2 cores)
# Needs: the quickstart's run and dataset (scripts/quickstart.sh), nf-train in the build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build rank=8
while (($#)); do
  case $1 in
    --build) build=$2; shift ;;
    --rank) rank=$2; shift ;;
    *) echo "usage: $0 [--build DIR] [--rank 8]" >&2; exit 2 ;;
  esac
  shift
done
py=${NF_PYTHON:-$root/.venv/bin/python}
[[ -d $root/runs/pretrain_tiny/checkpoints && -d $root/data/pretrain_tiny ]] ||
  { echo "missing runs/pretrain_tiny or data/pretrain_tiny: run scripts/quickstart.sh first" >&2; exit 2; }
# shellcheck source=scripts/mpi_env.sh
source "$root/scripts/mpi_env.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d /tmp/nf_bench_lora.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$root"
for mode in full lora; do
  flags=()
  [[ $mode == lora ]] && flags=(--model.lora.rank "$rank" --model.lora.alpha $((2 * rank)))
  "${MPIEXEC:-mpirun}" -n 2 --oversubscribe "$build/src/nf-train" --config configs/pretrain_tiny.yaml \
    --training.load_from "$root/runs/pretrain_tiny" --training.max_steps 12 --training.warmup_steps 2 \
    --training.log_interval 1 --training.eval_interval 0 --checkpoint.save_interval 0 \
    --output.dir "$work/runs" --output.name "$mode" "${flags[@]}" >"$work/$mode.out" 2>&1 ||
    { tail -20 "$work/$mode.out"; exit 1; }
done
"$py" - "$work/runs" <<'PY'
import json, math, os, statistics, sys
from safetensors import safe_open
runs = sys.argv[1]
print(f"{'mode':<6} {'trainable':>10} {'tokens/s':>9} {'peak MiB':>9} {'start MiB':>10} {'predicted':>10} {'ckpt MB':>8}")
rows = {}
for mode in ("full", "lora"):
    records = [json.loads(line) for line in open(os.path.join(runs, mode, "metrics.jsonl"))]
    speed = statistics.median(r["tokens_per_s"] for r in records if "loss" in r and r["step"] >= 3)
    memory = next(r for r in records if "peak_tensor_bytes" in r)
    step = os.path.join(runs, mode, "checkpoints", open(os.path.join(runs, mode, "checkpoints", "latest")).read().strip())
    ckpt = sum(os.path.getsize(os.path.join(step, f)) for f in os.listdir(step)) / 1e6
    rows[mode] = (speed, max(memory["peak_tensor_bytes"]) / 2**20, max(memory["start_tensor_bytes"]) / 2**20,
                  max(memory["predicted_peak_bytes"]) / 2**20, ckpt)
    saved = safe_open(os.path.join(step, "model-tp0-pp0.safetensors"), "pt")  # what trains: what a save holds
    count = sum(math.prod(saved.get_slice(n).get_shape()) for n in saved.keys())
    print(f"{mode:<6} {count:>10,} {speed:>9,.0f} {rows[mode][1]:>9.1f} {rows[mode][2]:>10.1f} {rows[mode][3]:>10.1f} "
          f"{ckpt:>8.2f}")
f, l = rows["full"], rows["lora"]
print(f"lora/full: tokens/s {l[0] / f[0]:.2f}, peak {l[1] / f[1]:.2f}, start {l[2] / f[2]:.2f}, checkpoint {l[4] / f[4]:.3f}")
PY
