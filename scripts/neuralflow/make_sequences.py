"""The bundled corpus as the NeuralFlow model's dataset: sequence-format JSONL records
{"paragraphs": [...], "next": "...", "emotion": label, "id": "..."} (docs/data-format.md), which
`nf-shard build --format sequence` tokenizes.

- KJV (data/corpus/kjv.txt: a chapter per blank-line-separated paragraph, a verse a line): within
  each chapter, for each verse k >= 1, paragraphs = the up to --context verses before it and
  next = verse k; id `kjv:c<chapter>:v<k>`.
- Tang (data/corpus/tang.txt: a poem per paragraph; title line 《…》, author line 作者：…, then the
  poem's lines): each poem line is a paragraph, and the same windows run within each poem; id
  `tang:p<poem>:l<k>`.
Indices are 0-based positions in the file (chapter, poem) and in the chapter or poem (verse, line).
emotion = emotion_rule.classify(next). Records come in file order, KJV first, so the output is the
same on every run; it is written under a temporary name and renamed when complete.

  make_sequences.py --kjv data/corpus/kjv.txt --tang data/corpus/tang.txt --context 4 \
      --out DIR/sequences.jsonl [--max-records N]
"""
import argparse
import collections
import json
import os
import sys

import emotion_rule


class CorpusError(Exception):
    """A corpus file that does not have the layout this script reads; the message names file:line."""


def paragraphs(path):
    """The blank-line-separated paragraphs of a text file: lists of (line number, stripped line)."""
    block = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if line:
                block.append((number, line))
            elif block:
                yield block
                block = []
    if block:
        yield block


def windows(units, context):
    """(paragraphs, next, k) for each unit k >= 1: the up to `context` units before it, and it."""
    for k in range(1, len(units)):
        yield units[max(0, k - context) : k], units[k], k


def record(before, after, record_id):
    return {"paragraphs": before, "next": after, "emotion": emotion_rule.classify(after), "id": record_id}


def kjv_records(path, context):
    for chapter, block in enumerate(paragraphs(path)):
        verses = [text for _, text in block]
        for before, after, k in windows(verses, context):
            yield record(before, after, f"kjv:c{chapter}:v{k}")


def poem_lines(path, block):
    """The lines of one poem, without its title and author lines (which it must have)."""
    if len(block) < 2 or not (block[0][1].startswith("《") and block[0][1].endswith("》")):
        number, text = block[0]
        raise CorpusError(f"{path}:{number}: a poem must start with a title line 《…》, found {text[:40]!r}; "
                          "rewrite the corpus with scripts/prepare_corpus.sh")
    if not block[1][1].startswith("作者："):
        number, text = block[1]
        raise CorpusError(f"{path}:{number}: a poem's second line must be its author (作者：…), found {text[:40]!r}; "
                          "rewrite the corpus with scripts/prepare_corpus.sh")
    return [text for _, text in block[2:]]


def tang_records(path, context):
    for poem, block in enumerate(paragraphs(path)):
        for before, after, k in windows(poem_lines(path, block), context):
            yield record(before, after, f"tang:p{poem}:l{k}")


def limited(records, limit):
    for count, item in enumerate(records):
        if limit is not None and count >= limit:
            return
        yield item


def source_limits(sources, max_records):
    """--max-records N in all, split evenly over the sources given (the first gets the odd one)."""
    if max_records is None:
        return [None] * len(sources)
    share, extra = divmod(max_records, len(sources))
    return [share + (1 if i < extra else 0) for i in range(len(sources))]


def write(out, sources, context, max_records):
    """Writes the records of every source to out; returns {source: Counter of labels}."""
    labels = {}
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    temporary = f"{out}.tmp.{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as stream:
            for (name, reader, path), limit in zip(sources, source_limits(sources, max_records)):
                counts = labels[name] = collections.Counter()
                for item in limited(reader(path, context), limit):
                    stream.write(json.dumps(item, ensure_ascii=False) + "\n")
                    counts[item["emotion"]] += 1
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return labels


def summary(out, labels):
    def distribution(counts):
        return ", ".join(f"{label} {counts[label]}" for label in emotion_rule.LABELS)

    total = sum(labels.values(), collections.Counter())
    lines = [f"make_sequences.py: wrote {out}: {sum(total.values())} records"]
    for name, counts in labels.items():
        lines.append(f"  {name}: {sum(counts.values())} records; {distribution(counts)}")
    lines.append(f"  labels: {distribution(total)}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kjv", help="the KJV bible, a chapter per paragraph (data/corpus/kjv.txt)")
    parser.add_argument("--tang", help="the Tang poems, a poem per paragraph (data/corpus/tang.txt)")
    parser.add_argument("--context", type=int, default=4, help="most paragraphs before each next one (default 4)")
    parser.add_argument("--out", required=True, help="the JSONL file to write")
    parser.add_argument("--max-records", type=int, help="at most N records in all, split evenly over the sources (the first of each)")
    args = parser.parse_args()
    if args.context < 1:
        parser.error(f"--context must be at least 1, got {args.context}")
    if args.max_records is not None and args.max_records < 1:
        parser.error(f"--max-records must be at least 1, got {args.max_records}")
    sources = [(name, reader, path) for name, reader, path in
               (("kjv", kjv_records, args.kjv), ("tang", tang_records, args.tang)) if path]
    if not sources:
        parser.error("give --kjv, --tang or both")
    for _, _, path in sources:
        if not os.path.isfile(path):
            parser.error(f"corpus file {path} not found; write it with scripts/prepare_corpus.sh data/corpus")
    try:
        labels = write(args.out, sources, args.context, args.max_records)
    except CorpusError as error:
        sys.exit(f"make_sequences.py: {error}")
    print(summary(args.out, labels))


if __name__ == "__main__":
    main()
