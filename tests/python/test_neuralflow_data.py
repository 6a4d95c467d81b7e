"""Tests of the NeuralFlow data scripts (scripts/neuralflow): the emotion rule, make_sequences.py on
a tiny corpus written here, and emotion_stat.py on a tiny JSONL of generations. Plain Python, no
pytest: every failed check is printed, and the exit status is 1 if any failed.

  .venv/bin/python tests/python/test_neuralflow_data.py
"""
import json
import os
import subprocess
import sys
import tempfile

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "neuralflow")
sys.path.insert(0, SCRIPTS)
import emotion_rule  # noqa: E402  (found through the path set just above)

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"FAIL: {what}")


def run(script, *args):
    return subprocess.run([sys.executable, os.path.join(SCRIPTS, script), *args], capture_output=True, text=True)


def test_rule():
    expected = {
        "And they rejoiced, and sang praises unto the LORD.": "happy",
        "And Joseph wept bitterly, and mourned for his father.": "sad",
        "The wrath of the LORD was kindled, and he smote them.": "angry",
        "In the beginning God created the heaven and the earth.": "neutral",
        "They rejoice and weep.": "neutral",  # one hit each: a tie
        "A single sight happened; he tore his coat.": "neutral",  # stems must not catch these words
        "欢笑满堂": "happy",
        "愁泪满衣襟": "sad",
        "怒发冲冠，杀敌": "angry",
        "床前明月光": "neutral",
        "笑中有泪": "neutral",  # a tie
        "欢笑 and they wept": "happy",  # English and Chinese hits add up: 2 happy, 1 sad
    }
    for text, label in expected.items():
        got = emotion_rule.classify(text)
        check(got == label, f"classify({text!r}) is {got}, expected {label}")
    counts = emotion_rule.hits("Rejoice, REJOICING, joyful! 喜喜")
    check(counts == {"neutral": 0, "happy": 5, "sad": 0, "angry": 0}, f"hits counts each word and character: {counts}")
    check(emotion_rule.LABELS == ("neutral", "happy", "sad", "angry"), "labels in the documented order")


KJV = """First verse.
They rejoiced with great joy.
Third verse.
And he wept.
Fifth verse.
His wrath was kindled.

Lonely verse of a one-verse chapter.

Chapter two, verse zero.
Chapter two, verse one.
"""

TANG = """《甲》
作者：某
春风一曲歌。
愁云满天。
明月照人。

《乙》
作者：某
独句无后。
"""


def test_make_sequences(directory):
    kjv, tang, out = (os.path.join(directory, name) for name in ("kjv.txt", "tang.txt", "out/sequences.jsonl"))
    for path, text in ((kjv, KJV), (tang, TANG)):
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
    result = run("make_sequences.py", "--kjv", kjv, "--tang", tang, "--context", "4", "--out", out)
    check(result.returncode == 0, f"make_sequences.py runs: {result.stderr}")
    records = [json.loads(line) for line in open(out, encoding="utf-8")]
    ids = [r["id"] for r in records]
    check(ids == ["kjv:c0:v1", "kjv:c0:v2", "kjv:c0:v3", "kjv:c0:v4", "kjv:c0:v5", "kjv:c2:v1", "tang:p0:l1", "tang:p0:l2"],
          f"one record per verse or line after the first of its chapter or poem, in file order: {ids}")
    by_id = {r["id"]: r for r in records}
    check(by_id["kjv:c0:v5"]["paragraphs"] == ["They rejoiced with great joy.", "Third verse.", "And he wept.", "Fifth verse."],
          "the window holds the 4 verses before the next one")
    check(by_id["kjv:c0:v5"]["next"] == "His wrath was kindled.", "next is the verse itself")
    check(by_id["kjv:c0:v1"]["paragraphs"] == ["First verse."], "a short window at the start of a chapter")
    check(by_id["tang:p0:l1"]["paragraphs"] == ["春风一曲歌。"], "title and author lines are not paragraphs")
    labels = [r["emotion"] for r in records]
    check(labels == ["happy", "neutral", "sad", "neutral", "angry", "neutral", "sad", "neutral"],
          f"emotion = classify(next): {labels}")
    check("kjv: 6 records" in result.stdout and "tang: 2 records" in result.stdout, f"summary per source: {result.stdout}")
    check(not [name for name in os.listdir(os.path.dirname(out)) if ".tmp." in name], "no temporary file left behind")

    result = run("make_sequences.py", "--kjv", kjv, "--tang", tang, "--out", out, "--max-records", "3")
    ids = [json.loads(line)["id"] for line in open(out, encoding="utf-8")]
    check(ids == ["kjv:c0:v1", "kjv:c0:v2", "tang:p0:l1"], f"--max-records 3 takes 2 + 1 from the sources: {ids}")

    with open(tang, "w", encoding="utf-8") as stream:
        stream.write("《甲》\n作者：某\n一。\n二。\n\n没有标题。\n二。\n")
    result = run("make_sequences.py", "--tang", tang, "--out", out)
    check(result.returncode != 0 and f"{tang}:6:" in result.stderr, f"a poem without a title fails naming file:line: {result.stderr}")


