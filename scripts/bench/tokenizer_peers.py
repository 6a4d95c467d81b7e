"""Encode throughput of the Python tokenizers users know, on one thread each, on the documents of
a text file (one per line, newline included, as bench-tokenizer reads them); prints table rows in
bench-tokenizer's columns, then how many documents each peer encodes to nf's exact ids.

  tokenizer_peers.py CORPUS.txt NF_TOKENIZER.json SP.model NF_IDS.txt

- HF tokenizers: the same tokenizer.json nf wrote (the same vocabulary, merges and pattern), so
  its ids must equal nf's on every document; RAYON_NUM_THREADS=1 keeps it on one thread.
- tiktoken: an Encoding built from that vocabulary (mergeable ranks = nf's ids, GPT-2's split
  pattern). tiktoken merges by the rank of the merged token rather than by merge rule, which
  agrees with the merge list on (almost) every piece: the mismatches are counted.
- sentencepiece: a BPE model of the same vocabulary size trained on the corpus (its own ids).
"""
import json
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sentencepiece  # noqa: E402
import tiktoken  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_level_decoder():
    """GPT-2's bytes_to_unicode, inverted: a token's printable form back to its bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            mapping[chr(byte)] = byte
        else:
            mapping[chr(256 + extra)] = byte
            extra += 1
    return lambda token: bytes(mapping[c] for c in token)


def tiktoken_encoding(tokenizer_json):
    spec = json.load(open(tokenizer_json, encoding="utf-8"))
    to_bytes = byte_level_decoder()
    ranks = {to_bytes(token): rank for token, rank in spec["model"]["vocab"].items()}
    return tiktoken.Encoding(name="nf", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})


def best_of(runs, encode):
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = encode()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    corpus, tokenizer_json, sp_model, nf_ids = sys.argv[1:5]
    with open(corpus, encoding="utf-8") as f:
        documents = [line for line in f.read().splitlines(keepends=True) if line != "\n"]
    megabytes = sum(len(d.encode("utf-8")) for d in documents) / 1e6
    with open(nf_ids) as f:
        reference = [[int(x) for x in line.split()] for line in f]
    assert len(reference) == len(documents), f"{len(reference)} nf documents, {len(documents)} here"

    hf = Tokenizer.from_file(tokenizer_json)
    enc = tiktoken_encoding(tokenizer_json)
    sp = sentencepiece.SentencePieceProcessor(model_file=sp_model)
    peers = [
        ("HF tokenizers (tokenizer.json)", "bpe", hf.get_vocab_size(),
         lambda: [e.ids for e in hf.encode_batch(documents, add_special_tokens=False)], True),
        ("tiktoken (nf's vocabulary)", "bpe", enc.n_vocab,
         lambda: enc.encode_ordinary_batch(documents, num_threads=1), True),
        ("sentencepiece (bpe, trained here)", "sentencepiece", sp.get_piece_size(),
         lambda: sp.encode(documents, num_threads=1), False),
    ]
    agreement = []
    for name, kind, vocab, encode, same_vocabulary in peers:
        seconds, ids = best_of(3, encode)
        tokens = sum(map(len, ids))
        print(f"| {name:<34} | {kind:<13} | {vocab:6d} | {megabytes / seconds:8.2f} | {tokens / seconds:13.0f} | "
              f"{len(documents) / seconds:10.0f} |")
        if same_vocabulary:
            equal = sum(a == b for a, b in zip(ids, reference))
            agreement.append(f"{name}: {equal} of {len(documents)} documents encode to nf's ids")
    print()
    for line in agreement:
        print(line)


if __name__ == "__main__":
    main()
