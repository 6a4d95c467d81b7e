"""A model made by transformers, for test_transformers_import.sh: a small random LlamaForCausalLM
saved with save_pretrained in shards of at most 100 KB (several safetensors files and an index),
and transformers' loss (labels=) on every training sample of an nf dataset: the windows of seq_len + 1
tokens at stride seq_len over the train split's token stream, which is what one nf-train step
with global_batch_size = that count reads (the epoch, in whatever order). Prints the sample
count, a micro-batch size that divides it, and the loss (%.17g).

Usage: transformers_model.py OUT_DIR DATASET_DIR SEQ_LEN TIE ROPE_THETA SEED
"""
import json
import os
import sys

import h5py
import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.utils import logging


def token_stream(dataset):
    manifest = json.load(open(os.path.join(dataset, "manifest.json")))
    shards = manifest["splits"]["train"]["shards"]
    return np.concatenate([h5py.File(os.path.join(dataset, s["file"]), "r")["tokens"][:].astype(np.int64)
                           for s in shards]), manifest, len(shards)


def main():
    out, dataset, seq, tie, rope_theta, seed = sys.argv[1:7]
    seq, tie, rope_theta = int(seq), tie == "true", float(rope_theta)
    logging.disable_progress_bar()
    torch.manual_seed(int(seed))
    torch.set_num_threads(1)
    stream, manifest, shards = token_stream(dataset)
    config = LlamaConfig(vocab_size=manifest["tokenizer"]["vocab_size"], hidden_size=64, intermediate_size=192,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=rope_theta,
                         tie_word_embeddings=tie, initializer_range=0.1)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(out, max_shard_size="100KB")
    files = sorted(f for f in os.listdir(out) if f.endswith(".safetensors"))
    assert len(files) > 2 and os.path.exists(os.path.join(out, "model.safetensors.index.json")), files
    samples = (len(stream) - 1) // seq
    windows = torch.tensor(np.stack([stream[i * seq:i * seq + seq + 1] for i in range(samples)]))
    with torch.no_grad():  # transformers' own loss: labels shifted inside, the mean over every window's seq_len targets
        loss = model(input_ids=windows, labels=windows).loss.item()
    micro = max(d for d in range(1, samples // 2 + 1) if samples % d == 0 and d <= 64)
    saved = json.load(open(os.path.join(out, "config.json")))
    print(f"transformers saved {len(files)} files, tie_word_embeddings {saved['tie_word_embeddings']}, "
          f"rope_parameters {saved.get('rope_parameters')}; {samples} samples from {shards} shards", file=sys.stderr)
    print(samples, micro, "%.17g" % loss)


if __name__ == "__main__":
    main()
