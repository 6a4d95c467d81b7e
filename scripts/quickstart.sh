#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the main job on the
# bundled default data, end to end, on several ranks.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
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

echo "== nf-train: resolve and validate the tiny pretraining config on $ranks ranks"
mpirun -n "$ranks" "$build/src/nf-train" --config configs/pretrain_tiny.yaml --dry-run
echo "== resolved config: runs/pretrain_tiny/config.yaml"
head -n 14 runs/pretrain_tiny/config.yaml
