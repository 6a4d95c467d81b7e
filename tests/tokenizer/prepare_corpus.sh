#!/usr/bin/env bash
# Writes the real-text corpora of the tokenizer tests into DIR: bible.txt (the KJV, one verse a
# line, without references) and chinese.txt (Tang and Song poems and the Chinese fortunes,
# without their ANSI colour escapes, some of which are nested).
set -euo pipefail
dir=${1:?usage: prepare_corpus.sh DIR}
mkdir -p "$dir"
bible -f 'Gen1:1-Rev22:21' | sed 's/^[^ ]* //' > "$dir/bible.txt.tmp"
mv "$dir/bible.txt.tmp" "$dir/bible.txt"
cat /usr/share/games/fortunes/{tang300,song100,chinese} |
  sed -e 's/\x1b\[[0-9;]*m//g' -e 's/\x1b\[[0-9;]*m//g' | tr -d '\033' > "$dir/chinese.txt.tmp"
mv "$dir/chinese.txt.tmp" "$dir/chinese.txt"
