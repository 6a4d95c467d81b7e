"""The report's PNG plots (matplotlib, Agg). Each function draws one figure and returns what it drew
for plots/index.json: the file, its title and axes, and every series with its colour and number of
points, so a test (and a reader) can check a plot holds what it should without looking at it.
"""
import itertools
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)

from . import figures  # noqa: E402

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
SPLIT = [("compute", "#1f77b4"), ("comm", "#d62728"), ("bubble", "#ff7f0e"), ("data_wait", "#2ca02c")]
MARKERS = "osD^v"  # a new marker each time the colours come round again
IDEAL = "#000000"


class Figure:
    """One PNG and its index entry."""

    def __init__(self, directory, name, title, ncols=1):
        self.path = os.path.join(directory, name)
        self.fig, axes = plt.subplots(1, ncols, figsize=(6.4 * ncols, 4.6), squeeze=False)
        self.axes = list(axes[0])
        self.fig.suptitle(title)
        self.entry = {"file": name, "title": title, "panels": []}

    def panel(self, ax, xlabel, ylabel):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        entry = {"xlabel": xlabel, "ylabel": ylabel, "series": []}
        self.entry["panels"].append(entry)
        return entry

    def series(self, panel, label, color, points):
        panel["series"].append({"label": label, "color": color, "points": points})

    def save(self):
        for ax in self.axes:
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        self.fig.tight_layout()
        self.fig.savefig(self.path, dpi=100)
        plt.close(self.fig)
        return self.entry


def _series_by_family(trains, system):
    """{series: [(ranks, record)]} for one system: a series per layout family, and for nf per ZeRO
    stage and recompute mode too; the 1-rank run starts every series of its system."""
    series, singles = {}, []
    for r in trains:
        p = r["point"]
        if p["system"] != system:
            continue
        fam = figures.family(p["layout"])
        if fam == "single":
            singles.append((p["ranks"], r))
            continue
        if system == "nf" and p["layout"] != "auto":
            fam += f" ZeRO {p['zero']}" if p["zero"] else ""
            fam += f" recompute {p['recompute']}" if p["recompute"] != "none" else ""
        series.setdefault(fam, []).append((p["ranks"], r))
    for fam in series:
        series[fam] = sorted(singles[:1] + series[fam], key=lambda x: x[0])
    if not series and singles:
        series["single"] = singles[:1]
    return series


def scaling(directory, trains, scaling_mode, seq_len):
    """tokens/s and efficiency against ranks, a line per layout family and peer, the ideal dashed."""
    mine = [r for r in trains if r["point"]["scaling"] == scaling_mode and r["point"]["seq_len"] == seq_len]
    fig = Figure(directory, f"scaling_{scaling_mode}_seq{seq_len}.png",
                 f"{scaling_mode} scaling, seq_len {seq_len}", 2)
    throughput = fig.panel(fig.axes[0], "ranks", "tokens/s (all ranks)")
    efficiency = fig.panel(fig.axes[1], "ranks", "scaling efficiency (%)")
    color = itertools.cycle(COLORS)  # a sweep may draw more series than colours: markers tell them apart
    all_ranks = sorted({r["point"]["ranks"] for r in mine})
    baseline = None
    series = [(system, fam, points) for system in ("nf", "ddp", "fsdp2")
              for fam, points in sorted(_series_by_family(mine, system).items())]
    for i, (system, fam, points) in enumerate(series):
        c, style = next(color), MARKERS[i // len(COLORS) % len(MARKERS)] + "-"
        label = f"{system} {fam}"
        xs = [n for n, _ in points]
        fig.axes[0].plot(xs, [r["derived"]["tokens_per_s"] for _, r in points], style, color=c, label=label)
        fig.axes[1].plot(xs, [100 * r["derived"]["efficiency"] for _, r in points], style, color=c, label=label)
        fig.series(throughput, label, c, len(points))
        fig.series(efficiency, label, c, len(points))
        if system == "nf" and points[0][0] == min(all_ranks):
            baseline = baseline or points[0][1]
    if baseline:
        n0 = baseline["point"]["ranks"]
        ideal = [baseline["derived"]["tokens_per_s"] * n / n0 for n in all_ranks]
        fig.axes[0].plot(all_ranks, ideal, "--", color=IDEAL, label="ideal (linear from nf's smallest run)")
        fig.axes[1].axhline(100, linestyle="--", color=IDEAL, label="ideal")
        fig.series(throughput, "ideal", IDEAL, len(all_ranks))
        fig.series(efficiency, "ideal", IDEAL, 2)
    for ax in fig.axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_ranks, [str(n) for n in all_ranks])
    fig.axes[1].set_ylim(bottom=0)
    return fig.save()


