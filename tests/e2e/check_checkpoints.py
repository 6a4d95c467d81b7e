"""Checks a run's checkpoints directory as a crash must leave it (tests/e2e/test_kill_save.sh):
`latest` names a complete step directory, and every complete one (step_N with meta.json) has
exactly the files its layout writes, each matching its SHA-256 in meta.json. Names with a dot
(step_N.partial, ...) are leftovers of a save cut short. Prints "LATEST COMPLETE LEFTOVERS"."""
import hashlib
import json
import os
import sys

checkpoints = sys.argv[1]


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    complete.append(name)

latest = open(os.path.join(checkpoints, "latest")).read().strip()
assert latest in complete, f"latest names {latest!r}, not a complete checkpoint ({complete})"
print(latest, len(complete), ",".join(leftovers) or "-")
