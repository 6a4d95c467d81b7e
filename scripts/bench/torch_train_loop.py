"""The PyTorch side of scripts/bench_train.sh: a plain Python training loop of the same Llama-style
decoder nf-train trains (same math, shapes, batch split, loss, clipping and AdamW), timed per step.

Usage (normally called by scripts/bench_train.sh, under LD_PRELOAD of jemalloc):
  python3 torch_train_loop.py train --data DIR --vocab 32000 --d-model 768 --n-layers 12 --n-heads 12 \
      --n-kv-heads 12 --tie --seq-len 256 --micro-batch 4 --global-batch 8 --warmup 2 --steps 3 --threads 2
  python3 torch_train_loop.py peak --threads 2      # fp32 matmul GFLOP/s, the denominator of "% of peak"
  scripts/gpu/check.sh adds --device cuda --dtype bf16 (on a GPU, in bf16 autocast).

Prints one JSON line: {"tokens_per_s", "gflops_per_s", "fastest_step_tokens_per_s", "flops_per_token",
"step_s": [...], ...} (tokens_per_s: all timed steps' tokens over their total time).
The math mirrors src/model (layers.cpp, loss.cpp), src/optim and src/train/step.cpp; the module
layout is a natural nn.Module one, as a PyTorch user would write it, not a copy of nf's code.
"""
import argparse
import glob
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_tables(head_dim, theta, seq_len):
    inv_freq = 1.0 / torch.pow(theta, torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    freqs = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos(), angles.sin()


class Attention(nn.Module):
    def __init__(self, d_model, n_heads, n_kv_heads):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d_model, n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d_model, n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(n_heads * self.head_dim, d_model, bias=False)

    def forward(self, x, cos, sin):
        batch, seq, _ = x.shape

        def heads(t, n):
            return t.view(batch, seq, n, self.head_dim).transpose(1, 2)

        q = heads(self.q_proj(x), self.n_heads)
        k = heads(self.k_proj(x), self.n_kv_heads)
        v = heads(self.v_proj(x), self.n_kv_heads)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        n_rep = self.n_heads // self.n_kv_heads
        if n_rep > 1:  # GQA: kv head j serves query heads j*n_rep .. j*n_rep + n_rep - 1
            shape = (batch, self.n_kv_heads * n_rep, seq, self.head_dim)
            k = k[:, :, None].expand(batch, self.n_kv_heads, n_rep, seq, self.head_dim).reshape(shape)
            v = v[:, :, None].expand(batch, self.n_kv_heads, n_rep, seq, self.head_dim).reshape(shape)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # the fused op nf calls
        return self.o_proj(out.transpose(1, 2).reshape(batch, seq, self.n_heads * self.head_dim))


class Mlp(nn.Module):
    def __init__(self, d_model, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(d_model, hidden, bias=False)
        self.up_proj = nn.Linear(d_model, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = Attention(cfg.d_model, cfg.n_heads, cfg.n_kv_heads)
        self.mlp = Mlp(cfg.d_model, cfg.ffn_hidden)
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)

    def forward(self, x, cos, sin):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return h + self.mlp(self.post_attention_layernorm(h))


class CausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab, cfg.d_model)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.lm_head = None if cfg.tie else nn.Linear(cfg.d_model, cfg.vocab, bias=False)
        for name, p in self.named_parameters():
            if "norm" not in name:
                nn.init.normal_(p, 0.0, cfg.init_std)

    def forward(self, tokens):
        cos, sin = (t.to(tokens.device) for t in rope_tables(self.cfg.d_model // self.cfg.n_heads, self.cfg.rope_theta,
                                                             tokens.shape[1]))
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin)
        head = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return F.linear(self.norm(x), head)


def flops_per_token(model, cfg):
    """nf's formula (src/model/flops.cpp): 6 x matmul weights + 12 x layers x seq x d_model."""
    params = sum(p.numel() for p in model.parameters())
    norms = (2 * cfg.n_layers + 1) * cfg.d_model
    embedding = cfg.vocab * cfg.d_model
    matmul_weights = params - norms - embedding + (embedding if cfg.tie else 0)
    return 6.0 * matmul_weights + 12.0 * cfg.n_layers * cfg.seq_len * cfg.d_model


def load_tokens(data_dir):
    """The train split's tokens, concatenated (sample order does not matter for throughput)."""
    import h5py  # only the train mode needs it

    parts = []
    for path in sorted(glob.glob(f"{data_dir}/train-*.h5")):
        with h5py.File(path, "r") as f:
            parts.append(torch.from_numpy(f["tokens"][:].astype("int64")))
    if not parts:
        raise SystemExit(f"no train-*.h5 shards in {data_dir}")
    return torch.cat(parts)


def batches(tokens, rows, seq_len):
    """Endless (inputs, targets, mask) batches of consecutive windows, as nf's loader yields."""
    per_epoch = (tokens.numel() - 1) // seq_len
    start = 0
    while True:
        idx = [(start + r) % per_epoch * seq_len for r in range(rows)]
        window = torch.stack([tokens[i:i + seq_len + 1] for i in idx])
        yield window[:, :-1].contiguous(), window[:, 1:].contiguous(), torch.ones(rows, seq_len, dtype=torch.bool)
        start += rows


