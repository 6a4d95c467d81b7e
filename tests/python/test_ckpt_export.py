"""Independent check of nf's safetensors files and Hugging Face export.

A small safetensors reader written here from the format's description (struct + json + numpy, not
nf's code) parses what nf_ckpt_reference_export wrote and:
  (a) compares every dtype (bf16 and f16 included) bit for bit with the same values saved by
      torch::pickle_save, and checks the layout rules (8-byte aligned header, ranges tiling the
      data section);
  (b) loads each exported Hugging Face directory (config.json + model.safetensors) into the
      independent Llama forward of llama_reference.py and compares its logits with nf's own on
      the same tokens (relative error <= 1e-5, fp32; see llama_reference.py for the tolerance);
      the bf16 export must equal the fp32 weights rounded by torch to bfloat16.

It also runs `nf-ckpt inspect` on an export (every tensor listed) and on a truncated copy (exit
code 4, checkpoint error).

Usage: .venv/bin/python test_ckpt_export.py PATH/TO/nf_ckpt_reference_export PATH/TO/nf-ckpt
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference  # noqa: E402

LOGIT_TOLERANCE = 1e-5
NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
                "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def read_safetensors(path):
    """Returns (ordered [(name, dtype, numpy array)], metadata); BF16 comes back as float32."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    assert (8 + length) % 8 == 0, f"{path}: data section starts at {8 + length}, not 8-byte aligned"
    header = json.loads(blob[8:8 + length].decode("utf-8"))
    data = blob[8 + length:]
    metadata = header.pop("__metadata__", {})
    entries = sorted(header.items(), key=lambda item: tuple(item[1]["data_offsets"]))
    covered = 0
    tensors = []
    for name, entry in entries:
        begin, end = entry["data_offsets"]
        assert begin == covered, f"{path}: {name} starts at {begin}, previous tensor ends at {covered}"
        dtype = np.dtype(NUMPY_DTYPES[entry["dtype"]])
        count = int(np.prod(entry["shape"], dtype=np.int64))
        assert end - begin == count * dtype.itemsize, f"{path}: {name} byte range does not fit dtype x shape"
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])
        if entry["dtype"] == "BF16":  # bfloat16 is the top half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors.append((name, entry["dtype"], array))
        covered = end
    assert covered == len(data), f"{path}: tensors cover {covered} of {len(data)} data bytes"
    return tensors, metadata


def check_dtypes(directory):
    failures = []
    tensors, metadata = read_safetensors(f"{directory}/dtypes.safetensors")
    expected = torch.load(f"{directory}/dtypes.pt", weights_only=False)  # torch::save of our export tool
    if metadata != {"format": "pt", "origin": "nf"}:
        failures.append(f"metadata {metadata}")
    if [name for name, _, _ in tensors] != list(expected.keys()):
        failures.append(f"order {[name for name, _, _ in tensors]} != {list(expected.keys())}")
    for name, dtype, array in tensors:
        reference = expected[name].numpy()
        if dtype == "F16":  # the pickle holds f16 widened to f32, which is exact
            array = array.astype(np.float32)
        if array.shape != reference.shape or array.dtype != reference.dtype or not np.array_equal(array, reference):
            failures.append(f"{name} ({dtype}): {array.dtype} {array.shape} differs from {reference.dtype} "
                            f"{reference.shape}")
    print(f"dtypes: {len(tensors)} tensors ({', '.join(d for _, d, _ in tensors)}), metadata {metadata}")
    return failures


def load_hf(directory):
    config = json.load(open(f"{directory}/config.json"))
    tensors, metadata = read_safetensors(f"{directory}/model.safetensors")
    weights = {name: torch.from_numpy(array.copy()) for name, _, array in tensors}
    return config, weights, {name: dtype for name, dtype, _ in tensors}, metadata


