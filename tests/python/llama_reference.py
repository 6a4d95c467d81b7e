"""Reference check of nf's Llama decoder: a float32 Llama forward written here from Hugging Face's
LlamaForCausalLM math (not from nf's code) recomputes logits, loss and every parameter's gradient
from the weights and batch that nf_reference_export wrote, and compares them with nf's.

Usage: .venv/bin/python llama_reference.py PATH/TO/nf_reference_export

Tolerances (relative to the largest magnitude of the reference tensor):
  logits, loss  1e-5: both sides are fp32 (eps 6e-8); a few dozen ops in a different order, with
                different matmul blocking, leave errors of a few ulp of the largest values.
  gradients     1e-4: the backward pass sums over batch x sequence positions and heads, and the
                softmax/RMSNorm backward subtracts nearly equal terms, so rounding differences grow
                by about the summation length (hundreds of terms here) relative to the forward.
"""
import json
import math
import subprocess
import sys
import tempfile

import torch

LOGIT_TOLERANCE = 1e-5
GRAD_TOLERANCE = 1e-4


def rms_norm(x, weight, eps):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary(head_dim, theta, seq_len):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
    freqs = torch.outer(torch.arange(seq_len).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def attention(x, w, prefix, cfg, cos, sin):
    batch, seq, _ = x.shape
    heads, kv_heads = cfg["n_heads"], cfg["n_kv_heads"]
    head_dim = cfg["d_model"] // heads
    q = (x @ w[prefix + "q_proj.weight"].T).view(batch, seq, heads, head_dim).transpose(1, 2)
    k = (x @ w[prefix + "k_proj.weight"].T).view(batch, seq, kv_heads, head_dim).transpose(1, 2)
    v = (x @ w[prefix + "v_proj.weight"].T).view(batch, seq, kv_heads, head_dim).transpose(1, 2)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    n_rep = heads // kv_heads
    # HF repeat_kv: kv head j serves query heads j*n_rep ... j*n_rep + n_rep - 1.
    k = k[:, :, None].expand(batch, kv_heads, n_rep, seq, head_dim).reshape(batch, heads, seq, head_dim)
    v = v[:, :, None].expand(batch, kv_heads, n_rep, seq, head_dim).reshape(batch, heads, seq, head_dim)
    scores = (q @ k.transpose(2, 3)) / math.sqrt(head_dim)
    causal = torch.full((seq, seq), float("-inf")).triu(1)
    probs = torch.softmax(scores + causal, dim=-1)
    out = (probs @ v).transpose(1, 2).reshape(batch, seq, heads * head_dim)
    return out @ w[prefix + "o_proj.weight"].T


def mlp(x, w, prefix):
    gate = x @ w[prefix + "gate_proj.weight"].T
    up = x @ w[prefix + "up_proj.weight"].T
    return (torch.nn.functional.silu(gate) * up) @ w[prefix + "down_proj.weight"].T


def llama_logits(w, cfg, tokens):
    x = w["model.embed_tokens.weight"][tokens]
    cos, sin = rotary(cfg["d_model"] // cfg["n_heads"], cfg["rope_theta"], tokens.shape[1])
    for i in range(cfg["n_layers"]):
        p = f"model.layers.{i}."
        normed = rms_norm(x, w[p + "input_layernorm.weight"], cfg["norm_eps"])
        x = x + attention(normed, w, p + "self_attn.", cfg, cos, sin)
        x = x + mlp(rms_norm(x, w[p + "post_attention_layernorm.weight"], cfg["norm_eps"]), w, p + "mlp.")
    x = rms_norm(x, w["model.norm.weight"], cfg["norm_eps"])
    head = w["model.embed_tokens.weight"] if cfg["tie_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def hf_parameter_names(cfg):
    names = ["model.embed_tokens.weight"]
    for i in range(cfg["n_layers"]):
        p = f"model.layers.{i}."
        names += [p + f"self_attn.{n}_proj.weight" for n in "qkvo"]
        names += [p + f"mlp.{n}_proj.weight" for n in ("gate", "up", "down")]
        names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
    names.append("model.norm.weight")
    if not cfg["tie_embeddings"]:
        names.append("lm_head.weight")
    return names


def relative_error(ours, reference):
    return ((ours.double() - reference.double()).abs().max() / reference.double().abs().max().clamp_min(1e-30)).item()


def check_case(directory, case):
    cfg = json.load(open(f"{directory}/{case}.json"))
    data = torch.load(f"{directory}/{case}.pt", weights_only=False)  # written by our export tool (torch::save)
    failures = []
    if cfg["parameter_names"] != hf_parameter_names(cfg):
        failures.append(f"parameter names {cfg['parameter_names']} differ from HF's {hf_parameter_names(cfg)}")
    expected_count = sum(data["param/" + n].numel() for n in hf_parameter_names(cfg))
    if not cfg["parameter_count"] == cfg["count_parameters"] == expected_count:
        failures.append(f"parameter count {cfg['parameter_count']}, count_parameters {cfg['count_parameters']}, "
                        f"reference {expected_count}")

    weights = {n: data["param/" + n].clone().float().requires_grad_(True) for n in cfg["parameter_names"]}
    tokens, targets = data["tokens"], data["targets"]
    mask = data["mask"] if "mask" in data else torch.ones_like(tokens, dtype=torch.bool)
    logits = llama_logits(weights, cfg, tokens)
    per_token = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                  reduction="none")
    loss_sum = per_token[mask.reshape(-1)].sum()
    count = int(mask.sum())
    (loss_sum / count).backward()

    errors = {"logits": relative_error(data["logits"], logits.detach()),
              "loss": relative_error(data["loss_sum"], loss_sum.detach())}
    if int(data["loss_count"]) != count:
        failures.append(f"token count {int(data['loss_count'])} != {count}")
    worst_grad = ("", 0.0)
    for name, weight in weights.items():
        error = relative_error(data["grad/" + name], weight.grad)
        if error > worst_grad[1]:
            worst_grad = (name, error)
        if error > GRAD_TOLERANCE:
            failures.append(f"grad of {name}: relative error {error:.2e} > {GRAD_TOLERANCE}")
    for key, error in errors.items():
        if error > LOGIT_TOLERANCE:
            failures.append(f"{key}: relative error {error:.2e} > {LOGIT_TOLERANCE}")
    print(f"{case}: heads {cfg['n_heads']}/{cfg['n_kv_heads']} kv, tied {cfg['tie_embeddings']}, "
          f"loss {loss_sum.item() / count:.6f}, logits err {errors['logits']:.2e}, loss err {errors['loss']:.2e}, "
          f"worst grad err {worst_grad[1]:.2e} ({worst_grad[0]})")
    return failures


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.argv[1], directory], check=True)
        failures = []
        for case in ("gqa_tied", "mha_untied", "mqa_untied_eps"):
            failures += [f"{case}: {f}" for f in check_case(directory, case)]
    for failure in failures:
        print("FAIL", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
