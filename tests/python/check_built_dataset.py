"""Reads a dataset written by `nf-shard build` with plain h5py/numpy/json, as an outside tool would,
and checks it against its manifest: SHA-256 of every shard, the shard attributes, tokens dtype and
layout, doc offsets, token ids below the vocabulary, and per-split counts. With --same-as OTHER, the
two datasets must hold the same token stream per split (e.g. a 2-rank and a 1-rank build). With
--first-doc IDS_FILE (token ids, space separated, as `nf-shard tokenizer encode` prints them), the
first document of the dataset (in input order: train or val) must be those ids followed by <|eos|>.

usage: check_built_dataset.py DATASET [--same-as OTHER] [--first-doc IDS_FILE]
"""
import argparse
import hashlib
import json

import h5py
import numpy as np


def read_split(dataset, manifest, split):
    """(tokens, doc lengths) of a split, shard by shard in manifest order, after checking each shard."""
    vocab = manifest["tokenizer"]["vocab_size"]
    dtype = np.uint16 if vocab <= 65536 else np.uint32
    tokens, lengths = [], []
    record = manifest["splits"][split]
    for shard in record["shards"]:
        path = f"{dataset}/{shard['file']}"
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == shard["sha256"], path
        with h5py.File(path, "r") as h5:
            attrs = h5.attrs
            assert attrs["magic"] == "NFTOKENS" and attrs["format_version"] == 1, path
            assert attrs["format"] == manifest["format"] and attrs["split"] == split, path
            assert attrs["vocab_size"] == vocab, path
            assert attrs["tokenizer_fingerprint"] == manifest["tokenizer"]["fingerprint"], path
            data = h5["tokens"]
            assert data.dtype == dtype and data.chunks is None and data.compression is None, path
            shard_tokens = data[:]
            offsets = h5["doc_offsets"][:]
            assert offsets[0] == 0 and offsets[-1] == len(shard_tokens) == shard["tokens"], path
            assert len(offsets) - 1 == shard["documents"] and np.all(np.diff(offsets) > 0), path
            assert int(shard_tokens.max()) < vocab, path
            tokens.append(shard_tokens)
            lengths.extend(np.diff(offsets).tolist())
    stream = np.concatenate(tokens) if tokens else np.zeros(0, dtype)
    assert len(stream) == record["tokens"] and len(lengths) == record["documents"], split
    return stream, lengths


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--same-as")
    parser.add_argument("--first-doc")
    args = parser.parse_args()
    manifest = json.load(open(f"{args.dataset}/manifest.json"))
    assert manifest["magic"] == "NFDATASET" and manifest["format_version"] == 1
    splits = {name: read_split(args.dataset, manifest, name) for name in manifest["splits"]}
    summary = ", ".join(f"{name} {len(l)} documents / {len(t)} tokens" for name, (t, l) in splits.items())
    if args.same_as:
        other = json.load(open(f"{args.same_as}/manifest.json"))
        for name, (tokens, lengths) in splits.items():
            other_tokens, other_lengths = read_split(args.same_as, other, name)
            np.testing.assert_array_equal(tokens, other_tokens)
            assert lengths == other_lengths, name
        summary += f"; same token streams as {args.same_as}"
    if args.first_doc:
        ids = [int(x) for x in open(args.first_doc).read().split()]
        firsts = [t[: l[0]].tolist() for t, l in splits.values() if l]
        assert any(first[:-1] == ids for first in firsts), (ids[:10], [f[:10] for f in firsts])
        summary += "; first document matches the tokenizer"
    print(f"check_built_dataset: {args.dataset}: {summary}")


if __name__ == "__main__":
    main()
