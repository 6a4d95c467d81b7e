#!/usr/bin/env bash
# nf-generate beside transformers' generate (issue #19), one table: the quickstart's tiny model
# (runs/pretrain_tiny, 9.4M parameters, exported fp32 for the peer), 16 prompts of KJV verses, 64
# new tokens each (eos ignored), greedy, one thread each, on this machine, in one run: batches of 1
# and of 16, with and without the KV cache. tokens/s counts generation only (model loading
# excluded: nf-generate's summary line, the peer's timer around generate). nf / peer > 1 = nf faster.
#
#   scripts/bench_generate.sh [--build DIR] [--new-tokens 64]   (~3 min on 2 cores)
# Needs: the quickstart's run (scripts/quickstart.sh), nf-generate and nf-ckpt in the build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build new_tokens=64
while (($#)); do
  case $1 in
    --build) build=$2; shift ;;
    --new-tokens) new_tokens=$2; shift ;;
    *) echo "usage: $0 [--build DIR] [--new-tokens N]" >&2; exit 2 ;;
  esac
  shift
done
py=${NF_PYTHON:-$root/.venv/bin/python}
run=$root/runs/pretrain_tiny
[[ -d $run/checkpoints ]] || { echo "missing $run: run scripts/quickstart.sh first" >&2; exit 2; }
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d /tmp/nf_bench_generate.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$build/src/nf-ckpt" export-hf "$run/checkpoints/$(cat "$run/checkpoints/latest")" "$work/hf" \
  --dtype fp32 >/dev/null
bible -f 'Gen1:1-Gen1:16' | sed 's/^[^ ]* //' |
  "$py" -c 'import json, sys; [print(json.dumps({"prompt": l.strip()[:60]})) for l in sys.stdin]' >"$work/prompts.jsonl"

printf '%-8s %-9s %12s %12s %9s\n' batch cache "nf tok/s" "peer tok/s" "nf/peer"
for batch in 1 16; do
  for cache in cache nocache; do
    flags=(--model "$run" --prompts "$work/prompts.jsonl" --batch-size "$batch" --max-new-tokens "$new_tokens"
      --ignore-eos --out "$work/nf.jsonl")
    [[ $cache == nocache ]] && flags+=(--no-kv-cache)
    nf=$("$build/src/nf-generate" "${flags[@]}" 2>&1 >/dev/null | sed -n 's/.* new tokens in .* s (\([0-9.]*\) tokens\/s.*/\1/p')
    read -r tokens seconds < <("$py" "$root/scripts/bench/generate_peer.py" "$work/hf" "$work/nf.jsonl" "$batch" \
      "$new_tokens" "$cache")
    peer=$(awk -v t="$tokens" -v s="$seconds" 'BEGIN {printf "%.1f", t / s}')
    printf '%-8s %-9s %12s %12s %9s\n' "$batch" "$cache" "$nf" "$peer" "$(awk -v a="$nf" -v b="$peer" 'BEGIN {printf "%.2f", a / b}')"
  done
done
