#!/usr/bin/env bash
# The dataset of the NeuralFlow paragraph-latent model (issue #20), from the bundled corpus:
# scripts/neuralflow/make_sequences.py turns data/corpus (KJV verses, Tang poem lines) into
# sequence records, 4 paragraphs of context and the next one, labelled by
# scripts/neuralflow/emotion_rule.py, in DIR/neuralflow_text/sequences.jsonl; nf-shard build
# --format sequence tokenizes them with data/tokenizer into DIR/neuralflow; and DIR/neuralflow_emotion,
# the emotion stage's data (the guide's train_with_emotion.jsonl): every record of a non-neutral
# label and as many neutral ones as the largest of those labels has, so that the stage sees each
# emotion about as often (86% of the corpus is neutral).
#
#   scripts/prepare_neuralflow_data.sh [DIR]   # DIR default data
#
# NF_SEQUENCES_MAX=N keeps at most N records, half from each source (a small dataset for tests);
# NF_CORPUS_DIR and NF_TOKENIZER name another corpus directory and tokenizer.
# nf-shard is $NF_BUILD_DIR/data_tools/nf-shard (NF_BUILD_DIR default <checkout>/build); the
# Python is $NF_PYTHON (default <checkout>/.venv/bin/python).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-data}
fail() {
  echo "prepare_neuralflow_data.sh: $1" >&2
  exit 1
}
py=${NF_PYTHON:-$root/.venv/bin/python}
shard=${NF_BUILD_DIR:-$root/build}/data_tools/nf-shard
corpus=${NF_CORPUS_DIR:-$root/data/corpus}
tokenizer=${NF_TOKENIZER:-$root/data/tokenizer}
[[ -x $py ]] || fail "python not found at $py; run scripts/setup.sh, or set NF_PYTHON"
[[ -x $shard ]] || fail "nf-shard not found at $shard; build it (scripts/build.sh), or set NF_BUILD_DIR"
[[ -f $corpus/kjv.txt && -f $corpus/tang.txt ]] ||
  fail "no corpus in $corpus (kjv.txt, tang.txt); run scripts/quickstart.sh, or scripts/prepare_corpus.sh data/corpus"
[[ -f $tokenizer/tokenizer.json || -f $tokenizer ]] ||
  fail "no tokenizer $tokenizer/tokenizer.json; run scripts/quickstart.sh, which trains it"

limit=()
if [[ -n ${NF_SEQUENCES_MAX:-} ]]; then
  [[ $NF_SEQUENCES_MAX =~ ^[1-9][0-9]*$ ]] || fail "NF_SEQUENCES_MAX must be a positive integer, got '$NF_SEQUENCES_MAX'"
  limit=(--max-records "$NF_SEQUENCES_MAX")
fi
"$py" "$root/scripts/neuralflow/make_sequences.py" --kjv "$corpus/kjv.txt" --tang "$corpus/tang.txt" --context 4 \
  --out "$dir/neuralflow_text/sequences.jsonl" "${limit[@]}"
"$shard" build --input "$dir/neuralflow_text/sequences.jsonl" --tokenizer "$tokenizer" --format sequence \
  --out "$dir/neuralflow" --val-fraction 0.02 --strict --quiet
"$py" - "$dir/neuralflow_text/sequences.jsonl" "$dir/neuralflow_text/emotion.jsonl" <<'PY'
import collections, json, os, sys
records = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
by_label = collections.defaultdict(list)
for record in records:
    by_label[record["emotion"]].append(record)
most = max((len(v) for k, v in by_label.items() if k != "neutral"), default=0)
kept = [r for r in records if r["emotion"] != "neutral" or (most := most - 1) >= 0]
with open(sys.argv[2] + ".tmp", "w", encoding="utf-8") as out:
    for record in kept:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
print("emotion data:", dict(collections.Counter(r["emotion"] for r in kept)))
PY
"$shard" build --input "$dir/neuralflow_text/emotion.jsonl" --tokenizer "$tokenizer" --format sequence \
  --out "$dir/neuralflow_emotion" --val-fraction 0.02 --strict --quiet
