#!/usr/bin/env bash
# The datasets of configs/sft_tiny.yaml and configs/dpo_tiny.yaml (so of jobs/sft.slurm,
# jobs/dpo.slurm and jobs/pipeline.sh), from the bundled KJV bible: scripts/prepare_chat_data.sh's
# sft.jsonl and dpo.jsonl in DIR/chat, tokenized by nf-shard build with the tokenizer of the
# pretraining dataset DIR/pretrain_tiny (scripts/quickstart.sh builds it) into DIR/sft_tiny and
# DIR/dpo_tiny (docs/stages.md). Later stages must share the pretraining tokenizer: a checkpoint
# loads only into a model trained on the same token ids.
#
#   scripts/prepare_stage_data.sh [DIR [VERSES]]   # DIR default data; VERSES a bible range, default all
#
# nf-shard is $NF_BUILD_DIR/data_tools/nf-shard (NF_BUILD_DIR default <checkout>/build).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-data}
verses=${2:-Gen1:1-Rev22:21}
fail() {
  echo "prepare_stage_data.sh: $1" >&2
  exit 1
}
shard=${NF_BUILD_DIR:-$root/build}/data_tools/nf-shard
[[ -x $shard ]] || fail "nf-shard not found at $shard; build it (scripts/build.sh), or set NF_BUILD_DIR"
[[ -f $dir/pretrain_tiny/manifest.json ]] ||
  fail "no pretraining dataset $dir/pretrain_tiny, whose tokenizer the chat data takes; run scripts/quickstart.sh first"

"$root/scripts/prepare_chat_data.sh" "$dir/chat" "$verses"
for format in sft dpo; do
  "$shard" build --input "$dir/chat/$format.jsonl" --tokenizer "$dir/pretrain_tiny" --format "$format" \
    --out "$dir/${format}_tiny" --quiet
done