def lr_at(step, peak, warmup, total, min_ratio=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def train(args):
    cfg = args
    if cfg.ffn_hidden == 0:
        cfg.ffn_hidden = (8 * cfg.d_model // 3 + 63) // 64 * 64
    torch.manual_seed(1234)
    with torch.device(cfg.device):  # parameters made and initialized where they train
        model = CausalLM(cfg)
    # torch.compile (inductor) fuses the forward and, through AOTAutograd, its backward; the first
    # call compiles, so --warmup must cover it.
    forward = torch.compile(model) if cfg.compile else model
    decay = [p for n, p in model.named_parameters() if "norm" not in n and "embed_tokens" not in n]
    no_decay = [p for n, p in model.named_parameters() if "norm" in n or "embed_tokens" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=3e-4, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    data = batches(load_tokens(cfg.data), cfg.global_batch, cfg.seq_len)
    total_steps = cfg.warmup + cfg.steps
    step_s, losses = [], []
    for step in range(total_steps):
        start = time.perf_counter()
        inputs, targets, mask = (t.to(cfg.device) for t in next(data))
        # As nf's step: the loss is the sum over the global batch / the token count, accumulated
        # over micro-batches; one backward per micro-batch.
        count = int(mask.sum().item())
        loss_sum = 0.0
        for begin in range(0, cfg.global_batch, cfg.micro_batch):
            end = begin + cfg.micro_batch
            # bf16: autocast with fp32 weights and optimizer, as nf's training.dtype bf16
            with torch.autocast(cfg.device, dtype=torch.bfloat16, enabled=cfg.dtype == "bf16"):
                logits = forward(inputs[begin:end])
                per_token = F.cross_entropy(logits.reshape(-1, cfg.vocab), targets[begin:end].reshape(-1),
                                            reduction="none").view(end - begin, cfg.seq_len)
            part = torch.where(mask[begin:end], per_token, torch.zeros_like(per_token)).sum()
            (part / count).backward()
            loss_sum += part.item()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, 3e-4, 100, 1000)
        if math.isfinite(loss_sum) and math.isfinite(grad_norm.item()):
            optimizer.step()
        optimizer.zero_grad(set_to_none=False)  # nf zeroes gradients in place
        if cfg.device == "cuda":
            torch.cuda.synchronize()  # the step's kernels (the optimizer's) are done before the clock stops
        step_s.append(time.perf_counter() - start)
        losses.append(loss_sum / count)
    timed = step_s[cfg.warmup:]
    tokens_per_s = cfg.global_batch * cfg.seq_len * len(timed) / sum(timed)
    fpt = flops_per_token(model, cfg)
    print(json.dumps({"tokens_per_s": tokens_per_s, "gflops_per_s": tokens_per_s * fpt / 1e9,
                      "fastest_step_tokens_per_s": cfg.global_batch * cfg.seq_len / min(timed),
                      "flops_per_token": fpt, "parameters": sum(p.numel() for p in model.parameters()),
                      "threads": torch.get_num_threads(), "compiled": cfg.compile, "device": cfg.device,
                      "dtype": cfg.dtype, "step_s": step_s, "losses": losses}))


def peak(args):
    n = args.size
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    for _ in range(2):
        torch.mm(a, b, out=out)
    best = 0.0
    for _ in range(args.repeats):  # best of: the machine is shared, the peak is what it can do
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = max(best, 2.0 * n ** 3 / (time.perf_counter() - start) / 1e9)
    print(json.dumps({"peak_gflops": best, "size": n, "threads": torch.get_num_threads()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("train", "peak"))
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--data")
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--d-model", type=int, default=768)
    parser.add_argument("--n-layers", type=int, default=12)
    parser.add_argument("--n-heads", type=int, default=12)
    parser.add_argument("--n-kv-heads", type=int, default=0)
    parser.add_argument("--ffn-hidden", type=int, default=0)
    parser.add_argument("--tie", action="store_true")
    parser.add_argument("--rope-theta", type=float, default=10000.0)
    parser.add_argument("--norm-eps", type=float, default=1e-5)
    parser.add_argument("--init-std", type=float, default=0.02)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=3, help="timed steps")
    parser.add_argument("--compile", action="store_true", help="train: the model through torch.compile")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="train: where the model trains")
    parser.add_argument("--dtype", choices=("fp32", "bf16"), default="fp32", help="train: bf16 = bf16 autocast")
    parser.add_argument("--size", type=int, default=2048, help="peak: matrix size")
    parser.add_argument("--repeats", type=int, default=10, help="peak: timed matmuls")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "peak":
        peak(args)
        return
    if args.n_kv_heads == 0:
        args.n_kv_heads = args.n_heads
    if args.data is None or args.global_batch % args.micro_batch:
        parser.error("train needs --data, and --global-batch must be a multiple of --micro-batch")
    if args.compile and args.warmup < 1:
        parser.error("--compile needs --warmup >= 1: the first step compiles")
    train(args)


if __name__ == "__main__":
    main()
