"""A sweep file (configs/bench/*.yaml, reference in docs/scaling.md) -> the points to measure.

A point is a plain dict of everything that decides what is measured (never where or when: that is
the record's machine and commit); its id is a hash of it, so the same point in two sweep files, or
in a re-run, has the same id. Points come in the order they are run: calibration and
communication first (training's planner predictions use what they measured), then the data path
and checkpoints, then training, nf and its peers side by side for each rank count.
"""
import hashlib
import json
import os
import re

import yaml

LAYOUT_NAMES = ("dp", "tp", "pp", "mixed", "auto")
PEERS = {"ddp": 0, "fsdp2": 3}  # the PyTorch peer and the nf ZeRO stage it matches
COMM_OPS = ("all_reduce", "reduce_scatter", "all_gather", "sendrecv")
RECOMPUTE = ("none", "selective", "full")


class SweepError(Exception):
    """A sweep file that cannot be run: says the file, the key and what to write instead."""


def point_id(point):
    return hashlib.sha1(json.dumps(point, sort_keys=True).encode()).hexdigest()[:12]


def layout_label(dp, tp, pp):
    return f"{dp}x{tp}x{pp}"


def mixed_layout(ranks):
    """The most even dp x tp x pp of `ranks` with at least two axes above 1 (dp, then tp, larger on a
    tie): 4 -> 2x2x1, 8 -> 2x2x2, 16 -> 4x2x2. None for 1, 2 or a prime."""
    best = None
    for tp in range(1, ranks + 1):
        for pp in range(1, ranks // tp + 1):
            if ranks % (tp * pp):
                continue
            dp = ranks // (tp * pp)
            if sum(axis > 1 for axis in (dp, tp, pp)) < 2:
                continue
            key = (max(dp, tp, pp), -min(dp, tp, pp), -dp, -tp)
            if best is None or key < best[0]:
                best = (key, (dp, tp, pp))
    return best and best[1]


def layouts_for(names, ranks):
    """The layout labels (or "auto") that `names` give at `ranks` ranks; one rank is always 1x1x1."""
    if ranks == 1:
        return ["1x1x1"]
    out = []
    for name in names:
        if name == "dp":
            out.append(layout_label(ranks, 1, 1))
        elif name == "tp":
            out.append(layout_label(1, ranks, 1))
        elif name == "pp":
            out.append(layout_label(1, 1, ranks))
        elif name == "mixed":
            mixed = mixed_layout(ranks)
            if mixed:
                out.append(layout_label(*mixed))
        elif name == "auto":
            out.append("auto")
        else:
            dp, tp, pp = map(int, name.split("x"))
            if dp * tp * pp == ranks:
                out.append(name)
    return list(dict.fromkeys(out))


def describe(point):
    kind = point["kind"]
    if kind == "train":
        extra = "" if point["layout"] == "auto" else f" zero {point['zero']} recompute {point['recompute']}"
        return (f"train {point['system']} {point['scaling']} ranks {point['ranks']} layout {point['layout']}{extra} "
                f"seq {point['seq_len']} batch {point['global_batch']}")
    return f"{kind}" + (f" ranks {point['ranks']}" if "ranks" in point else "")


class _Reader:
    """Typed access to one mapping of the file, naming the key path in every error."""

    def __init__(self, path, data, prefix=""):
        self.path, self.data, self.prefix = path, data, prefix
        if not isinstance(data, dict):
            self.fail("", f"must be a mapping, not {type(data).__name__}", "write key: value lines")

    def fail(self, key, problem, fix):
        where = f"{self.prefix}{key}" or "the top level"
        raise SweepError(f"{self.path}: '{where}' {problem}; {fix}")

    def check_keys(self, known):
        for key in self.data:
            if key not in known:
                self.fail(key, "is not a key here", f"use one of: {', '.join(known)} (docs/scaling.md)")

    def get(self, key, kind, default=None, required=False):
        if key not in self.data:
            if required:
                self.fail(key, "is missing", "add it (docs/scaling.md lists every key)")
            return default
        value = self.data[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(key, f"must be an integer, not {value!r}", "write a whole number")
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            self.fail(key, f"must be a number, not {value!r}", "write a number")
        if kind is str and not isinstance(value, str):
            self.fail(key, f"must be a string, not {value!r}", "quote it")
        return value

    def ints(self, key, default=None, required=False, minimum=1):
        values = self.get(key, list, default, required)
        if not isinstance(values, list) or not values:
            self.fail(key, f"must be a non-empty list of integers, not {values!r}", "write e.g. [1, 2, 4]")
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                self.fail(key, f"holds {value!r}", f"every entry must be an integer >= {minimum}")
        return values

    def positive(self, key, default=None, required=False, minimum=1):
        value = self.get(key, int, default, required)
        if value is not None and value < minimum:
            self.fail(key, f"is {value}", f"it must be at least {minimum}")
        return value

    def choices(self, key, allowed, default):
        values = self.get(key, list, default)
        if not isinstance(values, list) or not values:
            self.fail(key, f"must be a non-empty list, not {values!r}", f"write e.g. [{allowed[0]}]")
        for value in values:
            if value not in allowed:
                self.fail(key, f"holds {value!r}", f"use entries of: {', '.join(map(str, allowed))}")
        return values

    def section(self, key):
        if key not in self.data or self.data[key] is None:
            return None
        return _Reader(self.path, self.data[key], f"{self.prefix}{key}.")


def _size(reader, key, default):
    """'1K', '16M', '1G' (powers of 1024, as bench-comm reads them) or a byte count."""
    value = reader.get(key, (str, int), default)
    if isinstance(value, int) or re.fullmatch(r"\d+[KMG]?", str(value)):
        return str(value)
    reader.fail(key, f"is {value!r}", "write a byte count or a number with K, M or G, e.g. 16M")


def _train_points(reader, root, corpus):
    reader.check_keys(("config", "overrides", "ranks", "layouts", "zero", "recompute", "seq_len",
                       "micro_batch_size", "strong", "weak", "steps", "warmup_steps", "peers"))
    config = reader.get("config", str, required=True)
    config_path = os.path.join(root, config)
    if not os.path.isfile(config_path):
        reader.fail("config", f"names {config_path}, which does not exist", "name an nf-train config, e.g. configs/tiny.yaml")
    overrides = reader.get("overrides", dict, {})
    if not isinstance(overrides, dict):
        reader.fail("overrides", "must be a mapping of nf-train keys", "write e.g. {model.n_layers: 2}")
    overrides = {str(k): str(v) for k, v in overrides.items()}
    ranks = reader.ints("ranks", required=True)
    layouts = reader.get("layouts", list, ["dp"])
    if not isinstance(layouts, list):
        reader.fail("layouts", f"holds {layouts!r}", "use dp, tp, pp, mixed, auto, or DPxTPxPP such as 2x1x2")
    for name in layouts:
        if name not in LAYOUT_NAMES and not re.fullmatch(r"\d+x\d+x\d+", str(name)):
            reader.fail("layouts", f"holds {name!r}", "use dp, tp, pp, mixed, auto, or DPxTPxPP such as 2x1x2")
    zeros = reader.ints("zero", [0], minimum=0)
    if any(z > 3 for z in zeros):
        reader.fail("zero", f"holds {max(zeros)}", "ZeRO stages are 0, 1, 2 and 3")
    recomputes = reader.choices("recompute", RECOMPUTE, ["none"])
    seq_lens = reader.ints("seq_len", required=True)
    micro = reader.positive("micro_batch_size", 1)
    steps = reader.positive("steps", 5)
    warmup = reader.positive("warmup_steps", 2, minimum=0)
    peers = reader.choices("peers", list(PEERS), []) if "peers" in reader.data else []
    modes = {}
    strong, weak = reader.section("strong"), reader.section("weak")
    if strong:
        strong.check_keys(("global_batch",))
        modes["strong"] = lambda n, b=strong.positive("global_batch", required=True): b
    if weak:
        weak.check_keys(("batch_per_rank",))
        modes["weak"] = lambda n, b=weak.positive("batch_per_rank", required=True): b * n
    if not modes:
        reader.fail("strong", "and 'weak' are both missing", "give strong: {global_batch: N}, weak: {batch_per_rank: N} or both")
    with open(config_path, "rb") as f:
        config_sha = hashlib.sha256(f.read()).hexdigest()[:16]
    common = {"kind": "train", "config": config, "config_sha": config_sha, "overrides": overrides,
              "micro_batch_size": micro, "steps": steps, "warmup_steps": warmup, "corpus": corpus}
    points = []
    for scaling, batch_of in modes.items():
        for seq_len in seq_lens:
            for n in ranks:
                base = dict(common, scaling=scaling, seq_len=seq_len, ranks=n, global_batch=batch_of(n))
                for layout in layouts_for(layouts, n):
                    if layout == "auto":  # the planner picks the ZeRO stage and recompute mode too
                        points.append(dict(base, system="nf", layout=layout, zero=None, recompute=None))
                        continue
                    dp = int(layout.split("x")[0])
                    for recompute in recomputes:
                        for zero in zeros:
                            points.append(dict(base, system="nf", layout=layout, recompute=recompute,
                                               zero=0 if dp == 1 else zero))  # ZeRO shards over dp: none on one
                for peer in peers:
                    points.append(dict(base, system=peer, layout=layout_label(n, 1, 1), zero=PEERS[peer], recompute="none"))
    return points


def load(path, root):
    """The points of the sweep file at `path` (relative paths in it are relative to `root`, the
    checkout), and its name and planner settings: {"name", "planner", "points"}."""
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except OSError as e:
        raise SweepError(f"{path}: cannot read the sweep file ({e.strerror}); pass an existing file, e.g. configs/bench/ci_tiny.yaml")
    except yaml.YAMLError as e:
        raise SweepError(f"{path}: not valid YAML: {e}; fix the line it names")
    top = _Reader(path, data)
    top.check_keys(("name", "corpus", "train", "planner", "comm", "data", "checkpoint"))
    name = top.get("name", str, required=True)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        top.fail("name", f"is {name!r}", "use letters, digits, '-', '_' and '.' (it names the results directory)")
    corpus = {"vocab_size": 8192}
    if (section := top.section("corpus")) is not None:
        section.check_keys(("vocab_size",))
        corpus["vocab_size"] = section.positive("vocab_size", 8192, minimum=260)
    planner = {"peak_tflops": "measured", "efficiency": 0.4, "bandwidth_gbps": "measured"}
    if (section := top.section("planner")) is not None:
        section.check_keys(tuple(planner))
        for key in ("peak_tflops", "bandwidth_gbps"):
            value = section.get(key, (str, float), planner[key])
            if value not in ("measured", "default") and (isinstance(value, (bool, str)) or value <= 0):
                section.fail(key, f"is {value!r}", "write measured, default, or a positive number")
            planner[key] = value
        planner["efficiency"] = section.get("efficiency", float, 0.4)
        if not 0 < planner["efficiency"] <= 1:
            section.fail("efficiency", f"is {planner['efficiency']}", "write a fraction in (0, 1]")

    points = [{"kind": "calibrate"}] if top.section("train") is not None else []
    if (section := top.section("comm")) is not None:
        section.check_keys(("ranks", "ops", "min_bytes", "max_bytes", "iterations", "warmup", "dtype", "device"))
        ops = section.choices("ops", COMM_OPS, list(COMM_OPS))
        common = {"kind": "comm", "ops": ops, "min_bytes": _size(section, "min_bytes", "1K"),
                  "max_bytes": _size(section, "max_bytes", "16M"), "iterations": section.positive("iterations", 10),
                  "warmup": section.positive("warmup", 3, minimum=0),
                  "dtype": section.get("dtype", str, "fp32"), "device": section.get("device", str, "cpu")}
        if common["dtype"] not in ("fp32", "bf16") or common["device"] not in ("cpu", "cuda"):
            section.fail("dtype", "or 'device' is not one bench-comm takes", "dtype fp32|bf16, device cpu|cuda")
        points += [dict(common, ranks=n) for n in section.ints("ranks", required=True, minimum=2)]
    if (section := top.section("data")) is not None:
        section.check_keys(("ranks",))
        points.append({"kind": "loader"})
        points += [{"kind": "data", "ranks": n, "corpus": corpus} for n in section.ints("ranks", [1])]
    if (section := top.section("checkpoint")) is not None:
        section.check_keys(("ranks", "d_model", "layers", "vocab"))
        shape = {"d_model": section.positive("d_model", 256), "layers": section.positive("layers", 4),
                 "vocab": section.positive("vocab", 8192)}
        points += [dict(shape, kind="checkpoint", ranks=n) for n in section.ints("ranks", [1, 2])]
    if (section := top.section("train")) is not None:
        points += _train_points(section, root, corpus)
    unique = {}
    for point in points:
        unique.setdefault(point_id(point), point)
    return {"name": name, "planner": planner, "points": [dict(p, id=i) for i, p in unique.items()]}
