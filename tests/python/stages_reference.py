"""Independent references for the sft and dpo stages, from what nf wrote: the dataset's HDF5 shards
(read with h5py), a checkpoint's safetensors (tests/python/test_ckpt_export.py's reader) and the
Llama forward of llama_reference.py (written from Hugging Face's math, not nf's code), in float64.
The response tokens are found here from the chat template's rule (after <|assistant|>, up to and
including <|end|>), not from the masks and spans nf-shard stored; those are checked against it.

  stages_reference.py sft DATASET WEIGHTS_STEP_DIR RUN_DIR STEP
      The sft run's logged loss of STEP (its global batch = one whole epoch, so the order of the
      samples does not matter) equals the mean cross-entropy over the response tokens of every
      training sample under the weights of WEIGHTS_STEP_DIR.
  stages_reference.py dpo DATASET POLICY_STEP_DIR REFERENCE_STEP_DIR RUN_DIR STEP
      The dpo run's logged loss and rewards/* of STEP (global batch = every pair) equal DPO over
      every pair with the policy's and the reference's weights.
"""
import json
import math
import os
import sys

import h5py
import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_reference import llama_logits  # noqa: E402
from test_ckpt_export import read_safetensors  # noqa: E402

LOSS_TOLERANCE = 1e-5    # relative: nf's fp32 against this float64 forward
REWARD_TOLERANCE = 1e-5  # absolute: a reward is beta x a difference of two sums of ~40 log-probs


def model_config(run_dir):
    config = yaml.safe_load(open(os.path.join(run_dir, "config.yaml")))
    model = dict(config["model"])
    model["n_kv_heads"] = model["n_kv_heads"] or model["n_heads"]
    for key in ("norm_eps", "rope_theta", "init_std"):  # "1e-05" is a string to YAML 1.1
        model[key] = float(model[key])
    for key in ("beta", "label_smoothing"):
        config["dpo"][key] = float(config["dpo"][key])
    return config, model


def weights(step_dir):
    tensors, _ = read_safetensors(os.path.join(step_dir, "model-tp0-pp0.safetensors"))
    return {name: torch.from_numpy(np.array(array, dtype=np.float64)) for name, _, array in tensors}


def special_ids(dataset):
    tokenizer = json.load(open(os.path.join(dataset, "tokenizer.json")))
    ids = {token["content"]: token["id"] for token in tokenizer["added_tokens"]}
    return ids["<|user|>"], ids["<|assistant|>"], ids["<|end|>"]


def train_shards(dataset):
    manifest = json.load(open(os.path.join(dataset, "manifest.json")))
    return [h5py.File(os.path.join(dataset, shard["file"]), "r") for shard in manifest["splits"]["train"]["shards"]]


def logged(run_dir, step):
    for line in open(os.path.join(run_dir, "metrics.jsonl")):
        record = json.loads(line)
        if record.get("step") == step and "loss" in record:
            return record
    sys.exit(f"FAIL: {run_dir}/metrics.jsonl has no loss record for step {step}")


def check(name, ours, reference, tolerance, relative):
    error = abs(ours - reference) / (abs(reference) if relative else 1.0)
    print(f"  {name:<18} nf {ours:.9f}  reference {reference:.9f}  {'relative' if relative else 'absolute'} "
          f"error {error:.2e}")
    if error > tolerance:
        sys.exit(f"FAIL: {name} differs from the reference by {error:.2e} > {tolerance}")
    return error


def sft(dataset, weights_dir, run_dir, step):
    config, model = model_config(run_dir)
    _, assistant, end = special_ids(dataset)
    shards = train_shards(dataset)
    stream = np.concatenate([shard["tokens"][:].astype(np.int64) for shard in shards])
    stored = np.concatenate([shard["loss_mask"][:] for shard in shards]).astype(bool)
    # The template's rule: a token counts from after <|assistant|> up to and including <|end|>.
    mask = np.zeros(len(stream), dtype=bool)
    inside = False
    for i, token in enumerate(stream):
        if inside:
            mask[i] = True
            inside = token != end
        elif token == assistant:
            inside = True
    assert (mask == stored).all(), "nf-shard's stored loss mask differs from the template's rule"
    seq = config["training"]["seq_len"]
    samples = (len(stream) - 1) // seq
    assert config["training"]["global_batch_size"] == samples, "the test needs one whole epoch per step"
    windows = torch.tensor(np.stack([stream[i * seq:i * seq + seq + 1] for i in range(samples)]))
    counted = torch.tensor(np.stack([mask[i * seq + 1:i * seq + seq + 1] for i in range(samples)]))
    logits = llama_logits(weights(weights_dir), model, windows[:, :-1])
    per_token = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1),
                                                  reduction="none").view(samples, seq)
    masked = (per_token * counted).sum().item() / counted.sum().item()
    print(f"sft step {step}: {samples} samples of {seq}, {int(counted.sum())} of {samples * seq} tokens counted "
          f"(every token's mean would be {per_token.mean().item():.6f})")
    check("loss", logged(run_dir, step)["loss"], masked, LOSS_TOLERANCE, relative=True)


