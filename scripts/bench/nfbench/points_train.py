"""Training points: nf-train on a layout (or the planner's choice, layout auto) and the PyTorch peer
(scripts/bench/torch_train_loop.py under DDP or FSDP2) on the same model, data, batch and ranks.

Each returns the record's status and its raw and derived figures. Raw: the timed steps' seconds
(the first warmup_steps are dropped) and, for nf, each step's fractions of communication, bubble and
data wait from metrics.jsonl. Derived: tokens/s (all timed tokens over all timed seconds), per rank,
TFLOP/s per rank with nf's FLOP formula (docs/training.md: 6 per matmul weight and token plus the
attention's 12·layers·seq·d_model), MFU against the per-rank peak, the step-time split, and peak
memory per rank; nf points carry the planner's prediction for the same layout.
"""
import json
import os
import shlex
import shutil

import yaml

from .launch import CommandFailed, run_command

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


def _config_args(point, ctx):
    """nf-train's --config and the sweep's overrides of the point."""
    args = ["--config", os.path.join(ctx.root, point["config"])]
    for key, value in point["overrides"].items():
        args += [f"--{key}", value]
    return args


def _nf_args(point, ctx, dataset, run_dir):
    args = _config_args(point, ctx) + ["--data.train_path", dataset, "--output.dir", run_dir, "--output.name", "run"]
    args += ["--training.seq_len", point["seq_len"], "--training.micro_batch_size", point["micro_batch_size"],
             "--training.global_batch_size", point["global_batch"],
             "--training.max_steps", point["warmup_steps"] + point["steps"], "--training.warmup_steps", 1,
             "--training.log_interval", 1, "--training.eval_interval", 0, "--checkpoint.save_interval", 0]
    if point["layout"] != "auto":
        dp, tp, pp = map(int, point["layout"].split("x"))
        args += ["--parallel.dp", dp, "--parallel.tp", tp, "--parallel.pp", pp, "--parallel.zero", point["zero"],
                 "--training.recompute", point["recompute"]]
    return [str(a) for a in args]


def _config_error(output):
    """nf-train's config error line (exit 2: docs/exit-codes.md), for an invalid point's reason;
    None for a usage error (a wrong flag is the suite's fault, not the point's)."""
    lines = [line for line in output.splitlines() if ": config error: " in line]
    return lines[0].split("] ", 1)[-1] if lines else None


def _plan(point, ctx, args, work):
    """The planner's plan (nf-train --dry-run --dry-run.json) for this point's config on its ranks;
    layout auto: the fastest layout that fits; None when nothing fits. Raises CommandFailed (exit 2
    with a config error: an invalid point)."""
    path = os.path.join(work, "plan.json")
    planner = ["--dry-run", "--dry-run.json", path, "--dry-run.efficiency", ctx.planner["efficiency"]]
    peak, bandwidth = ctx.peak_tflops(point["ranks"]), ctx.bandwidth_gbps(point["ranks"])
    if peak:  # else nf's default (planner.h), as the record's "predicted" says
        planner += ["--dry-run.peak_tflops", peak]
    if bandwidth:
        planner += ["--dry-run.bandwidth", bandwidth]
    if point["layout"] == "auto":
        planner += ["--dry-run.layouts", "all"]
    ctx.launcher.run(point["ranks"], [ctx.inputs.tool("src/nf-train"), *args, *map(str, planner)],
                     os.path.join(work, "plan.log"))
    with open(path) as f:
        plan = json.load(f)
    if point["layout"] == "auto":
        return plan["layouts"][0] if plan.get("layouts") else None
    return plan["plan"] if plan["fits"] else None


def _summary(step_s, tokens_per_step, ranks, flops_per_token, peak_tflops):
    tokens_per_s = tokens_per_step * len(step_s) / sum(step_s)
    tflops = tokens_per_s * flops_per_token / ranks / 1e12
    return {"tokens_per_s": tokens_per_s, "tokens_per_s_per_rank": tokens_per_s / ranks, "step_s": sum(step_s) / len(step_s),
            "tflops_per_rank": tflops, "flops_per_token": flops_per_token,
            "mfu": tflops / peak_tflops if peak_tflops else None, "peak_tflops_per_rank": peak_tflops}


