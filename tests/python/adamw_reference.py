"""Reference check of nf's optimizer layer against PyTorch: torch.optim.AdamW (param groups with and
without weight decay, chosen here by name: norms and embeddings get none), clip_grad_norm_ at 1.0,
and the LR schedule (warmup + cosine/linear/constant) recomputed from its definition.

Usage: .venv/bin/python adamw_reference.py PATH/TO/nf_reference_export

Tolerance 1e-6 relative: the update is the same sequence of fp32 ops as torch's single-tensor
AdamW; only the clipping norm (a sum of squares vs torch's norm of norms) rounds differently.
"""
import json
import math
import subprocess
import sys
import tempfile

import torch

TOLERANCE = 1e-6


def relative_error(ours, reference):
    return ((ours.double() - reference.double()).abs().max() / reference.double().abs().max().clamp_min(1e-30)).item()


def schedule(kind, peak, min_ratio, warmup, total, step):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = 1.0 if total <= warmup else min(1.0, (step - warmup) / (total - warmup))
    low = peak * min_ratio
    if kind == "cosine":
        return low + (peak - low) * 0.5 * (1 + math.cos(math.pi * progress))
    if kind == "linear":
        return peak - (peak - low) * progress
    return peak


def check_adamw(directory):
    info = json.load(open(f"{directory}/adamw.json"))
    data = torch.load(f"{directory}/adamw.pt", weights_only=False)  # written by nf_reference_export (torch::save)
    names = [name for name, _ in info["parameter_names"]]
    params = {n: data["initial/" + n].clone() for n in names}
    no_decay = lambda n: "norm" in n or "embed_tokens" in n
    groups = [{"params": [params[n] for n in names if not no_decay(n)], "weight_decay": 0.1},
              {"params": [params[n] for n in names if no_decay(n)], "weight_decay": 0.0}]
    for n in names:
        if info["weight_decay"][n] != (0.0 if no_decay(n) else 0.1):
            return [f"weight decay of {n} is {info['weight_decay'][n]}"]
    optimizer = torch.optim.AdamW(groups, lr=0.0, betas=(info["beta1"], info["beta2"]), eps=info["eps"])
    failures, worst = [], 0.0
    for step in range(info["steps"]):
        for n in names:
            params[n].grad = data[f"grad{step}/{n}"].clone()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), info["max_norm"]).item()
        if abs(norm - info["norms"][step]) > TOLERANCE * norm:
            failures.append(f"step {step}: grad norm {info['norms'][step]} != {norm}")
        lr = schedule("cosine", 1e-2, 0.1, 2, 6, step)
        if abs(lr - info["lrs"][step]) > 1e-15:
            failures.append(f"step {step}: lr {info['lrs'][step]} != {lr}")
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        for n in names:
            error = relative_error(data[f"step{step}/{n}"], params[n])
            worst = max(worst, error)
            if error > TOLERANCE:
                failures.append(f"step {step}: {n} relative error {error:.2e}")
    for n in names:
        state = optimizer.state[params[n]]
        for key in ("exp_avg", "exp_avg_sq"):
            error = relative_error(data[f"state/{n}.{key}"], state[key])
            worst = max(worst, error)
            if error > TOLERANCE:
                failures.append(f"{n}.{key}: relative error {error:.2e}")
        if int(state["step"]) != int(data["state/step"]):
            failures.append(f"step count {int(data['state/step'])} != {int(state['step'])}")
    print(f"adamw: {info['steps']} steps, {len(names)} tensors, worst relative error {worst:.2e}")
    return failures


def check_lr_schedules(directory):
    failures = []
    for case in json.load(open(f"{directory}/lr_schedule.json")):
        for step, value in enumerate(case["values"]):
            expected = schedule(case["kind"], case["peak_lr"], case["min_lr_ratio"], case["warmup"], case["total"],
                                step)
            if abs(value - expected) > 1e-12 * case["peak_lr"]:
                failures.append(f"lr {case['kind']} warmup {case['warmup']} total {case['total']} step {step}: "
                                f"{value} != {expected}")
    print(f"lr schedules: {len(json.load(open(f'{directory}/lr_schedule.json')))} cases checked")
    return failures


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.argv[1], directory], check=True)
        failures = check_adamw(directory) + check_lr_schedules(directory)
    for failure in failures:
        print("FAIL", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