def test_emotion_stat(directory):
    generations = os.path.join(directory, "generations.jsonl")
    rows = [
        {"emotion": "happy", "text": "They rejoiced and sang."},  # happy, 2 happy hits
        {"emotion": "happy", "completion": "Plain words."},  # neutral
        {"emotion": "sad", "text": "愁泪", "prompt": "ignored"},  # sad, 2 sad hits
        {"emotion": "angry", "text": "He wept."},  # sad, 1 sad hit
        {"emotion": "neutral", "text": "Nothing here."},  # neutral
    ]
    with open(generations, "w", encoding="utf-8") as stream:
        stream.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    figures = os.path.join(directory, "figures.json")
    result = run("emotion_stat.py", generations, "--json", figures)
    check(result.returncode == 0, f"emotion_stat.py runs: {result.stderr}")
    stats = json.load(open(figures))
    per = stats["per_emotion"]
    check(per["happy"]["n"] == 2 and per["happy"]["agreement"] == 0.5, f"happy agreement 1/2: {per['happy']}")
    check(per["happy"]["labels"] == {"neutral": 1, "happy": 1, "sad": 0, "angry": 0}, f"happy label counts: {per['happy']}")
    check(per["sad"]["agreement"] == 1.0 and per["angry"]["agreement"] == 0.0, "sad agrees, angry does not")
    check(per["neutral"]["agreement"] == 1.0, "neutral agreement")
    check(abs(stats["overall"]["agreement_non_neutral"] - 0.5) < 1e-12, f"2 of 4 non-neutral requests agree: {stats['overall']}")
    sad = stats["overall"]["hit_rate"]["sad"]
    check(sad["asked"] == 2.0 and abs(sad["other"] - 0.25) < 1e-12 and abs(sad["lift"] - 1.75) < 1e-12,
          f"sad hit rates 2 vs 1/4: {sad}")
    check("agreement" in result.stdout and "lift" in result.stdout, f"prints the table: {result.stdout}")

    with open(generations, "w", encoding="utf-8") as stream:
        stream.write('{"emotion": "happy", "text": "ok"}\n{"emotion": "happy"}\n')
    result = run("emotion_stat.py", generations)
    check(result.returncode != 0 and f"{generations}:2:" in result.stderr, f"a record without text fails naming file:line: {result.stderr}")


def main():
    test_rule()
    with tempfile.TemporaryDirectory() as directory:
        test_make_sequences(directory)
        test_emotion_stat(directory)
    if failures:
        print(f"test_neuralflow_data.py: {len(failures)} check(s) failed")
        sys.exit(1)
    print("test_neuralflow_data.py: all checks passed")


if __name__ == "__main__":
    main()
