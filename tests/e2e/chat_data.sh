# shellcheck shell=bash
# Sourced by the stage tests (test_stages.sh, test_stage_layouts.sh, tests/slurm/lib.sh's
# stage_data): chat_data VERSES writes, under $work, a 320-id BPE tokenizer trained on the KJV
# verses VERSES (tok/), the pretraining dataset of those verses (pretrain/), and the sft and dpo
# datasets of scripts/prepare_chat_data.sh for Gen1:1-Gen2:25 (chat/), which take the pretraining
# dataset's tokenizer. Builds on the preamble ($shard, $source, $work, fail).
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"

chat_data() {
  bible -f "$1" | sed 's/^[^ ]* //' >"$work/text.txt" || fail "bible (bible-kjv) is not installed"
  "$shard" tokenizer train --vocab-size 320 --input "$work/text.txt" --out "$work/tok" --threads 1 >/dev/null ||
    fail "tokenizer train"
  "$shard" build --input "$work/text.txt" --tokenizer "$work/tok" --out "$work/pretrain" --val-fraction 0 --quiet \
    >/dev/null || fail "pretrain dataset"
  "$source/scripts/prepare_chat_data.sh" "$work/chat" 'Gen1:1-Gen2:25' >/dev/null || fail "prepare_chat_data.sh"
}