def split(directory, trains, scaling_mode, seq_len):
    """nf's step time split (compute, comm, bubble, data wait) as stacked bars, one per point."""
    mine = sorted((r for r in trains if r["point"]["system"] == "nf" and r["point"]["scaling"] == scaling_mode
                   and r["point"]["seq_len"] == seq_len),
                  key=lambda r: (r["point"]["ranks"], r["derived"]["layout"], r["derived"]["zero"]))
    fig = Figure(directory, f"split_{scaling_mode}_seq{seq_len}.png",
                 f"nf step time by part, {scaling_mode} scaling, seq_len {seq_len}")
    fig.fig.set_size_inches(max(6.4, 0.55 * len(mine) + 2), 4.8)
    panel = fig.panel(fig.axes[0], "layout dp x tp x pp (ZeRO stage, recompute)", "seconds per step")
    labels = [f"{r['derived']['layout']}\nZeRO {r['derived']['zero']}\n{r['derived']['recompute']}"
              + (" (auto)" if r["point"]["layout"] == "auto" else "") for r in mine]
    bottom = [0.0] * len(mine)
    for part, c in SPLIT:
        heights = [r["derived"][part] * r["derived"]["step_s"] for r in mine]
        fig.axes[0].bar(range(len(mine)), heights, bottom=bottom, color=c, label=part.replace("_", " "))
        bottom = [b + h for b, h in zip(bottom, heights)]
        fig.series(panel, part, c, len(mine))
    fig.axes[0].set_xticks(range(len(mine)), labels, fontsize=7)
    return fig.save()


def comm(directory, comms):
    """busbw against message size, a panel per collective, a line per rank count; nf solid, the raw
    library call dashed."""
    ops = [op for op in ("all_reduce", "reduce_scatter", "all_gather", "sendrecv")
           if any(row["op"] == op for r in comms for row in r["raw"]["rows"])]
    fig = Figure(directory, "comm_busbw.png", "collectives: bus bandwidth against message size (nccl-tests' busbw)",
                 len(ops))
    for ax, op in zip(fig.axes, ops):
        panel = fig.panel(ax, "message size (bytes)", f"{op} busbw (GB/s)")
        ax.set_title(op)
        for c, r in zip(itertools.cycle(COLORS), sorted(comms, key=lambda r: r["point"]["ranks"])):
            rows = sorted((row for row in r["raw"]["rows"] if row["op"] == op), key=lambda row: row["bytes"])
            if not rows:
                continue
            n = r["point"]["ranks"]
            ax.plot([row["bytes"] for row in rows], [row["sides"]["nf"]["busbw_gbps"] for row in rows], "o-", color=c,
                    label=f"nf, {n} ranks")
            ax.plot([row["bytes"] for row in rows], [row["sides"]["raw"]["busbw_gbps"] for row in rows], "--", color=c,
                    label=f"raw, {n} ranks", alpha=0.7)
            fig.series(panel, f"nf, {n} ranks", c, len(rows))
        ax.set_xscale("log", base=2)
    return fig.save()


def planner(directory, trains):
    """Measured against predicted: peak memory per rank and step time, one point per nf run, y = x."""
    mine = [r for r in trains if r["point"]["system"] == "nf" and r.get("predicted")]
    fig = Figure(directory, "planner.png", "planner (nf-train --dry-run) against measurement", 2)
    for ax, key, scale, unit in ((fig.axes[0], "peak_bytes", 2 ** 20, "MiB"), (fig.axes[1], "step_s", 1, "s")):
        name = "peak memory per rank" if key == "peak_bytes" else "step time"
        panel = fig.panel(ax, f"measured {name} ({unit})", f"predicted {name} ({unit})")
        for c, fam in zip(itertools.cycle(COLORS), sorted({figures.family(r["point"]["layout"]) for r in mine})):
            rs = [r for r in mine if figures.family(r["point"]["layout"]) == fam]
            ax.plot([r["derived"][key] / scale for r in rs], [r["predicted"][key] / scale for r in rs], "o", color=c,
                    label=fam)
            fig.series(panel, fam, c, len(rs))
        values = [r["derived"][key] / scale for r in mine] + [r["predicted"][key] / scale for r in mine]
        if values:
            low, high = min(values) * 0.8, max(values) * 1.25
            ax.plot([low, high], [low, high], "--", color=IDEAL, label="predicted = measured")
            fig.series(panel, "predicted = measured", IDEAL, 2)
            if key == "step_s":  # step times span decades across layouts; memory does not
                ax.set_xscale("log")
                ax.set_yscale("log")
    return fig.save()


def compare(directory, pairs, labels):
    """Two result sets: tokens/s of B over A for every training point both measured."""
    fig = Figure(directory, "compare.png", f"{labels[1]} / {labels[0]}: tokens/s per training point")
    fig.fig.set_size_inches(max(6.4, 0.45 * len(pairs) + 2), 4.8)
    panel = fig.panel(fig.axes[0], "point", f"tokens/s, {labels[1]} / {labels[0]}")
    ratios = [b["derived"]["tokens_per_s"] / a["derived"]["tokens_per_s"] for a, b in pairs]
    fig.axes[0].bar(range(len(pairs)), ratios, color=COLORS[0], label=f"{labels[1]} / {labels[0]}")
    fig.axes[0].axhline(1, linestyle="--", color=IDEAL, label="equal")
    fig.series(panel, f"{labels[1]} / {labels[0]}", COLORS[0], len(pairs))
    fig.series(panel, "equal", IDEAL, 2)
    names = [f"{a['point']['system']} {a['point']['scaling'][0]} {a['point']['layout']}" for a, _ in pairs]
    fig.axes[0].set_xticks(range(len(pairs)), names, rotation=60, ha="right", fontsize=7)
    return fig.save()
