"""Every safetensors file nf writes, read by the real safetensors library (issue 15):
`safe_open(path, framework="pt")` over prepare_checkpoints.sh's fixture.

- Step directories (per-rank model-tp<t>-pp<p> and optim-tp<t>-pp<p>[-dp<d>] files of tp 2, pp 2
  and dp 2 + ZeRO 1 runs; nf-ckpt consolidate's output; a run saved with checkpoint.consolidate):
  the files are those meta.json lists, and each holds exactly the tensors meta.json lists for it
  (names, dtypes, shapes, read through get_slice and get_tensor), with "shard.<name>" metadata
  for exactly the tensors listed as slices, saying the same slice. The tp slices of each
  parameter put together (padding rows beyond the vocabulary zero) are the full tensor: equal,
  bit for bit, to the consolidated checkpoint's and to the fp32 export's.
- Exports (model.safetensors, or shards and model.safetensors.index.json; fp32, bf16, fp16):
  metadata {"format": "pt"}, every file's tensors are those the index maps to it, the dtype of
  config.json, and the values: fp32 = the checkpoint's, bf16/fp16 = torch's rounding of them,
  the split export = the unsplit one.

Usage: check_safetensors.py FIXTURE_DIR
"""
import glob
import json
import os
import sys

import safetensors
import torch
from safetensors import safe_open

