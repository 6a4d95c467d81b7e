#!/usr/bin/env bash
# Training throughput, one table: nf-train against a PyTorch Python training loop of the same
# Llama-style model (scripts/bench/torch_train_loop.py), fp32 on CPU, same threads, same batch
# split, same allocator (jemalloc with nf's MALLOC_CONF; Python gets it through LD_PRELOAD) and
# the same BLAS (both run Debian's libtorch 1.13). Runs alternate (nf then torch in odd rounds,
# torch then nf in even ones) so that load from other processes and the cold first run hit both
# sides alike; each side's figure is its best round (other load only ever slows a run down), the
# fastest single step of each side is shown too, and the median of the rounds' nf/torch ratios.
# "% of matmul peak" divides the achieved model GFLOP/s (nf's formula, docs/training.md) by the
# best fp32 GFLOP/s of a square torch.mm on the same threads, measured before every round.
#
#   scripts/bench_train.sh [--quick] [--threads N] [--rounds R] [--build DIR]
#     default: configs/small.yaml shapes (vocab 32000, ~110M parameters), seq_len 256, micro-batch 4,
#              global batch 8, 2 untimed + 3 timed steps per run, 3 rounds (~8 min on 2 cores)
#     --quick: configs/tiny.yaml shapes, seq_len 64, micro-batch 2, global batch 4, 1 + 2 steps,
#              1 round: a smoke test (< 1 min)
# Needs: ninja -C build nf-train write-text-dataset; bible-kjv (the `bible` program).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build threads=$(nproc) quick=0 rounds=
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --threads) threads=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --build) build=$2; shift ;;
    *) echo "usage: $0 [--quick] [--threads N] [--rounds R] [--build DIR]" >&2; exit 2 ;;
  esac
  shift
done
if ((quick)); then
  preset=tiny seq_len=64 micro=2 global=4 warmup=1 steps=2 rounds=${rounds:-1} peak_size=1024
else
  preset=small seq_len=256 micro=4 global=8 warmup=2 steps=3 rounds=${rounds:-3} peak_size=2048
fi
py=/usr/bin/python3
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
for f in "$build/src/nf-train" "$build/tests/write-text-dataset" "$jemalloc"; do
  [[ -e $f ]] || { echo "missing $f (build: ninja -C $build nf-train write-text-dataset; apt install libjemalloc2)" >&2; exit 2; }
done
command -v bible >/dev/null || { echo "missing the bible program (apt install bible-kjv)" >&2; exit 2; }

work=$(mktemp -d /tmp/nf_bench_train.XXXXXX)
trap 'rm -rf "$work"' EXIT
# nf's jemalloc options (src/apps/allocator_config.cpp); nf has them built in, Python reads them here.
malloc_conf=$(sed -n 's/.*malloc_conf = "\(.*\)";/\1/p' "$root/src/apps/allocator_config.cpp")
[[ -n $malloc_conf ]] || { echo "could not read malloc_conf from src/apps/allocator_config.cpp" >&2; exit 2; }
# Both sides use the same threads for ATen's OpenMP loops and for OpenBLAS's own pthread pool (which
# libtorch's sgemm uses). Waiting threads sleep (PASSIVE): with the default spin-wait, OpenMP
# workers spinning between ops and OpenBLAS workers sched_yield-ing between GEMMs fight for the
# cores, and on a loaded machine either program runs 2-5x slower (see docs/benchmarks.md).
# Set OMP_WAIT_POLICY=ACTIVE in the environment to measure that case.
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export MALLOC_CONF=$malloc_conf

bible -f 'Gen1:1-Exo40:38' >"$work/text.txt"
"$build/tests/write-text-dataset" "$work/text.txt" "$work/data" pretrain 65536 10 >/dev/null

# The preset's model shape, as nf-train resolves it, for the Python side.
read -r vocab d_model n_layers n_heads n_kv_heads tie < <($py - "$root/configs/$preset.yaml" <<'PY'
import sys, yaml
m = yaml.safe_load(open(sys.argv[1]))["model"]
print(m["vocab_size"], m["d_model"], m["n_layers"], m["n_heads"], m.get("n_kv_heads") or m["n_heads"],
      "--tie" if m.get("tie_embeddings") else "")
PY
)
total=$((warmup + steps))

run_nf() {  # $1 = round; prints "tokens/s GFLOP/s flops/token fastest-step-tokens/s" over the timed steps
  local out=$work/runs/nf$1
  "$build/src/nf-train" --config "$root/configs/$preset.yaml" --data.train_path "$work/data" \
    --output.dir "$work/runs" --output.name "nf$1" --training.seq_len "$seq_len" \
    --training.micro_batch_size "$micro" --training.global_batch_size "$global" --training.max_steps "$total" \
    --training.warmup_steps 1 --training.log_interval 1 --training.eval_interval 0 \
    --checkpoint.save_interval 0 >"$work/nf$1.log" 2>&1 || { cat "$work/nf$1.log" >&2; exit 1; }
  $py - "$out/metrics.jsonl" "$warmup" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"tokens_per_s"' in l][int(sys.argv[2]):]
# Every step has the same tokens: the run's rate is total tokens / total time (harmonic mean).
tps = len(rows) / sum(1 / r["tokens_per_s"] for r in rows)
fpt = rows[0]["gflops_per_s"] * 1e9 / rows[0]["tokens_per_s"]
print(f"{tps:.6g} {tps * fpt / 1e9:.6g} {fpt:.6g} {max(r['tokens_per_s'] for r in rows):.6g}")
PY
  rm -rf "$out"  # its end-of-run checkpoint (1.3 GB for small)
}

