"""nf's BPE ids == an independent Python encoder's ids (tests/python/bpe_reference.py).

Trains tokenizers with `nf-shard tokenizer train` on the real corpora (one per split pattern),
encodes a sample with `nf-shard tokenizer encode`, and compares with the reference on the same
tokenizer.json. The sample mixes English verses, Chinese poems, verses with their spaces removed
(pieces over 64 bytes, which nf merges with its heap path) and hand-picked edge cases.

usage: test_bpe_reference.py NF_SHARD CORPUS_DIR WORK_DIR
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpe_reference import ReferenceBpe  # noqa: E402


def sample_text(corpus):
    with open(os.path.join(corpus, "bible.txt"), encoding="utf-8") as f:
        bible = f.read()
    with open(os.path.join(corpus, "chinese.txt"), encoding="utf-8") as f:
        chinese = f.read()
    verses = bible[1_000_000:1_200_000]
    despaced = "\n".join(line.replace(" ", "") for line in bible[2_000_000:2_030_000].splitlines())
    edge = ("I'm here,  they'LL SAY: don't!\n\n\t  x 1234567 ½ ٣٤ naïve\u3000全角\u00a0nbsp "
            "emoji 😀😀 math 𝐀𝐁 end.\r\n  \n   ")
    return verses + chinese[:200_000] + despaced + edge


def main():
    nf_shard, corpus, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    sample_path = os.path.join(work, "sample.txt")
    text = sample_text(corpus)
    with open(sample_path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    failures = 0
    for pattern in ("gpt2", "llama3", "qwen2"):
        out = os.path.join(work, pattern)
        subprocess.run([nf_shard, "tokenizer", "train", "--vocab-size", "3000", "--pre-tokenizer", pattern, "--input",
                        os.path.join(corpus, "bible.txt"), os.path.join(corpus, "chinese.txt"), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        encoded = subprocess.run([nf_shard, "tokenizer", "encode", "--tokenizer", out, "--input", sample_path],
                                 check=True, capture_output=True, text=True).stdout
        ours = [int(x) for x in encoded.split()]
        reference = ReferenceBpe(os.path.join(out, "tokenizer.json")).encode(text)
        if ours == reference:
            print(f"{pattern}: {len(ours)} ids identical on {len(text.encode())} bytes")
            continue
        failures += 1
        first = next((i for i, (a, b) in enumerate(zip(ours, reference)) if a != b), min(len(ours), len(reference)))
        print(f"{pattern}: MISMATCH at id {first} of {len(ours)} (ours) / {len(reference)} (reference)")
        print("  ours:     ", ours[max(0, first - 5):first + 10])
        print("  reference:", reference[max(0, first - 5):first + 10])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
