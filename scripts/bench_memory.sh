#!/usr/bin/env bash
# Memory per rank, predicted beside measured (issue #17), one table: nf-train on the small preset's
# shapes (configs/small.yaml: ~124M parameters, tied embeddings), fp32 on the CPU, pure data
# parallelism at 2 and 4 ranks, for ZeRO 0/1/2/3 x training.recompute none/selective/full. Each
# run trains 2 steps (seq_len 256, one sequence per rank per step) and its metrics.jsonl memory
# record gives, per rank:
#   measured   the peak of the tensors LibTorch allocated during training (nf's counting allocator;
#              on CUDA the caching allocator's peak), the largest over the ranks;
#   start      the tensors held when training began (model, gradients, optimizer states);
#   steps      measured - start: what the steps add on top at their peak;
#   activ.     what the forwards left for backward right before a step's last backward (the
#              activations, with the loss's logits): recomputation's target;
#   predicted  the planner's peak for the rank (nf-train --dry-run, docs/memory.md), and its error;
#   step s     the second step's time (the first warms up), seconds.
#
#   scripts/bench_memory.sh [--ranks "2 4"] [--build DIR]   (~15 min on 2 cores)
# Needs: ninja -C build nf-train write-text-dataset; bible-kjv (the `bible` program).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build ranks_list="2 4"
while (($#)); do
  case $1 in
    --ranks) ranks_list=$2; shift ;;
    --build) build=$2; shift ;;
    *) echo "usage: $0 [--ranks \"2 4\"] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
py=${NF_PYTHON:-$root/.venv/bin/python}
for f in "$build/src/nf-train" "$build/tests/write-text-dataset"; do
  [[ -e $f ]] || { echo "missing $f (build: ninja -C $build nf-train write-text-dataset)" >&2; exit 2; }
done
command -v bible >/dev/null || { echo "missing the bible program (apt install bible-kjv)" >&2; exit 2; }
# shellcheck source=scripts/mpi_env.sh
source "$root/scripts/mpi_env.sh"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

work=$(mktemp -d /tmp/nf_bench_memory.XXXXXX)
trap 'rm -rf "$work"' EXIT
bible -f 'Gen1:1-Exo40:38' >"$work/text.txt"
"$build/tests/write-text-dataset" "$work/text.txt" "$work/data" pretrain 65536 10 >/dev/null

results=$work/results.jsonl
for ranks in $ranks_list; do
  for zero in 0 1 2 3; do
    for recompute in none selective full; do
      name=r${ranks}_z${zero}_$recompute
      "${MPIEXEC:-mpirun}" -n "$ranks" --oversubscribe "$build/src/nf-train" --config "$root/configs/small.yaml" \
        --data.train_path "$work/data" --output.dir "$work/runs" --output.name "$name" \
        --model.vocab_size 32000 --training.seq_len 256 --training.micro_batch_size 1 \
        --training.global_batch_size "$ranks" --training.max_steps 2 --training.warmup_steps 1 \
        --training.log_interval 1 --training.eval_interval 0 --checkpoint.save_interval 0 \
        --parallel.zero "$zero" --training.recompute "$recompute" >"$work/$name.out" 2>&1 ||
        { tail -20 "$work/$name.out"; exit 1; }
      $py - "$work/runs/$name/metrics.jsonl" "$ranks" "$zero" "$recompute" >>"$results" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
memory = [r for r in records if "peak_tensor_bytes" in r][-1]
steps = [r for r in records if "loss" in r]
rank = max(range(len(memory["peak_tensor_bytes"])), key=lambda r: memory["peak_tensor_bytes"][r])
tokens = 256 * int(sys.argv[2])
print(json.dumps({"ranks": int(sys.argv[2]), "zero": int(sys.argv[3]), "recompute": sys.argv[4],
                  "measured": memory["peak_tensor_bytes"][rank], "start": memory["start_tensor_bytes"][rank],
                  "activations": memory["activation_bytes"][rank],
                  "predicted": memory["predicted_peak_bytes"][rank], "rss": memory["peak_rss_bytes"][rank],
                  "step_s": tokens / steps[-1]["tokens_per_s"]}))
PY
    done
  done
done
$py - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
mib = lambda b: b / 2**20
print(f"{'ranks':>5} {'zero':>4} {'recompute':>9} | {'measured':>9} {'start':>8} {'steps':>8} {'activ.':>8} | {'predicted':>9} {'error':>6} | {'step s':>6}")
for r in rows:
    err = (r["predicted"] - r["measured"]) / r["measured"]
    print(f"{r['ranks']:>5} {r['zero']:>4} {r['recompute']:>9} | {mib(r['measured']):8.1f}M {mib(r['start']):7.1f}M "
          f"{mib(r['measured'] - r['start']):7.1f}M {mib(r['activations']):7.1f}M | {mib(r['predicted']):8.1f}M {100 * err:+5.1f}% | {r['step_s']:6.2f}")
worst = max(abs(r["predicted"] - r["measured"]) / r["measured"] for r in rows)
print(f"worst prediction error {100 * worst:.1f}% of the measured peak (MiB = 2^20 bytes)")
PY
