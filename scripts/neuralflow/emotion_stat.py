"""Does the requested emotion change what the NeuralFlow model generates? Scores a JSONL of
generations, one {"emotion": requested label, "text": generated text, ...} a line ("completion" is
accepted for "text"; other fields are ignored), with emotion_rule, the rule that labelled the
training data, and prints:

- per requested emotion: n, how the rule labels the texts, and agreement = the fraction whose
  rule label is the requested one;
- overall: agreement over the generations with a non-neutral request, and for each non-neutral
  label e: hit_rate(e | asked e) = the mean number of e's lexicon hits per generation asked for e,
  hit_rate(e | asked other) = the same over generations asked for any other label, and
  lift = their difference. A model that ignores the emotion has lift near 0.

  emotion_stat.py GENERATIONS.jsonl [--json OUT]
"""
import argparse
import json
import os
import sys

import emotion_rule

TEXT_KEYS = ("text", "completion")


class RecordError(Exception):
    """A generation record that cannot be scored; the message names file:line and the fix."""


def read_generations(path):
    """[(requested label, text)] from the JSONL file at path."""
    generations = []
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, 1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise RecordError(f"{where}: not UTF-8 (byte {error.start + 1}); write the file as UTF-8")
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                raise RecordError(f"{where}: not JSON ({error.msg} at column {error.colno}); each line must be one JSON object")
            if not isinstance(item, dict):
                raise RecordError(f"{where}: a record must be a JSON object, found {type(item).__name__}")
            emotion = item.get("emotion")
            if emotion not in emotion_rule.LABELS:
                raise RecordError(f"{where}: \"emotion\" must be one of {', '.join(emotion_rule.LABELS)} "
                                  f"(the labels of emotion_rule.py), found {emotion!r}")
            text = next((item[key] for key in TEXT_KEYS if key in item), None)
            if not isinstance(text, str):
                raise RecordError(f"{where}: needs the generated text as a string in \"text\" or \"completion\"")
            generations.append((emotion, text))
    if not generations:
        raise RecordError(f"{path}: no generations; expected one JSON object a line")
    return generations


def mean(values):
    return sum(values) / len(values) if values else None


def statistics(generations):
    """The figures this script prints, as a JSON-ready dict."""
    scored = [(asked, emotion_rule.classify(text), emotion_rule.hits(text)) for asked, text in generations]
    per_emotion = {}
    for asked in emotion_rule.LABELS:
        mine = [(label, counts) for a, label, counts in scored if a == asked]
        per_emotion[asked] = {
            "n": len(mine),
            "labels": {label: sum(1 for got, _ in mine if got == label) for label in emotion_rule.LABELS},
            "agreement": mean([got == asked for got, _ in mine]),
        }
    non_neutral = [label == asked for asked, label, _ in scored if asked != "neutral"]
    hit_rate = {}
    for emotion in emotion_rule.LABELS[1:]:
        asked = mean([counts[emotion] for a, _, counts in scored if a == emotion])
        other = mean([counts[emotion] for a, _, counts in scored if a != emotion])
        lift = asked - other if asked is not None and other is not None else None
        hit_rate[emotion] = {"asked": asked, "other": other, "lift": lift}
    return {
        "per_emotion": per_emotion,
        "overall": {"n": len(scored), "agreement_non_neutral": mean(non_neutral), "hit_rate": hit_rate},
    }


def figure(value):
    return "-" if value is None else f"{value:.3f}"


def table(stats):
    labels = emotion_rule.LABELS
    lines = ["asked      n  " + "  ".join(f"{label:>7}" for label in labels) + "  agreement"]
    for asked, row in stats["per_emotion"].items():
        distribution = "  ".join(f"{row['labels'][label]:>7}" for label in labels)
        lines.append(f"{asked:<8} {row['n']:>3}  {distribution}  {figure(row['agreement']):>9}")
    overall = stats["overall"]
    lines.append(f"overall: {overall['n']} generations, agreement over non-neutral requests "
                 f"{figure(overall['agreement_non_neutral'])}")
    lines.append("emotion  hit_rate(e|asked e)  hit_rate(e|asked other)     lift")
    for emotion, rates in overall["hit_rate"].items():
        lines.append(f"{emotion:<8} {figure(rates['asked']):>19}  {figure(rates['other']):>23}  {figure(rates['lift']):>7}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("generations", help="JSONL of {\"emotion\", \"text\" or \"completion\"} records")
    parser.add_argument("--json", metavar="OUT", help="also write the figures to OUT as JSON")
    args = parser.parse_args()
    if not os.path.isfile(args.generations):
        parser.error(f"generations file {args.generations} not found")
    try:
        stats = statistics(read_generations(args.generations))
    except RecordError as error:
        sys.exit(f"emotion_stat.py: {error}")
    print(table(stats))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(stats, out, indent=2)
            out.write("\n")


if __name__ == "__main__":
    main()
