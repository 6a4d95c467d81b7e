"""The PyTorch side of scripts/bench_train.sh: a plain Python training loop of the same Llama-style
decoder nf-train trains (same math, shapes, batch split, loss, clipping and AdamW), timed per step.

Usage (normally called by scripts/bench_train.sh, under LD_PRELOAD of jemalloc):
  python3 torch_train_loop.py train --data DIR --vocab 32000 --d-model 768 --n-layers 12 --n-heads 12 \
      --n-kv-heads 12 --tie --seq-len 256 --micro-batch 4 --global-batch 8 --warmup 2 --steps 3 --threads 2
  python3 torch_train_loop.py peak --threads 2      # fp32 matmul GFLOP/s, the denominator of "% of peak"
  scripts/gpu/check.sh adds --device cuda --dtype bf16 (on a GPU, in bf16 autocast).

Data parallel, one process per rank, launched as nf-train is (scaling sweeps, issue #18):
  mpirun -n 4 python3 torch_train_loop.py train --dist ddp --rendezvous /tmp/rdv.$$ ...
  srun --mpi=pmix -n 8 python3 torch_train_loop.py train --dist fsdp2 --rendezvous $SHARED/rdv.$SLURM_JOB_ID ...
  torchrun --nproc-per-node 4 torch_train_loop.py train --dist ddp ...     # env:// (MASTER_ADDR/PORT)
--dist ddp is DistributedDataParallel with one gradient all-reduce per step (nf's ZeRO 0); --dist fsdp2
is fully_shard (per-parameter sharding) on each decoder layer and the root, as torchtitan does (nf's
ZeRO 3). The rank comes from the launcher's environment (Open MPI, PMIx/Slurm, torchrun); --rendezvous
FILE meets through a file that must not exist yet (one node, or a filesystem all nodes share; no ports),
without it through env:// (MASTER_ADDR, MASTER_PORT). gloo on --device cpu, nccl on cuda (one GPU per
local rank). --global-batch stays the global batch: rank r trains on its own contiguous slice of
global_batch / world rows of it, as nf's loader gives each dp rank.

Prints one JSON line (rank 0 only): {"tokens_per_s", "gflops_per_s", "fastest_step_tokens_per_s",
"flops_per_token", "step_s": [...], "world_size", "dist", "backend", "peak_rss_bytes", "losses", ...}
(tokens_per_s: all timed steps' global tokens over their total time; gflops_per_s: model FLOP/s per rank,
nf's definition; step_s: each step's time on the slowest rank; peak_rss_bytes: the largest rank's).
The math mirrors src/model (layers.cpp, loss.cpp), src/optim and src/train/step.cpp; the module
layout is a natural nn.Module one, as a PyTorch user would write it, not a copy of nf's code.
"""
import argparse
import contextlib
import gc
import glob
import json
import math
import os
import resource
import time

import torch
import torch.distributed as dist
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


def batches(tokens, rows, seq_len, rank=0, world=1):
    """Endless (inputs, targets, mask) batches of consecutive windows, as nf's loader yields: of each
    global batch of `rows` windows, rank `rank` of `world` gets the contiguous slice rows / world long."""
    per_epoch = (tokens.numel() - 1) // seq_len
    local = rows // world
    start = 0
    while True:
        idx = [(start + rank * local + r) % per_epoch * seq_len for r in range(local)]
        window = torch.stack([tokens[i:i + seq_len + 1] for i in idx])
        yield window[:, :-1].contiguous(), window[:, 1:].contiguous(), torch.ones(local, seq_len, dtype=torch.bool)
        start += rows


