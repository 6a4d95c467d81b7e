"""The points around training: calibration (the matmul peak a rank can reach), communication
(bench-comm: nccl-tests' columns, nf's Communicator beside the raw library calls), the data path
(nf-shard build tokens/s per rank; the dataset reader against memcpy, bench-reader) and checkpoint
save/load GB/s (bench-ckpt) beside dd writing and reading as many bytes on the same disk.
"""
import json
import os
import re
import shutil
import subprocess
import time

from .launch import run_command


def _jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_calibrate(point, ctx, work):
    """fp32 matmul GFLOP/s of one thread (torch.mm of 1024², best of 10): the CPU's per-core peak, which
    the planner and MFU scale by the cores each rank gets. On GPUs the peak is the documented dense
    bf16 one (figures.DENSE_BF16_PEAK_TFLOPS), not measured."""
    output = run_command([ctx.python, os.path.join(ctx.root, "scripts/bench/torch_train_loop.py"), "peak", "--threads", "1",
                          "--size", "1024"], os.path.join(work, "peak.log"), 300)
    peak = json.loads([line for line in output.splitlines() if line.startswith("{")][-1])
    return {"status": "ok", "raw": peak, "derived": {"per_thread_gflops": peak["peak_gflops"]}, "threads": 1}


def run_comm(point, ctx, work):
    path = os.path.join(work, "comm.jsonl")
    if os.path.exists(path):
        os.remove(path)
    args = [ctx.inputs.tool("bench/bench-comm"), "--ops", ",".join(point["ops"]), "--min-bytes", point["min_bytes"],
            "--max-bytes", point["max_bytes"], "--iterations", point["iterations"], "--warmup", point["warmup"],
            "--dtype", point["dtype"], "--device", point["device"], "--jsonl", path]
    ctx.launcher.run(point["ranks"], args, os.path.join(work, "comm.log"), threads=1)
    rows = _jsonl(path)
    derived = {}
    for op in point["ops"]:
        mine = [r for r in rows if r["op"] == op]
        if mine:
            largest = max(mine, key=lambda r: r["bytes"])
            derived[f"{op}_busbw_gbps"] = largest["sides"]["nf"]["busbw_gbps"]
            derived[f"{op}_max_busbw_gbps"] = max(r["sides"]["nf"]["busbw_gbps"] for r in mine)
    return {"status": "ok", "raw": {"rows": rows}, "derived": derived, "threads": 1}


def run_loader(point, ctx, work):
    path = os.path.join(work, "reader.jsonl")
    if os.path.exists(path):
        os.remove(path)
    run_command([ctx.inputs.tool("data_tools/bench-reader"), "--dir", os.path.join(work, "reader"), "--megabytes", "64",
                 "--windows", "100000", "--jsonl", path], os.path.join(work, "reader.log"), 900)
    shutil.rmtree(os.path.join(work, "reader"), ignore_errors=True)
    rows = _jsonl(path)
    return {"status": "ok", "raw": {"rows": rows},
            "derived": {re.sub(r"\W+", "_", r["method"]).strip("_"): r["vs_memcpy"] for r in rows}, "threads": 1}


def run_data(point, ctx, work):
    """nf-shard build of the corpus on the point's ranks, with its BPE: tokens/s per rank, from
    nf-shard's own timing (reading, encoding, writing) and from the wall clock (with start-up)."""
    corpus = ctx.inputs.corpus()
    tokenizer = ctx.inputs.tokenizer(point["corpus"]["vocab_size"])
    out = os.path.join(work, "dataset")
    shutil.rmtree(out, ignore_errors=True)
    threads = ctx.launcher.threads(point["ranks"])
    start = time.perf_counter()
    output = ctx.launcher.run(point["ranks"], [ctx.inputs.tool("data_tools/nf-shard"), "build", "--input", corpus,
                                               "--tokenizer", tokenizer, "--format", "pretrain", "--out", out,
                                               "--threads", threads, "--quiet"], os.path.join(work, "shard.log"), threads)
    wall = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    # "wrote DIR: pretrain, train N documents / T tokens in S shards, val …" and
    # "read 4.2 MB in 0.23 s (18.0 MB/s, …)": the size's unit varies with it, the rate is always MB/s.
    tokens = sum(int(n) for n in re.findall(r"([0-9]+) tokens in", output))
    read = re.search(r"in ([0-9.e+-]+) s \(([0-9.e+-]+) MB/s", output)
    if not tokens or not read:
        raise ValueError(f"nf-shard build printed no token count or timing:\n{output[-500:]}")
    seconds, mb_per_s = float(read.group(1)), float(read.group(2))
    ranks = point["ranks"]
    return {"status": "ok", "raw": {"tokens": tokens, "megabytes": mb_per_s * seconds, "seconds": seconds,
                                    "wall_s": wall, "threads": threads},
            "derived": {"tokens_per_s": tokens / seconds, "tokens_per_s_per_rank": tokens / seconds / ranks,
                        "wall_tokens_per_s_per_rank": tokens / wall / ranks, "mb_per_s": mb_per_s},
            "threads": threads}


def _dd_seconds(args):
    output = subprocess.run(["dd", *args], capture_output=True, text=True, env=dict(os.environ, LC_ALL="C")).stderr
    match = re.search(r"copied, ([0-9.e+-]+) s", output)
    if not match:
        raise ValueError(f"dd {' '.join(args)}: {output.strip()}")
    return float(match.group(1))


def run_checkpoint(point, ctx, work):
    """bench-ckpt (nf's save and load of a synthetic Llama model with AdamW moments, tp = ranks; with
    more than one rank also consolidation) and dd moving as many bytes on the same disk: writes with
    conv=fdatasync (nf fsyncs every file), reads after dropping the page cache (as bench-ckpt does)."""
    directory = os.path.join(work, "ckpt")
    shutil.rmtree(directory, ignore_errors=True)
    args = [ctx.inputs.tool("bench/bench-ckpt"), "--dir", directory, "--d-model", point["d_model"], "--layers",
            point["layers"], "--vocab", point["vocab"]]
    if point["ranks"] > 1:
        args.append("--consolidate")
    output = ctx.launcher.run(point["ranks"], args, os.path.join(work, "ckpt.log"), threads=1)
    shutil.rmtree(directory, ignore_errors=True)
    rows = [line.split()[1:] for line in output.splitlines() if line.startswith("result ")]
    ops = {what: {"bytes": int(size), "seconds": float(seconds)} for what, _, size, seconds in rows}
    blocks = (max(op["bytes"] for op in ops.values()) + (4 << 20) - 1) // (4 << 20)
    dd_file = os.path.join(work, "dd.bin")
    ops["dd-write"] = {"bytes": blocks << 22,
                       "seconds": _dd_seconds(["if=/dev/zero", f"of={dd_file}", "bs=4M", f"count={blocks}", "conv=fdatasync"])}
    _dd_seconds([f"if={dd_file}", "iflag=nocache", "count=0"])  # drops the file's page cache
    ops["dd-read"] = {"bytes": blocks << 22, "seconds": _dd_seconds([f"if={dd_file}", "of=/dev/null", "bs=4M"])}
    os.remove(dd_file)
    derived = {}
    for what, op in ops.items():
        rate = op["bytes"] / op["seconds"] / 1e9
        dd = ops["dd-read"] if what.startswith(("load", "dd-read")) else ops["dd-write"]
        derived[f"{what}_gbps"] = rate
        derived[f"{what}_vs_dd"] = rate / (dd["bytes"] / dd["seconds"] / 1e9)
    return {"status": "ok", "raw": {"ops": ops}, "derived": derived, "threads": 1}
