#!/usr/bin/env bash
# Writes the English benchmark corpus of nf-shard build and the tokenizers into OUTDIR: every
# English fortune of Debian's `fortunes` (one document each) and every KJV chapter
# (scripts/prepare_corpus.sh), ~7 MB, 16 k documents, 52 k distinct words, as
#   english.jsonl  {"text": …} records: what nf-shard build reads
#   english.txt    the same documents one a line (newlines inside a document become spaces): what
#                  the tokenizer benchmarks encode, one document per line
#
#   scripts/prepare_english_corpus.sh OUTDIR
set -euo pipefail
dir=${1:?usage: prepare_english_corpus.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
py=${NF_PYTHON:-$root/.venv/bin/python}
fortunes=/usr/share/games/fortunes
[[ -r $fortunes/computers ]] || { echo "prepare_english_corpus.sh: no English fortunes in $fortunes; run scripts/setup.sh (fortunes)" >&2; exit 1; }
bash "$root/scripts/prepare_corpus.sh" "$dir" >/dev/null
"$py" - "$fortunes" "$dir" <<'PY'
import json, os, sys
fortunes, out = sys.argv[1], sys.argv[2]
chinese = {"chinese", "tang300", "song100"}  # fortunes-zh's files
documents = []
for name in sorted(os.listdir(fortunes)):
    path = os.path.join(fortunes, name)
    if "." in name or name in chinese or not os.path.isfile(path):
        continue
    with open(path, encoding="utf-8", errors="replace") as f:
        documents += [entry.strip("\n") for entry in f.read().split("\n%\n") if entry.strip("\n%").strip()]
with open(os.path.join(out, "kjv.txt"), encoding="utf-8") as f:
    documents += f.read().split("\n\n")
with open(os.path.join(out, "english.jsonl"), "w", encoding="utf-8") as jsonl, \
     open(os.path.join(out, "english.txt"), "w", encoding="utf-8") as lines:
    for document in documents:
        jsonl.write(json.dumps({"text": document}, ensure_ascii=False) + "\n")
        lines.write(document.replace("\n", " ") + "\n")
print(f"prepare_english_corpus.sh: {len(documents)} documents, {os.path.getsize(os.path.join(out, 'english.jsonl'))} bytes of JSONL")
PY
