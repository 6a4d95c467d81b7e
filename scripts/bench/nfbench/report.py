"""report.md of a results directory: where and from what it was measured, the training table
(strong and weak scaling, planner beside every row), nf against its peers, the planner's accuracy,
collectives, data path and checkpoints, points that did not run and why, and the plots (plots/,
with plots/index.json); with a second result set, a comparison point by point.
"""
import json
import os

from . import figures, plots
from .sweep import describe


def _mib(b):
    return f"{b / 2 ** 20:,.1f}" if b else "-"


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x, fmt="{:,.0f}"):
    return "-" if x is None else fmt.format(x)


def _header(records, title):
    commits = sorted({r["commit"] for r in records})
    machines = {r["machine"]["fingerprint"]: r["machine"] for r in records}
    hosts = sorted({r["host"] for r in records})
    lines = [f"# {title}", "", f"- commit{'s' if len(commits) > 1 else ''}: {', '.join(c[:12] for c in commits)}"]
    for m in machines.values():
        gpu = f", {m['gpus']} x {m['gpu']}" if m.get("gpus") else ", no GPU"
        lines.append(f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_bytes'] / 2 ** 30:.0f} GiB{gpu} "
                     f"(fingerprint {m['fingerprint']})")
    lines.append(f"- hosts: {', '.join(hosts)}; launcher: {', '.join(sorted({r['launcher'] for r in records}))}")
    versions = records[-1]["versions"]
    lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    started = sorted(r["started"] for r in records)
    lines.append(f"- measured {started[0]} to {started[-1]}; {len(records)} points")
    return lines


