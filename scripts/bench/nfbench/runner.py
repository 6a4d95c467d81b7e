"""Running a sweep's points: skip what this commit already measured on this machine, run the rest in
order, append each record as soon as it is measured (a killed sweep keeps what it finished), then
write the CSVs.
"""
import datetime
import os
import re
import time
import traceback

from . import figures, machine, points_io, points_train, store
from . import sweep as sweep_module
from .inputs import Inputs
from .launch import CommandFailed, Launcher

RUNNERS = {"calibrate": points_io.run_calibrate, "comm": points_io.run_comm, "loader": points_io.run_loader,
           "data": points_io.run_data, "checkpoint": points_io.run_checkpoint}
TRAIN_RUNNERS = {"nf": points_train.run_nf, "ddp": points_train.run_peer, "fsdp2": points_train.run_peer}

TRAIN_COLUMNS = ["id", "status", "system", "scaling", "ranks", "layout", "zero", "recompute", "seq_len", "global_batch",
                 "tokens_per_s", "tokens_per_s_per_rank", "efficiency", "tflops_per_rank", "mfu", "step_s", "compute",
                 "comm", "bubble", "data_wait", "peak_bytes", "peak_rss_bytes", "predicted_step_s",
                 "predicted_peak_bytes", "nf_over_peer", "commit", "host", "reason"]
COMM_COLUMNS = ["id", "ranks", "op", "bytes", "count", "dtype", "device", "side", "us", "algbw_gbps", "busbw_gbps",
                "commit", "host"]
IO_COLUMNS = ["id", "status", "kind", "ranks", "figure", "value", "commit", "host", "reason"]


class Context:
    """What every point runner needs: the checkout, the build, the project's Python, the launcher,
    the shared inputs, and the planner's settings with the calibration measured so far."""

    def __init__(self, root, build, python, results_dir, planner, timeout_s):
        self.root, self.build, self.python, self.planner = root, build, python, planner
        self.launcher = Launcher(timeout_s)
        self.inputs = Inputs(root, build, results_dir)
        self.machine = machine.describe()
        self.commit = machine.commit(root, results_dir)
        self.records = []
        with open(os.path.join(root, "src/apps/allocator_config.cpp")) as f:
            self.malloc_conf = re.search(r'malloc_conf = "(.*)";', f.read()).group(1)

    def mfu_peak(self, ranks):
        """MFU's denominator, whatever the planner is told: the dense bf16 peak on GPUs, the
        calibrated rate on the CPU (None before calibration)."""
        return figures.peak_tflops_per_rank(self._mine(), self.machine, ranks, self.launcher.threads(ranks))

    def peak_tflops(self, ranks):
        """The per-rank peak the planner is given: measured, the setting, or None (nf's default)."""
        setting = self.planner["peak_tflops"]
        if setting == "default":
            return None
        if setting != "measured":
            return setting
        return self.mfu_peak(ranks)

    def bandwidth_gbps(self, ranks):
        setting = self.planner["bandwidth_gbps"]
        if setting == "default":
            return None
        return setting if setting != "measured" else figures.bandwidth_gbps(self._mine(), ranks)

    def _mine(self):
        """This commit's records on this machine: calibration from elsewhere does not apply."""
        return [r for r in self.records if r["commit"] == self.commit and r["machine"]["fingerprint"] ==
                self.machine["fingerprint"]]


