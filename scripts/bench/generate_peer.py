"""The peer of scripts/bench_generate.sh: transformers' generate on an exported model, greedy, over
the prompt ids nf-generate encoded (its JSONL), in batches (left-padded, with an attention mask),
with or without the KV cache, exactly max_new_tokens each (eos ignored). Prints one line:
"tokens SECONDS" (the new tokens and the generation seconds, model loading excluded).

Usage: generate_peer.py HF_DIR PROMPTS.jsonl BATCH MAX_NEW_TOKENS cache|nocache
"""
import json
import sys
import time

import torch
from transformers import LlamaForCausalLM
from transformers.utils import logging


def main():
    hf_dir, prompts_file, batch, new_tokens, cache = sys.argv[1:6]
    batch, new_tokens = int(batch), int(new_tokens)
    logging.disable_progress_bar()
    logging.set_verbosity_error()
    torch.set_num_threads(1)
    model = LlamaForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float32).eval()
    model.generation_config.eos_token_id = None
    prompts = [json.loads(line)["prompt_tokens"] for line in open(prompts_file)]
    total, start = 0, time.perf_counter()
    for first in range(0, len(prompts), batch):
        rows = prompts[first:first + batch]
        width = max(map(len, rows))
        ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        with torch.no_grad():
            out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                 do_sample=False, use_cache=cache == "cache", pad_token_id=0)
        total += (out.shape[1] - width) * len(rows)
    print(total, time.perf_counter() - start)


if __name__ == "__main__":
    main()