run_torch() {
  LD_PRELOAD=$jemalloc $py "$root/scripts/bench/torch_train_loop.py" train --threads "$threads" \
    --data "$work/data" --vocab "$vocab" --d-model "$d_model" --n-layers "$n_layers" --n-heads "$n_heads" \
    --n-kv-heads "$n_kv_heads" $tie --seq-len "$seq_len" --micro-batch "$micro" --global-batch "$global" \
    --warmup "$warmup" --steps "$steps" >"$work/torch$1.json" 2>"$work/torch$1.log" || { cat "$work/torch$1.log" >&2; exit 1; }
  $py -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.6g %.6g %.6g %.6g" % (r["tokens_per_s"], r["gflops_per_s"], r["flops_per_token"], r["fastest_step_tokens_per_s"]))' \
    "$work/torch$1.json"
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $threads;" \
  "OMP_WAIT_POLICY $OMP_WAIT_POLICY; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: configs/$preset.yaml (vocab $vocab, d_model $d_model, $n_layers layers, $n_heads/$n_kv_heads heads);" \
  "seq_len $seq_len, micro-batch $micro, global batch $global; $warmup untimed + $steps timed steps; $rounds rounds"
run_peak() {
  LD_PRELOAD=$jemalloc $py "$root/scripts/bench/torch_train_loop.py" peak --threads "$threads" --size "$peak_size" |
    $py -c 'import json,sys; print("%.6g" % json.load(sys.stdin)["peak_gflops"])'
}

nf_results=() torch_results=() peaks=()
for ((r = 1; r <= rounds; r++)); do
  peaks+=("$(run_peak)")
  echo "round $r: load average $(cut -d' ' -f1 /proc/loadavg), matmul ${peaks[-1]} GFLOP/s"
  # Odd rounds run nf first, even rounds PyTorch first: neither program always gets the cold start.
  if ((r % 2)); then
    nf_results+=("$(run_nf "$r")")
    torch_results+=("$(run_torch "$r")")
  else
    torch_results+=("$(run_torch "$r")")
    nf_results+=("$(run_nf "$r")")
  fi
  echo "round $r nf-train: ${nf_results[-1]%% *} tokens/s"
  echo "round $r PyTorch:  ${torch_results[-1]%% *} tokens/s"
done

$py - "$(printf '%s\n' "${peaks[@]}" | sort -g | tail -1)" "$peak_size" "$threads" <<PY
import sys
nf = [list(map(float, s.split())) for s in """$(printf '%s\n' "${nf_results[@]}")""".split("\n") if s]
pt = [list(map(float, s.split())) for s in """$(printf '%s\n' "${torch_results[@]}")""".split("\n") if s]
peak = float(sys.argv[1])
size, threads = sys.argv[2], sys.argv[3]
if abs(nf[0][2] - pt[0][2]) > 1e-6 * nf[0][2]:
    sys.exit(f"FLOPs per token differ: nf {nf[0][2]:.6g}, torch {pt[0][2]:.6g}: the models are not the same shape")
best_nf, best_pt = max(nf), max(pt)
rounds = lambda rs: ", ".join(f"{r[0]:,.0f}" for r in rs)
print()
print("| | nf-train | PyTorch loop |")
print("|---|---:|---:|")
print(f"| tokens/s per round | {rounds(nf)} | {rounds(pt)} |")
print(f"| tokens/s (best round) | {best_nf[0]:,.0f} | {best_pt[0]:,.0f} |")
fastest_nf, fastest_pt = max(r[3] for r in nf), max(r[3] for r in pt)
print(f"| tokens/s (fastest step) | {fastest_nf:,.0f} | {fastest_pt:,.0f} |")
print(f"| model GFLOP/s | {best_nf[1]:.1f} | {best_pt[1]:.1f} |")
print(f"| % of matmul peak ({peak:.1f} GFLOP/s, {size}² fp32 mm, {threads} threads) | "
      f"{100 * best_nf[1] / peak:.1f}% | {100 * best_pt[1] / peak:.1f}% |")
print()
ratios = sorted(a[0] / b[0] for a, b in zip(nf, pt))
median = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
print(f"ratio nf/torch (tokens/s): {best_nf[0] / best_pt[0]:.3f} (best rounds), {fastest_nf / fastest_pt:.3f} (fastest steps), "
      f"{median:.3f} (median of the rounds' ratios: {', '.join(f'{x:.3f}' for x in ratios)})")
PY
