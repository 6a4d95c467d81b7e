#!/usr/bin/env bash
# Tokenizer throughput, one table: nf's byte-level BPE against sentencepiece (a BPE-type model
# of the same vocabulary size, trained here), single thread each, same documents (one per line
# of the KJV bible + Chinese poems, ~6 MB). Rows: nf BPE and sentencepiece through nf's C++
# wrapper (bench-tokenizer), then the sentencepiece Python package's batch encode with num_threads=1.
#
#   scripts/bench_tokenizer.sh [BUILD_DIR] [VOCAB_SIZE]      (build: ninja -C build bench-tokenizer nf-shard)
set -euo pipefail
build=${1:-build}
vocab=${2:-8192}
root=$(cd "$(dirname "$0")/.." && pwd)
py=${NF_PYTHON:-$root/.venv/bin/python}  # the project's Python (scripts/setup.sh)
work=$(mktemp -d /tmp/nf_bench_tokenizer.XXXXXX)
trap 'rm -rf "$work"' EXIT

bash "$root/tests/tokenizer/prepare_corpus.sh" "$work"
cat "$work/bible.txt" "$work/chinese.txt" > "$work/corpus.txt"
"$build/data_tools/nf-shard" tokenizer train --vocab-size "$vocab" --input "$work/corpus.txt" --out "$work/nf" \
  --threads 1 > "$work/train.log"
"$py" - "$work" "$vocab" <<'PY'
import sys, sentencepiece as spm
work, vocab = sys.argv[1], int(sys.argv[2])
spm.SentencePieceTrainer.train(input=f"{work}/corpus.txt", model_prefix=f"{work}/sp_bpe", vocab_size=vocab,
                               model_type="bpe", character_coverage=0.9995, minloglevel=2, num_threads=2)
PY

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
"$build/data_tools/bench-tokenizer" --input "$work/corpus.txt" --threads 1 \
  --tokenizer "$work/nf/tokenizer.json" --tokenizer "$work/sp_bpe.model"
"$py" - "$work" <<'PY'
import sys, time, sentencepiece as spm
work = sys.argv[1]
with open(f"{work}/corpus.txt", encoding="utf-8") as f:
    text = f.read()
documents = [line + "\n" for line in text.split("\n") if line]
processor = spm.SentencePieceProcessor(model_file=f"{work}/sp_bpe.model")
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    ids = processor.encode(documents, num_threads=1)
    best = min(best, time.perf_counter() - start)
tokens = sum(map(len, ids))
mb = len(text.encode("utf-8")) / 1e6
name = "sentencepiece Python (sp_bpe)"
print(f"| {name:<34} | {'sentencepiece':<13} | {processor.get_piece_size():6d} | {mb / best:8.2f} | "
      f"{tokens / best:13.0f} | {len(documents) / best:10.0f} |")
PY