def run_nf(point, ctx, work):
    dataset = ctx.inputs.dataset(point["corpus"]["vocab_size"])
    run_dir = os.path.join(work, "runs")
    args = _nf_args(point, ctx, dataset, run_dir)
    try:
        plan = _plan(point, ctx, args, work)
    except CommandFailed as e:
        if e.code == 2 and _config_error(e.output):
            return {"status": "invalid", "reason": _config_error(e.output)}
        raise
    if plan is None:  # nf-train would stop before training (check_fits), as the planner says
        return {"status": "invalid", "reason": f"the planner finds no {'layout' if point['layout'] == 'auto' else 'fit'} "
                                               f"of this config on {point['ranks']} ranks in the memory limit "
                                               f"(nf-train --dry-run; see {work}/plan.log)"}
    if point["layout"] == "auto":  # the planner's keys select its layout, ZeRO stage and recompute
        args += shlex.split(plan["keys"])
    ctx.launcher.run(point["ranks"], [ctx.inputs.tool("src/nf-train"), *args], os.path.join(work, "train.log"))
    with open(os.path.join(run_dir, "run", "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    shutil.rmtree(run_dir)  # its end-of-run checkpoint: as large as the model's states
    steps = [r for r in records if "loss" in r][point["warmup_steps"]:]
    memory = [r for r in records if "peak_tensor_bytes" in r][-1]
    tokens_per_step = point["global_batch"] * point["seq_len"]
    step_s = [tokens_per_step / r["tokens_per_s"] for r in steps]
    flops_per_token = steps[0]["gflops_per_s"] * 1e9 * point["ranks"] / steps[0]["tokens_per_s"]
    derived = _summary(step_s, tokens_per_step, point["ranks"], flops_per_token, ctx.mfu_peak(point["ranks"]))
    total = sum(step_s)
    for part in ("comm", "bubble", "data_wait"):  # time-weighted over the timed steps
        derived[part] = sum(r[part] * s for r, s in zip(steps, step_s)) / total
    derived["compute"] = 1 - derived["comm"] - derived["bubble"] - derived["data_wait"]
    derived["peak_bytes"] = max(memory["peak_tensor_bytes"])
    derived["peak_rss_bytes"] = max(memory["peak_rss_bytes"])
    derived["layout"] = f"{plan['dp']}x{plan['tp']}x{plan['pp']}"
    derived["zero"], derived["recompute"] = plan["zero"], plan["recompute"]
    raw = {"step_s": step_s, "comm": [r["comm"] for r in steps], "bubble": [r["bubble"] for r in steps],
           "data_wait": [r["data_wait"] for r in steps], "loss": [r["loss"] for r in steps]}
    predicted = {"step_s": plan["step"]["total_s"], "step": plan["step"], "peak_bytes": plan["peak_bytes"],
                 "measured_peak_predicted_bytes": max(memory["predicted_peak_bytes"]),
                 "peak_tflops": plan["peak_tflops"], "efficiency": plan["efficiency"],
                 "bandwidth_gbps": plan["bandwidth_gbps"]}
    return {"status": "ok", "raw": raw, "derived": derived, "predicted": predicted,
            "threads": ctx.launcher.threads(point["ranks"])}


def resolved_config(point, ctx, work):
    """The point's config and overrides as nf-train resolves them (--print-config)."""
    output = run_command([ctx.inputs.tool("src/nf-train"), *_config_args(point, ctx), "--print-config"],
                         os.path.join(work, "config.log"), 120)
    return yaml.safe_load(output)


def run_peer(point, ctx, work):
    """The PyTorch reference loop, data-parallel over the point's ranks (DDP: nf's ZeRO 0, FSDP2: ZeRO 3)."""
    if point["global_batch"] % (point["ranks"] * point["micro_batch_size"]):
        return {"status": "invalid", "reason": f"global batch {point['global_batch']} is not a multiple of "
                                               f"{point['ranks']} ranks x micro-batch {point['micro_batch_size']}"}
    dataset = ctx.inputs.dataset(point["corpus"]["vocab_size"])
    config = resolved_config(point, ctx, work)
    m = config["model"]
    threads = ctx.launcher.threads(point["ranks"])
    rendezvous = os.path.join(work, "rendezvous")  # torch.distributed's file store: must not exist yet
    if os.path.exists(rendezvous):
        os.remove(rendezvous)
    args = [ctx.python, os.path.join(ctx.root, "scripts/bench/torch_train_loop.py"), "train", "--dist", point["system"],
            "--rendezvous", rendezvous, "--threads", threads, "--data", dataset,
            "--vocab", m["vocab_size"], "--d-model", m["d_model"], "--n-layers", m["n_layers"], "--n-heads", m["n_heads"],
            "--n-kv-heads", m.get("n_kv_heads") or m["n_heads"], "--seq-len", point["seq_len"],
            "--micro-batch", point["micro_batch_size"], "--global-batch", point["global_batch"],
            "--warmup", point["warmup_steps"], "--steps", point["steps"]]
    if ctx.machine["gpus"]:  # as nf-train on a GPU: CUDA, bf16 autocast unless training.dtype is fp32
        args += ["--device", "cuda", "--dtype", "fp32" if config["training"]["dtype"] == "fp32" else "bf16"]
    if m.get("ffn_hidden"):
        args += ["--ffn-hidden", m["ffn_hidden"]]
    if m.get("tie_embeddings"):
        args.append("--tie")
    # nf links jemalloc with its own options (src/apps/allocator_config.cpp); the peer gets the same
    # allocator and options, so the comparison is not one of allocators.
    env = {"LD_PRELOAD": JEMALLOC, "MALLOC_CONF": ctx.malloc_conf} if os.path.exists(JEMALLOC) else {}
    output = ctx.launcher.run(point["ranks"], args, os.path.join(work, "peer.log"), threads, env)
    result = json.loads([line for line in output.splitlines() if line.startswith("{")][-1])
    step_s = result["step_s"][point["warmup_steps"]:]
    tokens_per_step = point["global_batch"] * point["seq_len"]
    derived = _summary(step_s, tokens_per_step, point["ranks"], result["flops_per_token"], ctx.mfu_peak(point["ranks"]))
    derived["peak_rss_bytes"] = result.get("peak_rss_bytes")
    derived["layout"], derived["zero"], derived["recompute"] = point["layout"], point["zero"], "none"
    raw = {"step_s": step_s, "loss": result["losses"][point["warmup_steps"]:], "backend": result.get("backend")}
    return {"status": "ok", "raw": raw, "derived": derived, "threads": threads}
