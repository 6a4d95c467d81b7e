#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the main job on the
# bundled default data, end to end, on several ranks: shard the corpus, pretrain the tiny model,
# show the loss falling, export the checkpoint to Hugging Face format, and generate text from it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${NF_PYTHON:-$root/.venv/bin/python}  # the project's Python (scripts/setup.sh)
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
build=${NF_BUILD_DIR:-$root/build}
source "$root/scripts/mpi_env.sh"
ranks=${NF_RANKS:-4}
cd "$root"

echo "== data: the bundled corpus (KJV bible + Tang poems), a BPE tokenizer, and a dataset built on $ranks ranks"
scripts/prepare_corpus.sh data/corpus
[[ -f data/tokenizer/tokenizer.json ]] ||
  "$build/data_tools/nf-shard" tokenizer train --vocab-size 8192 --input data/corpus/kjv.txt data/corpus/tang.txt \
    --out data/tokenizer
mpirun -n "$ranks" "$build/data_tools/nf-shard" build --input data/corpus --tokenizer data/tokenizer \
  --format pretrain --out data/pretrain_tiny --threads 1 --quiet
"$build/data_tools/nf-shard" verify data/pretrain_tiny

echo "== nf-train: pretrain the tiny model (~9.4M parameters) on $ranks ranks (dp $ranks)"
rm -rf runs/pretrain_tiny
mpirun -n "$ranks" "$build/src/nf-train" --config configs/pretrain_tiny.yaml

echo "== the loss, from runs/pretrain_tiny/metrics.jsonl (ln 8192 = 9.01 is a uniform guess)"
"$py" - runs/pretrain_tiny/metrics.jsonl <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
train = [r for r in records if "loss" in r]
val = [r for r in records if "val_loss" in r]
print(f"train loss: step {train[0]['step']} {train[0]['loss']:.3f} -> step {train[-1]['step']} {train[-1]['loss']:.3f}")
print("val loss:   " + ", ".join(f"step {r['step']} {r['val_loss']:.3f}" for r in val))
PY

echo "== export the final checkpoint as a Hugging Face Llama directory"
rm -rf runs/pretrain_tiny/hf
"$build/src/nf-ckpt" export-hf runs/pretrain_tiny/checkpoints/step_60 runs/pretrain_tiny/hf

echo "== nf-generate: the trained model continues three prompts (temperature 0.7, top-k 40, seed 1234)"
"$build/src/nf-generate" --model runs/pretrain_tiny --max-new-tokens 24 --temperature 0.7 --top-k 40 \
  --out runs/pretrain_tiny/generated.jsonl \
  --prompt "In the beginning God" --prompt "And the LORD said unto Moses," --prompt "床前明月光，"
"$py" - runs/pretrain_tiny/generated.jsonl <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"{r['prompt']} ▸{r['completion']!r} ({len(r['tokens'])} tokens, {r['finish_reason']})")
PY