def run_point(point, ctx, work):
    runner = TRAIN_RUNNERS[point["system"]] if point["kind"] == "train" else RUNNERS[point["kind"]]
    os.makedirs(work, exist_ok=True)
    try:
        return runner(point, ctx, work)
    except CommandFailed as e:
        return {"status": "failed", "reason": str(e)}
    except Exception as e:  # a point that breaks is recorded, and the sweep goes on to the next
        return {"status": "failed", "reason": f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"}


def run(sweep, ctx, results, indices=None, force=False, log=print):
    """Runs the points at `indices` (default: all) not yet measured; returns the count that failed."""
    points = sweep["points"]
    failed = 0
    versions = machine.versions(ctx.python)
    for index, point in enumerate(points):
        if indices is not None and index not in indices:
            continue
        ctx.records = results.records()
        label = sweep_module.describe(point)
        if not force and store.measured(ctx.records, point["id"], ctx.commit, ctx.machine["fingerprint"]):
            log(f"[{index + 1}/{len(points)}] {label}: measured already (commit {ctx.commit[:12]}), skipped")
            continue
        start = time.time()
        what = {k: v for k, v in point.items() if k != "id"}
        outcome = run_point(what, ctx, os.path.join(results.directory, "points", point["id"]))
        record = {"schema": store.SCHEMA, "id": point["id"], "sweep": sweep["name"], "kind": point["kind"],
                  "point": what, "status": outcome["status"],
                  "reason": outcome.get("reason"), "commit": ctx.commit, "machine": ctx.machine, "host": machine.host(),
                  "versions": versions, "environment": machine.environment(), "launcher": ctx.launcher.kind,
                  "threads_per_rank": outcome.get("threads"),
                  "started": datetime.datetime.fromtimestamp(start, datetime.timezone.utc).isoformat(timespec="seconds"),
                  "seconds": time.time() - start, "raw": outcome.get("raw"), "derived": outcome.get("derived"),
                  "predicted": outcome.get("predicted")}
        results.append(record)
        failed += outcome["status"] == "failed"
        summary = outcome["status"] if outcome["status"] != "ok" else headline(record)
        log(f"[{index + 1}/{len(points)}] {label}: {summary} ({record['seconds']:.1f} s)")
        if outcome["status"] != "ok" and outcome.get("reason"):
            log("    " + outcome["reason"].strip().splitlines()[0][:300])
    return failed


def headline(record):
    d = record["derived"]
    if record["kind"] == "train":
        return f"{d['tokens_per_s']:,.0f} tokens/s, {d['tflops_per_rank'] * 1e3:.2f} GFLOP/s per rank"
    if record["kind"] == "calibrate":
        return f"{d['per_thread_gflops']:.1f} GFLOP/s per thread (fp32 matmul)"
    if record["kind"] == "data":
        return f"{d['tokens_per_s_per_rank']:,.0f} tokens/s per rank"
    return ", ".join(f"{k} {v:.3g}" for k, v in list(d.items())[:3])


def write_csvs(directory, records):
    """train.csv, comm.csv and io.csv from the newest record of every point (figures across points,
    efficiency and nf / peer, included)."""
    trains = figures.trainings(records)
    efficiency = {r["id"]: r["derived"]["efficiency"] for r in trains}
    ratio = figures.nf_over_peer(trains)
    records = figures.latest(records)
    rows = []
    for r in (r for r in records if r["kind"] == "train"):
        row = dict(r["point"], id=r["id"], status=r["status"], commit=r["commit"], host=r["host"], reason=r["reason"])
        row.update(r["derived"] or {}, efficiency=efficiency.get(r["id"]))
        if r.get("predicted"):
            row["predicted_step_s"], row["predicted_peak_bytes"] = r["predicted"]["step_s"], r["predicted"]["peak_bytes"]
        row["nf_over_peer"] = ratio.get(r["id"])
        rows.append(row)
    store.write_csv(os.path.join(directory, "train.csv"), rows, TRAIN_COLUMNS)
    rows = []
    for r in figures.ok(records, "comm"):
        for row in r["raw"]["rows"]:
            for side, figures_of_side in row["sides"].items():
                rows.append(dict(row, id=r["id"], side=side, commit=r["commit"], host=r["host"], **figures_of_side))
    store.write_csv(os.path.join(directory, "comm.csv"), rows, COMM_COLUMNS)
    rows = []
    for r in (r for r in records if r["kind"] in ("calibrate", "loader", "data", "checkpoint")):
        base = dict(id=r["id"], status=r["status"], kind=r["kind"], ranks=r["point"].get("ranks"), commit=r["commit"],
                    host=r["host"], reason=r["reason"])
        rows += [dict(base, figure=k, value=v) for k, v in (r["derived"] or {}).items()] or [base]
    store.write_csv(os.path.join(directory, "io.csv"), rows, IO_COLUMNS)