DTYPES = {"F64": torch.float64, "F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}
EXPORT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def differ(found, wanted):
    """'missing [...], extra [...]' between two name collections."""
    return f"missing {sorted(set(wanted) - set(found))}, extra {sorted(set(found) - set(wanted))}"


class Checker:
    def __init__(self):
        self.failures = []
        self.files = 0
        self.tensors = 0

    def fail(self, where, what):
        self.failures.append(f"{where}: {what}")

    def read(self, path):
        """(metadata, {name: tensor}, {name: (dtype, shape)}) through safe_open."""
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
            tensors, header = {}, {}
            names = list(f.keys())
            for name in names:
                piece = f.get_slice(name)
                header[name] = (piece.get_dtype(), list(piece.get_shape()))
                tensors[name] = f.get_tensor(name)
        if len(set(names)) != len(names):
            self.fail(path, f"duplicate tensor names {names}")
        for name, tensor in tensors.items():
            dtype, shape = header[name]
            if DTYPES.get(dtype) != tensor.dtype or list(tensor.shape) != shape:
                self.fail(path, f"{name}: get_slice says {dtype} {shape}, get_tensor gives {tensor.dtype} "
                                f"{list(tensor.shape)}")
        self.files += 1
        self.tensors += len(tensors)
        return metadata, tensors, header

    def step_directory(self, step):
        """The full parameters of a step directory, put together from its model files."""
        meta = json.load(open(os.path.join(step, "meta.json")))
        on_disk = sorted(os.path.basename(p) for p in glob.glob(os.path.join(step, "*.safetensors")))
        if on_disk != sorted(meta["files"]) or sorted(meta["tensors"]) != sorted(meta["files"]):
            self.fail(step, f"files {on_disk}, meta.json files {sorted(meta['files'])}, "
                            f"listed {sorted(meta['tensors'])}")
        pieces = {}  # name -> [(listing entry, tensor)]
        for file in sorted(meta["files"]):
            path = os.path.join(step, file)
            metadata, tensors, header = self.read(path)
            listing = {t["name"]: t for t in meta["tensors"][file]}
            if len(listing) != len(meta["tensors"][file]) or sorted(listing) != sorted(header):
                self.fail(path, f"tensors differ from meta.json's: {differ(header, listing)}")
                continue
            for name, entry in listing.items():
                if header[name] != (entry["dtype"], entry["shape"]):
                    self.fail(path, f"{name}: {header[name]} != meta.json's {entry['dtype']} {entry['shape']}")
                shard = metadata.get(f"shard.{name}")
                if "slice" in entry:
                    s = entry["slice"]
                    full = entry["global_shape"][s["dim"]] if s["dim"] >= 0 else 0
                    if shard != f"{s['dim']} {s['index']} {s['count']} {full}":
                        self.fail(path, f"{name}: metadata shard.{name} = {shard!r}, meta.json says slice {s} of "
                                        f"{entry['global_shape']}")
                elif shard is not None:
                    self.fail(path, f"{name}: metadata shard.{name} = {shard!r}, meta.json lists no slice")
                if file.startswith("model-"):
                    pieces.setdefault(name, []).append((entry, tensors[name]))
        return self.assemble(step, pieces)

    def assemble(self, step, pieces):
        full = {}
        for name, parts in pieces.items():
            entry = parts[0][0]
            dim = entry.get("slice", {"dim": -1})["dim"]
            if dim < 0:  # replicated over tp: every copy equal
                if any(not torch.equal(t, parts[0][1]) for _, t in parts):
                    self.fail(step, f"{name}: the tp ranks' copies differ")
                full[name] = parts[0][1]
                continue
            ordered = sorted(parts, key=lambda p: p[0]["slice"]["index"])
            if [p[0]["slice"]["index"] for p in ordered] != list(range(entry["slice"]["count"])):
                self.fail(step, f"{name}: slices {[p[0]['slice'] for p in parts]}")
                continue
            whole = torch.cat([t for _, t in ordered], dim=dim)
            size = entry["global_shape"][dim]
            if whole.narrow(dim, size, whole.shape[dim] - size).abs().sum() != 0:
                self.fail(step, f"{name}: tp padding rows beyond {size} are not zero")
            full[name] = whole.narrow(dim, 0, size)
            if list(full[name].shape) != entry["global_shape"]:
                self.fail(step, f"{name}: slices make {list(full[name].shape)}, meta.json says {entry['global_shape']}")
        return full

    def export(self, directory, reference):
        """Checks an export against the full parameters `reference` (fp32); returns its tensors."""
        config = json.load(open(os.path.join(directory, "config.json")))
        dtype = EXPORT_DTYPES[config["torch_dtype"]]
        index_path = os.path.join(directory, "model.safetensors.index.json")
        if os.path.exists(index_path):
            weight_map = json.load(open(index_path))["weight_map"]
        else:
            with safe_open(os.path.join(directory, "model.safetensors"), framework="pt") as f:
                weight_map = {name: "model.safetensors" for name in f.keys()}
        on_disk = sorted(os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.safetensors")))
        if on_disk != sorted(set(weight_map.values())):
            self.fail(directory, f"files {on_disk}, the index names {sorted(set(weight_map.values()))}")
        tensors = {}
        for file in sorted(set(weight_map.values())):
            path = os.path.join(directory, file)
            metadata, part, header = self.read(path)
            if metadata != {"format": "pt"}:
                self.fail(path, f"metadata {metadata}, transformers needs {{'format': 'pt'}}")
            mapped = [n for n, f in weight_map.items() if f == file]
            if sorted(part) != sorted(mapped):
                self.fail(path, f"holds other tensors than the index maps to it: {differ(part, mapped)}")
            tensors.update(part)
        if sorted(tensors) != sorted(reference):
            self.fail(directory, f"tensors differ from the checkpoint's parameters: {differ(tensors, reference)}")
        for name in sorted(set(tensors) & set(reference)):
            tensor = tensors[name]
            expected = reference[name].to(dtype)
            if tensor.dtype != dtype or not torch.equal(tensor, expected):
                self.fail(directory, f"{name}: {tensor.dtype} {list(tensor.shape)} is not the checkpoint's "
                                     f"{list(reference[name].shape)} as {dtype}")
        return tensors


def main():
    fixture = sys.argv[1]
    check = Checker()
    cases = json.load(open(os.path.join(fixture, "cases.json")))
    fulls = {}
    for case in cases:
        fulls[case] = check.step_directory(os.path.join(fixture, "runs", case, "checkpoints", "step_3"))
        check.export(os.path.join(fixture, case, "hf"), fulls[case])
        print(f"{case}: step_3 ({cases[case]['layout']}) and its fp32 export")
    padded, full = os.path.join(fixture, "untied_gqa_tp2"), fulls["untied_gqa_tp2"]
    for other in (os.path.join(padded, "consolidated"),
                  os.path.join(fixture, "runs", "untied_gqa_tp2_whole", "checkpoints", "step_3")):
        whole = check.step_directory(other)
        unequal = [n for n in sorted(set(whole) & set(full)) if not torch.equal(whole[n], full[n])]
        if sorted(whole) != sorted(full) or unequal:
            check.fail(other, f"its parameters differ from the tp slices of untied_gqa_tp2's step_3 put together: "
                              f"{differ(whole, full)}, unequal {unequal}")
    for export in ("hf_split", "hf_bf16", "hf_fp16"):
        check.export(os.path.join(padded, export), full)
    print("untied_gqa_tp2: consolidated, saved consolidated, split, bf16 and fp16 exports")
    for failure in check.failures:
        print("FAIL", failure)
    print(f"safetensors {safetensors.__version__}: {check.files} files, {check.tensors} tensors read with safe_open: "
          f"{'FAIL' if check.failures else 'ok'}")
    sys.exit(1 if check.failures else 0)


if __name__ == "__main__":
    main()
