"""An independent byte-level BPE encoder, written from scratch, to check nf's ids.

It reads a tokenizer.json the way Hugging Face defines it and encodes with GPT-2's original
algorithm (openai/gpt-2 encoder.py: merge the lowest-ranked pair everywhere, repeat). The split
pattern runs on Python's `re` engine: \\p{L}, \\p{N} and \\s (Unicode White_Space) are spelled
out as character classes built from `unicodedata`, so the reference needs no third-party regex engine.
"""
import json
import re
import sys
import unicodedata

# Unicode's White_Space property (what \s means in the regex engines of GPT-2 and tokenizers).
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[L]+| ?[N]+| ?[^SLN]+|[S]+(?![^S])|[S]+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\nLN]?[L]+|[N]{1,3}| ?[^SLN]+[\r\n]*|[S]*[\r\n]+|[S]+(?![^S])|[S]+"""
QWEN2 = LLAMA3.replace("[N]{1,3}", "[N]")
HF_REGEXES = {
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""": LLAMA3,
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""": QWEN2,
}


def _class_ranges(first_letter):
    """The code points whose general category starts with `first_letter`, as a [...] body."""
    parts, start, previous = [], None, None
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        inside = unicodedata.category(chr(cp))[0] == first_letter
        if inside and start is None:
            start = cp
        if not inside and start is not None:
            parts.append(re.escape(chr(start)) + ("-" + re.escape(chr(previous)) if previous > start else ""))
            start = None
        if inside:
            previous = cp
    if start is not None:
        parts.append(re.escape(chr(start)) + "-" + re.escape(chr(previous)))
    return "".join(parts)


def compile_pattern(template):
    letters, numbers = _class_ranges("L"), _class_ranges("N")
    spaces = "".join(re.escape(c) for c in WHITE_SPACE)
    source = template.replace("L", "\0L").replace("N", "\0N")  # mark the placeholders first
    source = source.replace("\0L", letters).replace("\0N", numbers).replace("S", spaces)
    return re.compile(source)


def bytes_to_unicode():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return {byte: chr(code) for byte, code in zip(printable, codes)}


class ReferenceBpe:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        model = doc["model"]
        self.vocab = model["vocab"]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {}
        for rank, pair in enumerate(merges):
            self.ranks.setdefault(pair, rank)
        self.ignore_merges = model.get("ignore_merges", False)
        pre = doc["pre_tokenizer"]
        if pre["type"] == "ByteLevel":
            template = GPT2
            self.prefix_space = pre.get("add_prefix_space", False)
        else:
            template = HF_REGEXES[pre["pretokenizers"][0]["pattern"]["Regex"]]
            self.prefix_space = pre["pretokenizers"][1].get("add_prefix_space", False)
        self.pattern = compile_pattern(template)
        self.byte_encoder = bytes_to_unicode()
        self.cache = {}

    def bpe(self, word):
        if self.ignore_merges and word in self.vocab:
            return [word]
        parts = list(word)
        while len(parts) > 1:
            pairs = {(parts[i], parts[i + 1]) for i in range(len(parts) - 1)}
            best = min(pairs, key=lambda pair: self.ranks.get(pair, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode(self, text):
        if self.prefix_space and text and not text.startswith(" "):
            text = " " + text
        ids = []
        for piece in self.pattern.findall(text):
            word = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            if word not in self.cache:
                self.cache[word] = [self.vocab[token] for token in self.bpe(word)]
            ids.extend(self.cache[word])
        return ids


if __name__ == "__main__":
    tokenizer = ReferenceBpe(sys.argv[1])
    print(" ".join(map(str, tokenizer.encode(sys.stdin.read()))))
