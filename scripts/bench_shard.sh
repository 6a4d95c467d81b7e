#!/usr/bin/env bash
# nf-shard's data preparation against the tokenizers users know, one run, one table each
# (docs/benchmarks.md "nf-shard build and BPE encode"), on the English corpus of
# scripts/prepare_english_corpus.sh (fortunes + KJV, ~7 MB, 16 k documents) with a byte-level
# BPE of VOCAB_SIZE ids (GPT-2 split pattern) that `nf-shard tokenizer train` learns from it:
#   1. encode, one thread each, the same documents (one per line): nf's BPE (bench-tokenizer;
#      cold piece caches per run), HF tokenizers and tiktoken on nf's very vocabulary (their ids
#      compared with nf's on every document), and sentencepiece (a BPE of the same size trained
#      here). Best of 3.
#   2. nf-shard build of english.jsonl end to end (JSONL parse, BPE, HDF5 + chunk CRCs, SHA-256,
#      manifest), 1 and 2 threads, and 2 ranks x 1 thread under mpirun: wall MB/s as nf-shard
#      reports it, and input bytes over the user + sys CPU seconds of the whole command (all
#      threads and ranks), with and without its start-up. Best of RUNS.
#
#   scripts/bench_shard.sh [BUILD_DIR] [VOCAB_SIZE] [RUNS]   (build: ninja -C build nf-shard bench-tokenizer)
set -euo pipefail
build=${1:-build}
vocab=${2:-32000}
runs=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
py=${NF_PYTHON:-$root/.venv/bin/python}  # the project's Python (scripts/setup.sh)
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d /tmp/nf_bench_shard.XXXXXX)
trap 'rm -rf "$work"' EXIT
shard="$build/data_tools/nf-shard"

bash "$root/scripts/prepare_english_corpus.sh" "$work" >/dev/null
"$shard" tokenizer train --vocab-size "$vocab" --input "$work/english.txt" --out "$work/tok" --threads 2 >/dev/null
"$py" - "$work" "$vocab" <<'PY'
import sys, sentencepiece as spm
work, vocab = sys.argv[1], int(sys.argv[2])
spm.SentencePieceTrainer.train(input=f"{work}/english.txt", model_prefix=f"{work}/sp", vocab_size=vocab,
                               model_type="bpe", character_coverage=0.9995, minloglevel=2, num_threads=2)
PY

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(grep -c ^processor /proc/cpuinfo) cores," \
  "load average $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "Encode, one thread each:"
"$build/data_tools/bench-tokenizer" --input "$work/english.txt" --threads 1 --tokenizer "$work/tok/tokenizer.json" \
  --ids "$work/nf.ids"
"$py" "$root/scripts/bench/tokenizer_peers.py" "$work/english.txt" "$work/tok/tokenizer.json" "$work/sp.model" \
  "$work/nf.ids"

# cpu_seconds INPUT THREADS [LAUNCHER...]: user + sys seconds of one build of INPUT (every rank).
cpu_seconds() {
  local input=$1 threads=$2
  shift 2
  rm -rf "$work/ds"
  /usr/bin/time -f "%U %S" -o "$work/time" "$@" "$shard" build --input "$input" --tokenizer "$work/tok" \
    --out "$work/ds" --quiet --threads "$threads" > "$work/out"
  read -r user sys < "$work/time"
  "$py" -c "print($user + $sys)"
}
# best THREADS [LAUNCHER...]: "| wall MB/s | CPU MB/s | CPU MB/s after start-up |", the best of
# `runs` builds; start-up is the CPU time of the same command on a one-document input (process
# and MPI start, tokenizer load, manifest), taken off in the last column.
bytes=$(stat -c %s "$work/english.jsonl")
echo '{"text": "In the beginning"}' > "$work/one.jsonl"
best() {
  local wall=0 cpu=0 startup=1e9
  for _ in $(seq "$runs"); do
    startup=$("$py" -c "print(min($startup, $(cpu_seconds "$work/one.jsonl" "$@")))")
    seconds=$(cpu_seconds "$work/english.jsonl" "$@")
    rate=$(sed -n 's/.*(\([0-9.]*\) MB\/s.*/\1/p' "$work/out")
    wall=$("$py" -c "print(max($wall, $rate))")
    cpu=$("$py" -c "print(min(1e9 if $cpu == 0 else $cpu, $seconds))")
  done
  "$py" -c "b = $bytes / 1e6; print(f'| {$wall:.2f} | {b / $cpu:.2f} | {b / max($cpu - $startup, 1e-9):.2f} |')"
}
echo
echo "nf-shard build --format pretrain of english.jsonl ($bytes bytes), BPE vocab $vocab, best of $runs:"
echo "| ranks x threads | wall MB/s | CPU MB/s | CPU MB/s after start-up |"
echo "|---|---|---|---|"
echo "| 1 x 1 $(best 1)"
echo "| 1 x 2 $(best 2)"
echo "| 2 x 1 (mpirun) $(best 1 mpirun -n 2 --bind-to none)"
