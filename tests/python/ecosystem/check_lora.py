"""A LoRA checkpoint's exports read by the libraries users load them with (issue 19):
PeftModel.from_pretrained puts `nf-ckpt export-peft`'s adapter on the exported base; its logits,
the merged export's (`export-hf --merge-lora`) in transformers, and nf's own forward of the
checkpoint (nf_checkpoint_logits) agree within 1e-5 (fp32).

Usage: check_lora.py BASE_HF PEFT_DIR MERGED_HF NF_LOGITS.pt
"""
import sys

import torch
from peft import PeftModel
from transformers import LlamaForCausalLM
from transformers.utils import logging


def main():
    base_dir, peft_dir, merged_dir, nf_logits = sys.argv[1:5]
    logging.disable_progress_bar()
    torch.set_num_threads(1)
    saved = torch.load(nf_logits, weights_only=False)  # nf_checkpoint_logits writes it with torch::pickle_save
    tokens, nf = saved["tokens"], saved["logits"]
    base = LlamaForCausalLM.from_pretrained(base_dir, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        base_logits = base(tokens).logits
    adapted = PeftModel.from_pretrained(base, peft_dir).eval()
    merged = LlamaForCausalLM.from_pretrained(merged_dir, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        peft_logits = adapted(tokens).logits
        merged_logits = merged(tokens).logits
    vocab = peft_logits.shape[-1]
    gaps = {"peft vs nf": (peft_logits - nf[..., :vocab]).abs().max().item(),
            "merged vs nf": (merged_logits - nf[..., :vocab]).abs().max().item(),
            "peft vs merged": (peft_logits - merged_logits).abs().max().item()}
    moved = (peft_logits - base_logits).abs().max().item()
    print(", ".join(f"{k} {v:.2e}" for k, v in gaps.items()) + f"; the adapter moves the base's logits by {moved:.3f}")
    if moved < 1e-3:
        print("FAIL: the adapter does not change the base's logits: was it loaded?")
        sys.exit(1)
    if max(gaps.values()) > 1e-5:
        print("FAIL: logits differ by more than 1e-5")
        sys.exit(1)


if __name__ == "__main__":
    main()