def _train_table(trains, scaling_mode):
    rows = sorted((r for r in trains if r["point"]["scaling"] == scaling_mode),
                  key=lambda r: (r["point"]["seq_len"], r["point"]["system"] != "nf", r["point"]["system"],
                                 figures.family(r["point"]["layout"]), r["point"]["ranks"], r["derived"]["zero"]))
    if not rows:
        return []
    out = [f"### {scaling_mode.capitalize()} scaling", "",
           "| system | ranks | layout dp×tp×pp | ZeRO | recompute | seq | batch | tokens/s | per rank | efficiency | "
           "TFLOP/s per rank | MFU | step s | compute | comm | bubble | data wait | peak MiB | predicted step s | "
           "predicted MiB |",
           "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        p, d, pred = r["point"], r["derived"], r.get("predicted") or {}
        layout = d["layout"] + (" (auto)" if p["layout"] == "auto" else "")
        split = [_pct(d.get(k)) for k in ("compute", "comm", "bubble", "data_wait")]
        pred_step = f"{pred['step_s']:.3g} ({pred['step_s'] / d['step_s']:.2f}×)" if pred else "-"
        pred_mem = f"{_mib(pred['peak_bytes'])} ({pred['peak_bytes'] / d['peak_bytes']:.2f}×)" if pred else "-"
        out.append(f"| {p['system']} | {p['ranks']} | {layout} | {d['zero']} | {d['recompute']} | {p['seq_len']} | "
                   f"{p['global_batch']} | {_num(d['tokens_per_s'])} | {_num(d['tokens_per_s_per_rank'])} | "
                   f"{_pct(d['efficiency'])} | {d['tflops_per_rank']:.4g} | {_pct(d['mfu'])} | {d['step_s']:.3g} | "
                   f"{' | '.join(split)} | {_mib(d.get('peak_bytes'))} | {pred_step} | {pred_mem} |")
    return out + [""]


def _peer_table(trains):
    pairs = figures.peer_pairs(trains)
    ratios = figures.nf_over_peer(trains)
    if not pairs:
        return []
    out = ["### nf against the PyTorch peer (same model, data, batch, ranks and threads)", "",
           "| scaling | ranks | peer | nf layout, ZeRO | peer tokens/s | nf tokens/s | nf / peer |", "|---|---:|---|---|---:|---:|---:|"]
    for peer, nf in sorted(pairs, key=lambda x: (x[0]["point"]["scaling"], x[0]["point"]["system"], x[0]["point"]["ranks"])):
        p = peer["point"]
        nf_tps = nf["derived"]["tokens_per_s"] if nf else None
        ratio = f"{ratios[peer['id']]:.2f}" if nf else "-"
        out.append(f"| {p['scaling']} | {p['ranks']} | {p['system']} | {p['layout']}, {p['zero']} | "
                   f"{_num(peer['derived']['tokens_per_s'])} | {_num(nf_tps)} | {ratio} |")
    return out + [""]


def _planner_summary(trains):
    step, memory = figures.planner_errors(trains)
    out = []
    for name, errors in (("step time", step), ("peak memory per rank", memory)):
        s = figures.summarize(errors)
        if s:
            out.append(f"- {name}: median error {100 * s['median']:+.1f}%, worst {100 * s['worst']:+.1f}% "
                       f"over {s['count']} nf runs (predicted / measured − 1)")
    planners = {(r["predicted"]["peak_tflops"], r["predicted"]["efficiency"]) for r in trains if r.get("predicted")}
    if planners:
        out.append("- planner settings: " + "; ".join(f"peak {p:.4g} TFLOP/s per rank × efficiency {e}" for p, e in
                                                       sorted(planners)[:3]) + (" …" if len(planners) > 3 else ""))
    return ["### The planner's predictions", ""] + out + [""] if out else []


def _comm_table(comms):
    if not comms:
        return []
    out = ["## Collectives (bench-comm, nccl-tests' columns)", "",
           "| ranks | op | size B | nf us | nf algbw GB/s | nf busbw GB/s | raw busbw GB/s | nf / raw time |",
           "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(comms, key=lambda r: r["point"]["ranks"]):
        for row in r["raw"]["rows"]:
            nf, raw = row["sides"]["nf"], row["sides"]["raw"]
            out.append(f"| {row['ranks']} | {row['op']} | {row['bytes']} | {nf['us']:.1f} | {nf['algbw_gbps']:.3f} | "
                       f"{nf['busbw_gbps']:.3f} | {raw['busbw_gbps']:.3f} | {nf['us'] / raw['us']:.2f} |")
    return out + [""]


def _io_tables(records):
    out = []
    data = figures.ok(records, "data")
    if data:
        out += ["## Data path", "", "nf-shard build of the corpus (BPE encode, HDF5 shards with chunk CRCs, manifest):", "",
                "| ranks | threads per rank | tokens | tokens/s | tokens/s per rank | with start-up, per rank |",
                "|---:|---:|---:|---:|---:|---:|"]
        for r in sorted(data, key=lambda r: r["point"]["ranks"]):
            d = r["derived"]
            out.append(f"| {r['point']['ranks']} | {r['raw']['threads']} | {r['raw']['tokens']:,} | {_num(d['tokens_per_s'])} | "
                       f"{_num(d['tokens_per_s_per_rank'])} | {_num(d['wall_tokens_per_s_per_rank'])} |")
        out.append("")
    for r in figures.ok(records, "loader"):
        out += ["The dataset reader against memcpy of the same bytes (bench-reader):", "",
                "| method | ops/s | GB/s | vs memcpy |", "|---|---:|---:|---:|"]
        out += [f"| {row['method']} | {row['ops_per_s']:,.0f} | {row['gb_per_s']:.2f} | {_pct(row['vs_memcpy'])} |"
                for row in r["raw"]["rows"]]
        out.append("")
    ckpts = figures.ok(records, "checkpoint")
    if ckpts:
        out += ["## Checkpoints (bench-ckpt beside dd on the same disk)", "",
                "| ranks | operation | GB | GB/s | vs dd |", "|---:|---|---:|---:|---:|"]
        for r in sorted(ckpts, key=lambda r: r["point"]["ranks"]):
            for what, op in r["raw"]["ops"].items():
                out.append(f"| {r['point']['ranks']} | {what} | {op['bytes'] / 1e9:.3f} | "
                           f"{r['derived'][what + '_gbps']:.3f} | {r['derived'][what + '_vs_dd']:.2f} |")
        out.append("")
    return out


def _not_run(records, points):
    """Records that are not ok, and the sweep's points that have no record at all (never run, or
    their job was killed before it could write one: a time limit, a node failure)."""
    bad = [r for r in records if r["status"] != "ok"]
    recorded = {r["id"] for r in records}
    missing = [p for p in points or [] if p["id"] not in recorded]
    if not bad and not missing:
        return []
    out = ["## Points that did not run", "", "| point | status | why |", "|---|---|---|"]
    for r in bad:
        reason = (r["reason"] or "").strip().splitlines()[0][:200].replace("|", "/")
        out.append(f"| {describe(r['point'])} | {r['status']} | {reason} |")
    for p in missing:
        out.append(f"| {describe(p)} | no record | not measured yet, or its run was killed before it could write one "
                   f"(a time limit, a node failure): run or submit the sweep again |")
    return out + [""]


def _comparison(trains, other, labels):
    mine = {r["id"]: r for r in trains}
    pairs = [(r, mine[r["id"]]) for r in other if r["id"] in mine]
    if not pairs:
        return [], []
    out = [f"## {labels[1]} against {labels[0]}", "", f"| point | {labels[0]} tokens/s | {labels[1]} tokens/s | "
           f"{labels[1]} / {labels[0]} |", "|---|---:|---:|---:|"]
    for a, b in pairs:
        out.append(f"| {describe(a['point'])} | {_num(a['derived']['tokens_per_s'])} | {_num(b['derived']['tokens_per_s'])} | "
                   f"{b['derived']['tokens_per_s'] / a['derived']['tokens_per_s']:.2f} |")
    return out + [""], pairs


def write(directory, records, title, against=None, labels=("A", "B"), points=None):
    """Writes report.md and plots/ into `directory` from `records` (and, given, compares `against`
    (records of another set, labelled labels[0]) with them (labels[1])); `points`, the sweep's, lets
    it name those without a record. Returns the report's path."""
    trains = figures.trainings(records)
    records = figures.latest(records)
    plot_dir = os.path.join(directory, "plots")
    os.makedirs(plot_dir, exist_ok=True)
    index = []
    lines = _header(records, title) + [""]
    if trains:
        lines += ["## Training", "",
                  "tokens/s: all timed tokens over all timed seconds (warm-up steps dropped); efficiency: tokens/s per "
                  "rank over that of the smallest run of the same system, scaling mode and seq_len; TFLOP/s: nf's "
                  "formula (6 × matmul weights + 12 × layers × seq × d_model per token, docs/training.md); MFU against "
                  f"the per-rank peak (GPU: {figures.DENSE_BF16_PEAK_TFLOPS:.0f} TFLOP/s dense bf16; CPU: the calibrated fp32 matmul rate × the cores "
                  "a rank gets); split: nf's metrics, time-weighted; peak MiB: the largest rank's tensor peak; "
                  "predicted: nf-train --dry-run for the same layout (× = predicted / measured).", ""]
        for mode in ("strong", "weak"):
            lines += _train_table(trains, mode)
            for seq_len in sorted({r["point"]["seq_len"] for r in trains if r["point"]["scaling"] == mode}):
                index.append(plots.scaling(plot_dir, trains, mode, seq_len))
                index.append(plots.split(plot_dir, trains, mode, seq_len))
        lines += _peer_table(trains) + _planner_summary(trains)
        if any(r.get("predicted") for r in trains):
            index.append(plots.planner(plot_dir, trains))
    comms = figures.ok(records, "comm")
    lines += _comm_table(comms)
    if comms:
        index.append(plots.comm(plot_dir, comms))
    lines += _io_tables(records)
    if against:
        other = figures.trainings(against)
        table, pairs = _comparison(trains, other, labels)
        lines += table
        if pairs:
            index.append(plots.compare(plot_dir, pairs, labels))
    lines += _not_run(records, points)
    lines += ["## Plots", ""] + [f"![{e['title']}](plots/{e['file']})" for e in index] + [""]
    with open(os.path.join(plot_dir, "index.json.tmp"), "w") as f:
        json.dump(index, f, indent=1)
    os.replace(os.path.join(plot_dir, "index.json.tmp"), os.path.join(plot_dir, "index.json"))
    path = os.path.join(directory, "report.md")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(path + ".tmp", path)
    return path
