"""nf-ckpt export-hf, loaded by the real transformers (issue 15): for every case that
prepare_checkpoints.sh wrote (tied and untied embeddings, GQA and MHA, a vocabulary that tp 2
padded 301 -> 302 rows, checkpoints saved at tp 2, pp 2 and dp 2 with ZeRO 1),
`LlamaForCausalLM.from_pretrained(export)`:
  - loads with empty missing/unexpected/mismatched key lists and error messages
    (output_loading_info=True), and logs no warning at all (transformers' logger and Python
    warnings are captured: its loading report, which names missing and unexpected keys, is a
    warning);
  - has the config nf trained (vocabulary without padding, heads, kv heads, tying: a tied model's
    lm_head is the embedding itself, an untied one's is not);
  - computes, in fp32, the logits nf computes on the same tokens from the same checkpoint
    (nf_checkpoint_logits), within 1e-5 relative (max |difference| / max |nf logit|, as
    tests/python/llama_reference.py), with the default (sdpa) and the eager attention.
A split export (model.safetensors.index.json and shards) loads and gives the same logits.

Usage: check_transformers_export.py FIXTURE_DIR (prepare_checkpoints.sh's OUT_DIR)
"""
import contextlib
import io
import json
import logging
import os
import sys
import warnings

import torch
import transformers
from transformers import LlamaForCausalLM

LOGIT_TOLERANCE = 1e-5


class Records(logging.Handler):
    """Keeps every record transformers logs at WARNING or above."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(f"{record.name}: {record.getMessage()}")


def load(directory, attention):
    """(model, loading info, [warnings]) of from_pretrained(directory)."""
    handler = Records()
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    transformers.logging.set_verbosity_warning()
    stderr = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(stderr):
            warnings.simplefilter("always")
            model, info = LlamaForCausalLM.from_pretrained(directory, output_loading_info=True, dtype=torch.float32,
                                                           attn_implementation=attention)
    finally:
        logger.removeHandler(handler)
    complaints = handler.records + [f"{w.category.__name__}: {w.message}" for w in caught]
    # Progress bars go to stderr; anything there that speaks of keys is a loading report.
    complaints += [line for line in stderr.getvalue().splitlines() if "key" in line.lower()]
    return model.eval(), info, complaints


def check_export(directory, case, expected, nf_logits, tokens):
    failures = []
    for attention in ("sdpa", "eager"):
        model, info, complaints = load(directory, attention)
        for kind, keys in info.items():
            if keys:
                failures.append(f"{attention}: {kind}: {sorted(keys)}")
        failures += [f"{attention}: transformers warned: {text}" for text in complaints]
        config = model.config
        shape = (config.vocab_size, config.num_attention_heads, config.num_key_value_heads, config.tie_word_embeddings)
        wanted = (expected["vocab"], expected["n_heads"], expected["n_kv_heads"], expected["tied"])
        if shape != wanted:
            failures.append(f"config (vocab, heads, kv heads, tied) = {shape}, nf trained {wanted}")
        tied = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        if tied != expected["tied"]:
            failures.append(f"lm_head {'is' if tied else 'is not'} the embedding, tie_embeddings {expected['tied']}")
        with torch.no_grad():
            logits = model(input_ids=tokens).logits
        if logits.shape != nf_logits.shape:
            failures.append(f"{attention}: logits {tuple(logits.shape)}, nf's {tuple(nf_logits.shape)}")
            continue
        error = ((logits.double() - nf_logits.double()).abs().max() / nf_logits.double().abs().max()).item()
        print(f"{case:<17} {os.path.basename(directory):<9} {attention:<5} {expected['layout']:<12} "
              f"kv {expected['n_kv_heads']}/{expected['n_heads']} tied {str(expected['tied']):<5} "
              f"logits {tuple(logits.shape)} max rel diff {error:.2e}  warnings {len(complaints)}")
        if not error <= LOGIT_TOLERANCE:
            failures.append(f"{attention}: logits differ from nf's by {error:.2e} > {LOGIT_TOLERANCE}")
    return failures


def main():
    torch.set_num_threads(1)
    fixture = sys.argv[1]
    cases = json.load(open(os.path.join(fixture, "cases.json")))
    failures = []
    for case, expected in cases.items():
        # torch::pickle_save's dict of tensors (torch 2.6+ loads only plain weights unless told otherwise).
        nf = torch.load(os.path.join(fixture, case, "logits.pt"), weights_only=False)
        for export in expected.get("exports", ["hf"]):
            directory = os.path.join(fixture, case, export)
            failures += [f"{case}/{export}: {f}" for f in check_export(directory, case, expected, nf["logits"],
                                                                       nf["tokens"])]
    for failure in failures:
        print("FAIL", failure)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}: "
          f"{'FAIL' if failures else 'ok'} ({len(cases)} cases)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
