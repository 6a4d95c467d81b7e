"""Reads a dataset written by the C++ ShardWriter with plain h5py/numpy/json and compares it with
what the byte-token rules of tests/unit/data/data_fixture.h give for the same text file: tokens,
doc offsets, loss masks, DPO spans, metadata, attributes, layout (contiguous, uncompressed, the
raw bytes at the dataset's file offset) and the manifest's counts and SHA-256 checksums.

usage: check_shard.py TEXT_FILE DATASET_DIR pretrain|sft|dpo
"""
import hashlib
import json
import sys

import h5py
import numpy as np

EOS, USER, ASSISTANT, VOCAB = 256, 257, 258, 260


def expected_documents(lines, fmt):
    """(tokens, loss_mask or None, dpo spans or None, metadata) per document, as the C++ fixture builds them."""
    b = lambda s: list(s.encode("utf-8"))
    docs = []
    if fmt == "pretrain":
        for line in lines:
            docs.append((b(line) + [EOS], None, None, {"id": line.split(" ")[0]}))
    elif fmt == "sft":
        for q, a in zip(lines[0::2], lines[1::2]):
            head = [USER] + b(q) + [EOS, ASSISTANT]
            tail = b(a) + [EOS]
            docs.append((head + tail, [0] * len(head) + [1] * len(tail), None, {}))
    else:
        for i in range(0, len(lines) - 2, 3):
            p, c, r = [USER] + b(lines[i]) + [ASSISTANT], b(lines[i + 1]) + [EOS], b(lines[i + 2]) + [EOS]
            emotion = "joy" if len(lines[i + 1].encode("utf-8")) % 2 else "calm"
            docs.append((p + c + r, None, (len(p), len(c), len(r)), {"emotion": emotion}))
    return docs


def main(text_file, dataset_dir, fmt):
    with open(text_file, encoding="utf-8") as f:
        lines = [line for line in f.read().split("\n") if line]
    docs = expected_documents(lines, fmt)
    manifest = json.load(open(f"{dataset_dir}/manifest.json"))
    assert manifest["magic"] == "NFDATASET" and manifest["format_version"] == 1 and manifest["format"] == fmt
    assert manifest["token_dtype"] == "uint16" and manifest["tokenizer"]["vocab_size"] == VOCAB
    train = manifest["splits"]["train"]
    assert train["documents"] == len(docs), (train["documents"], len(docs))
    assert train["tokens"] == sum(len(d[0]) for d in docs)

    doc = 0
    for index, shard in enumerate(train["shards"]):
        path = f"{dataset_dir}/{shard['file']}"
        assert hashlib.sha256(open(path, "rb").read()).hexdigest() == shard["sha256"], path
        with h5py.File(path, "r") as h5:
            attrs = h5.attrs
            assert attrs["magic"] == "NFTOKENS" and attrs["format_version"] == 1 and attrs["format"] == fmt
            assert attrs["split"] == "train" and attrs["shard_index"] == index and attrs["vocab_size"] == VOCAB
            tokens = h5["tokens"]
            assert tokens.dtype == np.uint16 and tokens.compression is None and tokens.chunks is None
            offsets = h5["doc_offsets"][:]
            count = len(offsets) - 1
            assert count == shard["documents"] and offsets[-1] == len(tokens) == shard["tokens"]
            mine = docs[doc:doc + count]
            np.testing.assert_array_equal(tokens[:], np.concatenate([np.array(d[0], np.uint16) for d in mine]))
            np.testing.assert_array_equal(np.diff(offsets), [len(d[0]) for d in mine])
            # The memory-mapping contract: the raw file bytes at the dataset's offset are the tokens.
            offset = tokens.id.get_offset()
            assert offset is not None and offset % 4096 == 0, offset
            raw = np.fromfile(path, dtype="<u2", count=len(tokens), offset=offset)
            np.testing.assert_array_equal(raw, tokens[:])
            if fmt == "sft":
                np.testing.assert_array_equal(h5["loss_mask"][:], np.concatenate([d[1] for d in mine]))
            else:
                assert "loss_mask" not in h5
            if fmt == "dpo":
                np.testing.assert_array_equal(h5["dpo_spans"][:], [d[2] for d in mine])
            for field in ("id", "emotion"):
                if mine[0][3].get(field) is not None:
                    values = [v.decode("utf-8") for v in h5[f"meta/{field}"][:]]
                    assert values == [d[3][field] for d in mine], field
        doc += count
    assert doc == len(docs)
    print(f"check_shard: {dataset_dir}: {len(train['shards'])} shards, {doc} documents match")


if __name__ == "__main__":
    main(*sys.argv[1:4])
