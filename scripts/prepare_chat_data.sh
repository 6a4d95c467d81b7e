#!/usr/bin/env bash
# Writes small chat datasets made from the KJV bible (Debian's bible-kjv) into OUTDIR, for trying
# the sft and dpo stages on the bundled corpus (docs/stages.md). Each verse of 6 words or more
# is cut in two halves:
#   sft.jsonl  {"instruction": "Continue the verse Ge1:1: In the beginning God", "output": "created ..."}
#   dpo.jsonl  {"prompt": <the same>, "chosen": "the heaven and the earth.",
#              "rejected": "earth. the and heaven the"}: the second half, and its words reversed
# (a rejected response that no other pair chooses, so the preference is learnable pair by pair).
#
#   scripts/prepare_chat_data.sh data/chat [VERSES]     # VERSES: a bible range, default Gen1:1-Rev22:21
set -euo pipefail
dir=${1:?usage: prepare_chat_data.sh OUTDIR [VERSES]}
verses=${2:-Gen1:1-Rev22:21}
command -v bible >/dev/null || { echo "prepare_chat_data.sh: 'bible' not found; run scripts/setup.sh (bible-kjv)" >&2; exit 1; }
mkdir -p "$dir"
bible -f "$verses" | awk -v sft="$dir/sft.jsonl.tmp" -v dpo="$dir/dpo.jsonl.tmp" '
  function quote(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
  NF >= 7 {
    # $1 is the reference ("Ge1:1"); the verse is $2..$NF, cut after half of its words.
    half = int((NF - 1) / 2)
    head = $2; for (i = 3; i <= half + 1; i++) head = head " " $i
    tail = $(half + 2); for (i = half + 3; i <= NF; i++) tail = tail " " $i
    reversed = $NF; for (i = NF - 1; i >= half + 2; i--) reversed = reversed " " $i
    prompt = quote("Continue the verse " $1 ": " head)
    print "{\"instruction\": " prompt ", \"output\": " quote(tail) "}" > sft
    print "{\"prompt\": " prompt ", \"chosen\": " quote(tail) ", \"rejected\": " quote(reversed) "}" > dpo
  }'
mv "$dir/sft.jsonl.tmp" "$dir/sft.jsonl"
mv "$dir/dpo.jsonl.tmp" "$dir/dpo.jsonl"
echo "prepare_chat_data.sh: wrote $dir/sft.jsonl and $dir/dpo.jsonl ($(wc -l <"$dir/sft.jsonl") verses)"