def response_log_prob(w, model, prompt, response):
    tokens = torch.tensor(np.concatenate([prompt, response]))[None, :]
    log_probs = torch.log_softmax(llama_logits(w, model, tokens[:, :-1])[0], dim=-1)
    positions = torch.arange(len(prompt) - 1, len(prompt) - 1 + len(response))
    return log_probs[positions, torch.tensor(response)].sum().item()


def dpo(dataset, policy_dir, reference_dir, run_dir, step):
    config, model = model_config(run_dir)
    _, assistant, end = special_ids(dataset)
    beta, smoothing = config["dpo"]["beta"], config["dpo"]["label_smoothing"]
    policy, reference = weights(policy_dir), weights(reference_dir)
    pairs = []
    for shard in train_shards(dataset):
        tokens, offsets, spans = shard["tokens"][:].astype(np.int64), shard["doc_offsets"][:], shard["dpo_spans"][:]
        for d in range(len(offsets) - 1):
            doc = tokens[offsets[d]:offsets[d + 1]]
            prompt_end = int(np.argmax(doc == assistant)) + 1
            chosen_end = prompt_end + int(np.argmax(doc[prompt_end:] == end)) + 1
            assert doc[-1] == end and list(spans[d]) == [prompt_end, chosen_end - prompt_end, len(doc) - chosen_end]
            longest = max(chosen_end, prompt_end + len(doc) - chosen_end)
            assert longest <= config["training"]["seq_len"] + 1, f"a row of {longest} tokens would be cut"
            pairs.append((doc[:prompt_end], doc[prompt_end:chosen_end], doc[chosen_end:]))
    assert config["training"]["global_batch_size"] == len(pairs), "the test needs every pair in each step"
    losses, chosen_rewards, rejected_rewards = [], [], []
    for prompt, chosen, rejected in pairs:
        pc, pr = response_log_prob(policy, model, prompt, chosen), response_log_prob(policy, model, prompt, rejected)
        rc, rr = (response_log_prob(reference, model, prompt, chosen),
                  response_log_prob(reference, model, prompt, rejected))
        x = beta * ((pc - pr) - (rc - rr))
        log_sigmoid = lambda v: -math.log1p(math.exp(-v)) if v > 0 else v - math.log1p(math.exp(v))  # noqa: E731
        losses.append(-(1 - smoothing) * log_sigmoid(x) - smoothing * log_sigmoid(-x))
        chosen_rewards.append(beta * (pc - rc))
        rejected_rewards.append(beta * (pr - rr))
    n = len(pairs)
    record = logged(run_dir, step)
    print(f"dpo step {step}: {n} pairs, beta {beta}, label_smoothing {smoothing}")
    check("loss", record["loss"], sum(losses) / n, LOSS_TOLERANCE, relative=True)
    check("rewards/chosen", record["rewards/chosen"], sum(chosen_rewards) / n, REWARD_TOLERANCE, relative=False)
    check("rewards/rejected", record["rewards/rejected"], sum(rejected_rewards) / n, REWARD_TOLERANCE, relative=False)
    check("rewards/margin", record["rewards/margin"], (sum(chosen_rewards) - sum(rejected_rewards)) / n,
          REWARD_TOLERANCE, relative=False)
    accuracy = sum(c > r for c, r in zip(chosen_rewards, rejected_rewards)) / n
    # A pair whose two rewards are within rounding of each other may count either way.
    close = sum(abs(c - r) < REWARD_TOLERANCE for c, r in zip(chosen_rewards, rejected_rewards))
    check("rewards/accuracy", record["rewards/accuracy"], accuracy, close / n + 1e-12, relative=False)


def main():
    torch.set_num_threads(1)
    if len(sys.argv) == 6 and sys.argv[1] == "sft":
        sft(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) == 7 and sys.argv[1] == "dpo":
        dpo(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        sys.exit(__doc__)
    print("PASS")


if __name__ == "__main__":
    main()