def lr_at(step, peak, warmup, total, min_ratio=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


# Where each launcher puts (rank, world size, local rank), in the order they are looked for: mpirun
# (Open MPI), srun --mpi=pmix, srun without PMIx, torchrun.
LAUNCHERS = (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
             ("PMIX_RANK", "SLURM_NTASKS", "SLURM_LOCALID"),
             ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
             ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def launcher_rank():
    """(rank, world size, local rank) from the launcher's environment, or an error naming what is missing."""
    env = os.environ
    launchers = LAUNCHERS
    if "TORCHELASTIC_RUN_ID" in env:  # torchrun's workers inherit a Slurm job's SLURM_*: its own variables win
        launchers = LAUNCHERS[-1:] + LAUNCHERS[:-1]
    for rank, size, local in launchers:
        if rank in env:
            if size not in env:
                raise SystemExit(f"{rank} is set but {size} is not: cannot tell the world size")
            return int(env[rank]), int(env[size]), int(env.get(local, "0"))
    raise SystemExit("--dist needs a launcher's rank, and none of OMPI_COMM_WORLD_RANK (mpirun), PMIX_RANK or "
                     "SLURM_PROCID (srun), RANK (torchrun) is set: launch through one of them")


def init_distributed(cfg):
    """Joins the process group; returns its backend name."""
    if cfg.device == "cuda":
        torch.cuda.set_device(cfg.local_rank)  # one GPU per local rank
    backend = "nccl" if cfg.device == "cuda" else "gloo"
    if cfg.rendezvous:
        init_method = f"file://{os.path.abspath(cfg.rendezvous)}"
    else:
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise SystemExit(f"--dist {cfg.dist} without --rendezvous FILE meets through env://, "
                                 f"and {name} is not set")
        init_method = "env://"
    dist.init_process_group(backend, init_method=init_method, rank=cfg.rank, world_size=cfg.world)
    return backend


def all_reduce(values, op, device):
    """A few numbers summed (or maxed) over the ranks, in fp64 so counts stay exact; as they are on one process."""
    if not dist.is_initialized():
        return values
    totals = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(totals, op)
    return totals.tolist()


def train(args):
    cfg = args
    if cfg.ffn_hidden == 0:
        cfg.ffn_hidden = (8 * cfg.d_model // 3 + 63) // 64 * 64
    backend = init_distributed(cfg) if cfg.dist != "none" else None
    torch.manual_seed(1234)  # every rank starts from the same weights (DDP would broadcast rank 0's anyway)
    with torch.device(cfg.device):  # parameters made and initialized where they train
        model = CausalLM(cfg)
    fpt = flops_per_token(model, cfg)
    parameters = sum(p.numel() for p in model.parameters())
    wrapped = model
    if cfg.dist == "ddp":
        devices = [cfg.local_rank] if cfg.device == "cuda" else None
        wrapped = nn.parallel.DistributedDataParallel(model, device_ids=devices)
    elif cfg.dist == "fsdp2":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        # An explicit mesh: fully_shard's default one takes the accelerator's type even for --device cpu.
        mesh = init_device_mesh(cfg.device, (cfg.world,))
        for layer in model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)  # the root: embedding (tied head too), final norm, lm_head
    # torch.compile (inductor) fuses the forward and, through AOTAutograd, its backward; the first
    # call compiles, so --warmup must cover it.
    forward = torch.compile(wrapped) if cfg.compile else wrapped
    # After fully_shard: its parameters are new (sharded DTensors), the ones the optimizer must hold.
    decay = [p for n, p in model.named_parameters() if "norm" not in n and "embed_tokens" not in n]
    no_decay = [p for n, p in model.named_parameters() if "norm" in n or "embed_tokens" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=3e-4, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    data = batches(load_tokens(cfg.data), cfg.global_batch, cfg.seq_len, cfg.rank, cfg.world)
    rows = cfg.global_batch // cfg.world  # this rank's
    total_steps = cfg.warmup + cfg.steps
    step_s, losses = [], []
    for step in range(total_steps):
        start = time.perf_counter()
        inputs, targets, mask = (t.to(cfg.device) for t in next(data))
        # As nf's step: the loss is the sum over the global batch / the global token count, accumulated
        # over micro-batches; one backward per micro-batch. DDP and FSDP average the ranks' gradients,
        # so each rank's part is scaled by the world size to make that average the global sum's.
        count = int(all_reduce([mask.sum().item()], dist.ReduceOp.SUM, cfg.device)[0])
        loss_sum = 0.0
        for begin in range(0, rows, cfg.micro_batch):
            end = begin + cfg.micro_batch
            # Gradients sync over the ranks on the last micro-batch only (nf's dp: one reduction a step).
            sync = contextlib.nullcontext()
            if cfg.dist == "ddp" and end < rows:
                sync = wrapped.no_sync()
            elif cfg.dist == "fsdp2":
                model.set_requires_gradient_sync(end == rows)
            with sync:  # around forward and backward, as no_sync needs
                # bf16: autocast with fp32 weights and optimizer, as nf's training.dtype bf16
                with torch.autocast(cfg.device, dtype=torch.bfloat16, enabled=cfg.dtype == "bf16"):
                    logits = forward(inputs[begin:end])
                    per_token = F.cross_entropy(logits.reshape(-1, cfg.vocab), targets[begin:end].reshape(-1),
                                                reduction="none").view(end - begin, cfg.seq_len)
                part = torch.where(mask[begin:end], per_token, torch.zeros_like(per_token)).sum()
                (part * cfg.world / count).backward()
            loss_sum += part.item()
        loss_sum = all_reduce([loss_sum], dist.ReduceOp.SUM, cfg.device)[0]
        # Of all parameters' gradients: with FSDP2 they are DTensor shards and the norm a replicated DTensor.
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if hasattr(grad_norm, "full_tensor"):
            grad_norm = grad_norm.full_tensor()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, 3e-4, 100, 1000)
        if math.isfinite(loss_sum) and math.isfinite(grad_norm.item()):  # both global: every rank agrees
            optimizer.step()
        optimizer.zero_grad(set_to_none=False)  # nf zeroes gradients in place
        if cfg.device == "cuda":
            torch.cuda.synchronize()  # the step's kernels (the optimizer's) are done before the clock stops
        step_s.append(time.perf_counter() - start)
        losses.append(loss_sum / count)
    # A step takes as long as its slowest rank; the run needs as much memory as its largest.
    step_s = all_reduce(step_s, dist.ReduceOp.MAX, cfg.device)
    peak_rss = int(all_reduce([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024], dist.ReduceOp.MAX,
                              cfg.device)[0])
    if cfg.rank != 0:
        return
    timed = step_s[cfg.warmup:]
    tokens_per_s = cfg.global_batch * cfg.seq_len * len(timed) / sum(timed)
    print(json.dumps({"tokens_per_s": tokens_per_s, "gflops_per_s": tokens_per_s * fpt / cfg.world / 1e9,
                      "fastest_step_tokens_per_s": cfg.global_batch * cfg.seq_len / min(timed),
                      "flops_per_token": fpt, "parameters": parameters,
                      "threads": torch.get_num_threads(), "compiled": cfg.compile, "device": cfg.device,
                      "dtype": cfg.dtype, "world_size": cfg.world, "dist": cfg.dist, "backend": backend,
                      "peak_rss_bytes": peak_rss, "step_s": step_s, "losses": losses}))


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
    parser.add_argument("--dist", choices=("none", "ddp", "fsdp2"), default="none",
                        help="train: data parallel over the launcher's ranks (mpirun, srun, torchrun)")
    parser.add_argument("--rendezvous", metavar="FILE",
                        help="train: the ranks meet through this new file (file://), else env:// (MASTER_ADDR/PORT)")
    parser.add_argument("--size", type=int, default=2048, help="peak: matrix size")
    parser.add_argument("--repeats", type=int, default=10, help="peak: timed matmuls")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "peak":
        peak(args)
        return
    if args.n_kv_heads == 0:
        args.n_kv_heads = args.n_heads
    args.rank, args.world, args.local_rank = launcher_rank() if args.dist != "none" else (0, 1, 0)
    if args.data is None or args.global_batch % (args.world * args.micro_batch):
        parser.error("train needs --data, and --global-batch must be a multiple of --micro-batch x the ranks")
    if args.compile and args.warmup < 1:
        parser.error("--compile needs --warmup >= 1: the first step compiles")
    train(args)
    if dist.is_initialized():
        # DDP's and FSDP's objects sit in reference cycles that keep the process group (its gloo threads)
        # alive; left to the collection at interpreter exit, those threads abort the process
        # ("terminate called without an active exception", pytorch#190489). Free them first.
        gc.collect()
        dist.destroy_process_group()
        if args.rendezvous and args.rank == 0:
            # The FileStore deletes its file when its last rank lets go, but after FSDP2 none does:
            # DTensor's sharding caches keep the device mesh, and through it the store, until exit. A file
            # left behind would hang the next run meeting there; every rank is past its last collective.
            with contextlib.suppress(FileNotFoundError):
                os.remove(args.rendezvous)


if __name__ == "__main__":
    main()
