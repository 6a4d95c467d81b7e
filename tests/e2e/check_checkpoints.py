"""Checks a run's checkpoints directory as a crash must leave it (tests/e2e/test_kill_save.sh):
`latest` names a complete step directory, and every complete one (step_N with meta.json) has
exactly the files its layout writes, each matching its SHA-256 in meta.json and holding the
tensors (names, dtypes, shapes, in order) that meta.json lists for it. Names with a dot
(step_N.partial, ...) are leftovers of a save cut short. Prints "LATEST COMPLETE LEFTOVERS"."""
import hashlib
import json
import os
import struct
import sys

checkpoints = sys.argv[1]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def header_tensors(path):
    """(name, dtype, shape) of every tensor of a safetensors file, in data order, from its header."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    header.pop("__metadata__", None)
    ordered = sorted(header.items(), key=lambda item: item[1]["data_offsets"][0])
    return [(name, h["dtype"], h["shape"]) for name, h in ordered]


def expected_files(layout):
    tp, pp, dp, zero = layout["tp"], layout["pp"], layout["dp"], layout["zero"]
    files = {f"model-tp{t}-pp{p}.safetensors" for t in range(tp) for p in range(pp)}
    files |= {f"optim-tp{t}-pp{p}-dp{d}.safetensors" for t in range(tp) for p in range(pp)
              for d in range(dp if zero > 0 else 1)}
    return files


complete, leftovers = [], []
for name in sorted(os.listdir(checkpoints)):
    path = os.path.join(checkpoints, name)
    if name == "latest" or not os.path.isdir(path):
        continue
    if "." in name or not os.path.exists(os.path.join(path, "meta.json")):
        leftovers.append(name)
        continue
    meta = json.load(open(os.path.join(path, "meta.json")))
    files = set(meta["files"])
    assert files == expected_files(meta["layout"]), (name, sorted(files))
    assert sorted(os.listdir(path)) == sorted(files | {"meta.json", "config.yaml"}), (name, os.listdir(path))
    for file, digest in meta["files"].items():
        assert sha256(os.path.join(path, file)) == digest, f"{name}/{file} does not match its SHA-256"
        listed = [(t["name"], t["dtype"], t["shape"]) for t in meta["tensors"][file]]
        assert listed == header_tensors(os.path.join(path, file)), f"{name}/{file}: meta.json lists other tensors"
    complete.append(name)

latest = open(os.path.join(checkpoints, "latest")).read().strip()
assert latest in complete, f"latest names {latest!r}, not a complete checkpoint ({complete})"
print(latest, len(complete), ",".join(leftovers) or "-")
