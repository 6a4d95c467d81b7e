#!/usr/bin/env bash
# Writes the bundled pretraining corpus into OUTDIR as plain-text paragraphs, the layout
# `nf-shard build --format pretrain` reads from *.txt files (one document per paragraph):
#   kjv.txt   the King James Bible (Debian's bible-kjv), one chapter per paragraph, a verse a line
#   tang.txt  the 300 Tang poems (Debian's fortunes-zh, tang300), one poem per paragraph
# (tests/tokenizer/prepare_corpus.sh writes one verse a line without paragraphs, for tokenizers.)
#
#   scripts/prepare_corpus.sh data/corpus
set -euo pipefail
dir=${1:?usage: prepare_corpus.sh OUTDIR}
command -v bible >/dev/null || { echo "prepare_corpus.sh: 'bible' not found; run scripts/setup.sh (bible-kjv)" >&2; exit 1; }
poems=/usr/share/games/fortunes/tang300
[[ -r $poems ]] || { echo "prepare_corpus.sh: $poems not found; run scripts/setup.sh (fortunes-zh)" >&2; exit 1; }
mkdir -p "$dir"
# "Ge1:1 In the beginning ..." -> the verse text; a blank line whenever the chapter changes.
bible -f 'Gen1:1-Rev22:21' |
  awk '{ split($1, ref, ":"); if (ref[1] != chapter && NR > 1) print ""; chapter = ref[1]; sub(/^[^ ]* /, ""); print }' \
    > "$dir/kjv.txt.tmp"
mv "$dir/kjv.txt.tmp" "$dir/kjv.txt"
# Fortune entries end with "%"; colour escapes (some nested) and blank lines inside a poem go.
sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\x1b\[[0-9;]*m//g' "$poems" | tr -d '\033' |
  awk '/^%$/ { if (n) print ""; n = 0; next } NF { print; n++ }' > "$dir/tang.txt.tmp"
mv "$dir/tang.txt.tmp" "$dir/tang.txt"
echo "prepare_corpus.sh: wrote $dir/kjv.txt ($(grep -c '^$' "$dir/kjv.txt") + 1 chapters) and $dir/tang.txt"
