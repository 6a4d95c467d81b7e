#!/usr/bin/env bash
# Training throughput, one table: nf-train against a PyTorch Python training loop of the same
# Llama-style model (scripts/bench/torch_train_loop.py), eager and through torch.compile, fp32 on
# CPU, same threads, same batch split, same allocator (jemalloc with nf's MALLOC_CONF; Python gets
# it through LD_PRELOAD) and the same LibTorch (torch 2.11 of the project's .venv, so the same
# kernels). The order of the three sides rotates from round to round so that load from other
# processes and the cold first run hit every side alike; each side's figure is its best round
# (other load only ever slows a run down), the fastest single step of each side is shown too, and
# the median of the rounds' nf/eager and nf/compiled ratios.
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
py=${NF_PYTHON:-$root/.venv/bin/python}
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

run_torch() {  # $1 = round, $2 = eager|compiled
  local compile=()
  [[ $2 == compiled ]] && compile=(--compile)
  LD_PRELOAD=$jemalloc $py "$root/scripts/bench/torch_train_loop.py" train --threads "$threads" "${compile[@]}" \
    --data "$work/data" --vocab "$vocab" --d-model "$d_model" --n-layers "$n_layers" --n-heads "$n_heads" \
    --n-kv-heads "$n_kv_heads" $tie --seq-len "$seq_len" --micro-batch "$micro" --global-batch "$global" \
    --warmup "$warmup" --steps "$steps" >"$work/$2$1.json" 2>"$work/$2$1.log" || { cat "$work/$2$1.log" >&2; exit 1; }
  $py -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.6g %.6g %.6g %.6g" % (r["tokens_per_s"], r["gflops_per_s"], r["flops_per_token"], r["fastest_step_tokens_per_s"]))' \
    "$work/$2$1.json"
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; threads $threads;" \
  "OMP_WAIT_POLICY $OMP_WAIT_POLICY; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: configs/$preset.yaml (vocab $vocab, d_model $d_model, $n_layers layers, $n_heads/$n_kv_heads heads);" \
  "seq_len $seq_len, micro-batch $micro, global batch $global; $warmup untimed + $steps timed steps; $rounds rounds"
run_peak() {
  LD_PRELOAD=$jemalloc $py "$root/scripts/bench/torch_train_loop.py" peak --threads "$threads" --size "$peak_size" |
    $py -c 'import json,sys; print("%.6g" % json.load(sys.stdin)["peak_gflops"])'
}

nf_results=() eager_results=() compiled_results=() peaks=()
sides=(nf eager compiled)
for ((r = 1; r <= rounds; r++)); do
  peaks+=("$(run_peak)")
  echo "round $r: load average $(cut -d' ' -f1 /proc/loadavg), matmul ${peaks[-1]} GFLOP/s"
  # The order rotates each round: no side always gets the cold start or the same neighbour.
  for ((i = 0; i < 3; i++)); do
    side=${sides[(i + r - 1) % 3]}
    case $side in
      nf) nf_results+=("$(run_nf "$r")"); echo "round $r nf-train:         ${nf_results[-1]%% *} tokens/s" ;;
      eager) eager_results+=("$(run_torch "$r" eager)"); echo "round $r PyTorch eager:    ${eager_results[-1]%% *} tokens/s" ;;
      compiled) compiled_results+=("$(run_torch "$r" compiled)"); echo "round $r PyTorch compiled: ${compiled_results[-1]%% *} tokens/s" ;;
    esac
  done
done

$py - "$(printf '%s\n' "${peaks[@]}" | sort -g | tail -1)" "$peak_size" "$threads" <<PY
import sys
def rows(text):
    return [list(map(float, s.split())) for s in text.split("\n") if s]
nf = rows("""$(printf '%s\n' "${nf_results[@]}")""")
eager = rows("""$(printf '%s\n' "${eager_results[@]}")""")
compiled = rows("""$(printf '%s\n' "${compiled_results[@]}")""")
peak = float(sys.argv[1])
size, threads = sys.argv[2], sys.argv[3]
for name, side in (("eager", eager), ("compiled", compiled)):
    if abs(nf[0][2] - side[0][2]) > 1e-6 * nf[0][2]:
        sys.exit(f"FLOPs per token differ: nf {nf[0][2]:.6g}, torch {name} {side[0][2]:.6g}: the models are not the same shape")
sides = {"nf-train": nf, "PyTorch eager": eager, "PyTorch compiled": compiled}
best = {k: max(v) for k, v in sides.items()}
fastest = {k: max(r[3] for r in v) for k, v in sides.items()}
cells = lambda f: " | ".join(f(k) for k in sides)
print()
print("| | " + " | ".join(sides) + " |")
print("|---|" + "---:|" * len(sides))
print("| tokens/s per round | " + cells(lambda k: ", ".join(f"{r[0]:,.0f}" for r in sides[k])) + " |")
print("| tokens/s (best round) | " + cells(lambda k: f"{best[k][0]:,.0f}") + " |")
print("| tokens/s (fastest step) | " + cells(lambda k: f"{fastest[k]:,.0f}") + " |")
print("| model GFLOP/s | " + cells(lambda k: f"{best[k][1]:.1f}") + " |")
print(f"| % of matmul peak ({peak:.1f} GFLOP/s, {size}² fp32 mm, {threads} threads) | "
      + cells(lambda k: f"{100 * best[k][1] / peak:.1f}%") + " |")
print()
def median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
for name in ("PyTorch eager", "PyTorch compiled"):
    ratios = [a[0] / b[0] for a, b in zip(nf, sides[name])]
    print(f"ratio nf/{name.split()[1]} (tokens/s): {best['nf-train'][0] / best[name][0]:.3f} (best rounds), "
          f"{fastest['nf-train'] / fastest[name]:.3f} (fastest steps), "
          f"{median(ratios):.3f} (median of the rounds' ratios: {', '.join(f'{x:.3f}' for x in sorted(ratios))})")
better = max(("PyTorch eager", "PyTorch compiled"), key=lambda k: best[k][0])
print(f"nf/best PyTorch ({better.split()[1]}): {best['nf-train'][0] / best[better][0]:.3f} (best rounds)")
PY