def check_hf(directory, case):
    failures = []
    config, weights, dtypes, metadata = load_hf(f"{directory}/{case}")
    cfg = {"n_layers": config["num_hidden_layers"], "n_heads": config["num_attention_heads"],
           "n_kv_heads": config["num_key_value_heads"], "d_model": config["hidden_size"],
           "rope_theta": config["rope_theta"], "norm_eps": config["rms_norm_eps"],
           "tie_embeddings": config["tie_word_embeddings"]}
    if config["architectures"] != ["LlamaForCausalLM"] or config["model_type"] != "llama":
        failures.append(f"architecture {config['architectures']} / {config['model_type']}")
    if metadata.get("format") != "pt":
        failures.append(f"safetensors metadata {metadata} lacks format=pt (transformers requires it)")
    names = llama_reference.hf_parameter_names(cfg)
    if sorted(weights) != sorted(names):
        failures.append(f"parameters {sorted(weights)} != {sorted(names)}")
        return failures
    vocab, hidden, ffn = config["vocab_size"], config["hidden_size"], config["intermediate_size"]
    if weights["model.embed_tokens.weight"].shape != (vocab, hidden) or \
            weights["model.layers.0.mlp.down_proj.weight"].shape != (hidden, ffn):
        failures.append("embedding or mlp shapes disagree with config.json")
    generation = json.load(open(f"{directory}/{case}/generation_config.json"))
    if (generation.get("bos_token_id"), generation.get("eos_token_id")) != (1, 2):
        failures.append(f"generation_config {generation}")

    data = torch.load(f"{directory}/{case}.pt", weights_only=False)  # written by our export tool (torch::save)
    if config["torch_dtype"] == "bfloat16":
        _, fp32_weights, _, _ = load_hf(f"{directory}/{case.replace('bf16', 'fp32')}")
        for name in names:
            rounded = fp32_weights[name].to(torch.bfloat16).float()
            if dtypes[name] != "BF16" or not torch.equal(weights[name], rounded):
                failures.append(f"{name}: {dtypes[name]} values differ from fp32 rounded to bfloat16")
        print(f"{case}: {len(names)} bf16 tensors equal torch's rounding of the fp32 export")
        return failures
    with torch.no_grad():
        logits = llama_reference.llama_logits(weights, cfg, data["tokens"])
    error = llama_reference.relative_error(data["logits"], logits)
    if error > LOGIT_TOLERANCE:
        failures.append(f"logits: relative error {error:.2e} > {LOGIT_TOLERANCE}")
    print(f"{case}: heads {cfg['n_heads']}/{cfg['n_kv_heads']} kv, tied {cfg['tie_embeddings']}, "
          f"{len(names)} tensors, logits err {error:.2e}")
    return failures


def check_inspect(nf_ckpt, directory):
    failures = []
    path = f"{directory}/mha_tied_fp32/model.safetensors"
    listing = subprocess.run([nf_ckpt, "inspect", path], capture_output=True, text=True)
    tensors, _ = read_safetensors(path)
    for name, dtype, array in tensors:
        line = f"  {name}  {dtype} [{', '.join(map(str, array.shape))}]"
        if line not in listing.stdout:
            failures.append(f"inspect lists no '{line}'")
    with open(path, "rb") as f:
        blob = f.read()
    with open(f"{directory}/truncated.safetensors", "wb") as f:
        f.write(blob[:-10])
    truncated = subprocess.run([nf_ckpt, "inspect", f"{directory}/truncated.safetensors"], capture_output=True, text=True)
    if listing.returncode != 0 or truncated.returncode != 4 or "truncated" not in truncated.stderr:
        failures.append(f"exit codes {listing.returncode}, {truncated.returncode}: {truncated.stderr.strip()}")
    print(f"nf-ckpt inspect: {len(tensors)} tensors listed; truncated file: {truncated.stderr.strip()}")
    return failures


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.argv[1], directory], check=True)
        failures = [f"dtypes: {f}" for f in check_dtypes(directory)]
        for case in ("gqa_untied_fp32", "mha_tied_fp32", "gqa_untied_bf16"):
            failures += [f"{case}: {f}" for f in check_hf(directory, case)]
        failures += [f"inspect: {f}" for f in check_inspect(sys.argv[2], directory)]
    for failure in failures:
        print("FAIL", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
