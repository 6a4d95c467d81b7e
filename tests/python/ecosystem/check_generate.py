"""nf-generate's outputs (test_generate.sh) against transformers and against each other.

Usage: check_generate.py FIXTURE_DIR WORK_DIR
"""
import json
import os
import sys

import torch
from transformers import AutoTokenizer, LlamaForCausalLM
from transformers.utils import logging

CASES = ("untied_gqa_tp2", "tied_mha_pp2")


def records(work, name):
    with open(os.path.join(work, name + ".jsonl")) as f:
        return [json.loads(line) for line in f]


def check(condition, message):
    if not condition:
        print("FAIL:", message)
        sys.exit(1)


def same_tokens(work, case, a, b):
    ra, rb = records(work, f"{case}.{a}"), records(work, f"{case}.{b}")
    check([r["prompt_tokens"] for r in ra] == [r["prompt_tokens"] for r in rb], f"{case}: {a} and {b} prompts differ")
    for i, (x, y) in enumerate(zip(ra, rb)):
        check(x["tokens"] == y["tokens"], f"{case}: prompt {i}: {a} {x['tokens']} != {b} {y['tokens']}")
    print(f"{case}: {b} == {a}, {sum(len(r['tokens']) for r in ra)} tokens")
    return ra, rb


def main():
    fixture, work = sys.argv[1:3]
    logging.disable_progress_bar()
    torch.set_num_threads(1)
    for case in CASES:
        hf_dir = os.path.join(fixture, case, "hf")
        model = LlamaForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float32).eval()
        eos = model.generation_config.eos_token_id
        greedy = records(work, f"{case}.greedy")
        check(len(greedy) == 5, f"{case}: {len(greedy)} records, expected 5")
        worst = 0.0
        for i, r in enumerate(greedy):
            ids = torch.tensor([r["prompt_tokens"]])
            with torch.no_grad():
                out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                                     eos_token_id=eos, pad_token_id=eos)
            hf_tokens = out[0, ids.shape[1]:].tolist()
            check(r["tokens"] == hf_tokens, f"{case}: prompt {i}: nf {r['tokens']} != transformers {hf_tokens}")
            reason = "stop" if hf_tokens[-1] == eos else "length"
            check(r["finish_reason"] == reason, f"{case}: prompt {i}: finish_reason {r['finish_reason']} != {reason}")
            # transformers' log-softmax at each generated position, on the whole sequence at once.
            with torch.no_grad():
                logits = model(out).logits[0, ids.shape[1] - 1:-1].float()
            expected = logits.log_softmax(-1).gather(1, out[0, ids.shape[1]:, None])[:, 0]
            worst = max(worst, (expected - torch.tensor(r["logprobs"])).abs().max().item())
        check(worst <= 1e-4, f"{case}: log-probabilities differ from transformers' by {worst:.3g}")
        print(f"{case}: greedy == transformers' generate for 5 prompts; log-probabilities within {worst:.2e}")

        same_tokens(work, case, "greedy", "tp2")
        a, b = same_tokens(work, case, "greedy", "nocache")
        gap = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra["logprobs"], rb["logprobs"]))
        check(gap <= 1e-5, f"{case}: KV cache and no cache log-probabilities differ by {gap:.3g}")
        print(f"{case}: KV cache vs no cache log-probabilities within {gap:.2e}")
        same_tokens(work, case, "greedy", "batch1")
        same_tokens(work, case, "greedy", "hfdir")
        same_tokens(work, case, "greedy", "top1")
        same_tokens(work, case, "sampled", "sampled_again")
        same_tokens(work, case, "sampled", "sampled_tp2")
        same_tokens(work, case, "sampled", "sampled_batch1")
        sampled, other = records(work, f"{case}.sampled"), records(work, f"{case}.sampled_seed8")
        check(any(x["tokens"] != y["tokens"] for x, y in zip(sampled, other)), f"{case}: seed 8 sampled as seed 7")
        check(any(x["tokens"] != y["tokens"] for x, y in zip(sampled, greedy)), f"{case}: sampling gave greedy")
        print(f"{case}: another seed samples other tokens")

    tokenizer = AutoTokenizer.from_pretrained(os.path.join(fixture, "untied_gqa_tp2", "hf"))
    chat = records(work, "chat.out")[0]
    user, assistant, end = (tokenizer.convert_tokens_to_ids(t) for t in ("<|user|>", "<|assistant|>", "<|end|>"))
    content = tokenizer("Who made the heaven?", add_special_tokens=False)["input_ids"]
    expected = [user] + content + [end, assistant]
    check(chat["prompt_tokens"] == expected, f"chat prompt {chat['prompt_tokens']} != {expected}")
    print("a conversation is encoded as <|user|> content <|end|> <|assistant|>")


if __name__ == "__main__":
    main()
