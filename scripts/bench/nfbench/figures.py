"""What is derived across points: the peak a rank can reach and its link's bandwidth (from the
calibration and communication points), scaling efficiency against the smallest run, nf / peer, and
the planner's error. Records are the dicts of results.jsonl.
"""
import statistics

# H100/H200 SXM dense bf16 TFLOP/s, without sparsity: MFU's denominator on GPUs, as Megatron and
# torchtitan use it (nf-train's kAssumedPeakTflops is the same number).
DENSE_BF16_PEAK_TFLOPS = 989.0


def latest(records):
    """The newest final-or-failed record of each point id, in first-seen order."""
    out = {}
    for record in records:
        out.pop(record["id"], None)
        out[record["id"]] = record
    return list(out.values())


def ok(records, kind):
    return [r for r in records if r["kind"] == kind and r["status"] == "ok"]


def peak_tflops_per_rank(records, machine, ranks, threads):
    """GPU: the dense bf16 peak. CPU: the calibrated one-thread matmul rate × the cores a rank gets
    (its threads, or its share of the cores when ranks × threads oversubscribe them); None before
    the calibration point has run."""
    if machine.get("gpus"):
        return DENSE_BF16_PEAK_TFLOPS
    calibrations = ok(records, "calibrate")
    if not calibrations:
        return None
    per_thread = calibrations[-1]["derived"]["per_thread_gflops"]
    return per_thread * min(threads, machine["cores_allocated"] / ranks) / 1000


def bandwidth_gbps(records, ranks):
    """all_reduce bus bandwidth at the largest message of the communication point with the rank count
    nearest `ranks` (the planner's "one rank's link"); None without one."""
    comms = [r for r in ok(records, "comm") if "all_reduce_busbw_gbps" in r["derived"]]
    if not comms or ranks < 2:
        return None
    nearest = min(comms, key=lambda r: (abs(r["point"]["ranks"] - ranks), -r["point"]["ranks"]))
    return nearest["derived"]["all_reduce_busbw_gbps"]


def group_key(record):
    p = record["point"]
    return p["system"], p["scaling"], p["seq_len"]


def add_efficiency(trains):
    """derived['efficiency'] = (tokens/s per rank) / (that of the group's smallest run), per group of
    system, scaling mode and sequence length; the smallest run prefers recompute none and ZeRO 0."""
    baselines = {}
    for record in trains:
        p = record["point"]
        rank_key = (p["ranks"], p.get("recompute") != "none", p.get("zero") or 0)
        key = group_key(record)
        if key not in baselines or rank_key < baselines[key][0]:
            baselines[key] = (rank_key, record)
    for record in trains:
        base = baselines[group_key(record)][1]
        record["derived"]["efficiency"] = \
            record["derived"]["tokens_per_s_per_rank"] / base["derived"]["tokens_per_s_per_rank"]
        record["derived"]["baseline_ranks"] = base["point"]["ranks"]


def trainings(records):
    """The newest ok training record of every point, with their efficiency (add_efficiency)."""
    trains = ok(latest(records), "train")
    add_efficiency(trains)
    return trains


def nf_over_peer(trains):
    """{peer record id: nf tokens/s / the peer's} for every peer record with a matching nf run."""
    return {peer["id"]: nf["derived"]["tokens_per_s"] / peer["derived"]["tokens_per_s"]
            for peer, nf in peer_pairs(trains) if nf}


def peer_pairs(trains):
    """(peer record, the nf record it matches or None): the same scaling, sequence length, ranks and
    batch, nf on pure data parallelism at the peer's ZeRO analogue, recompute none."""
    nf = {}
    for r in trains:
        p = r["point"]
        if p["system"] == "nf" and p["layout"] != "auto" and p["recompute"] == "none":
            nf[(p["scaling"], p["seq_len"], p["ranks"], p["global_batch"], p["layout"], p["zero"])] = r
    pairs = []
    for r in trains:
        p = r["point"]
        if p["system"] != "nf":
            zero = p["zero"] if p["ranks"] > 1 else 0  # one rank has nothing to shard: nf's run is ZeRO 0
            pairs.append((r, nf.get((p["scaling"], p["seq_len"], p["ranks"], p["global_batch"], p["layout"], zero))))
    return pairs


def planner_errors(trains):
    """Relative errors (predicted − measured) / measured of step time and peak memory, nf records."""
    step, memory = [], []
    for r in trains:
        if r["point"]["system"] == "nf" and r.get("predicted"):
            step.append(r["predicted"]["step_s"] / r["derived"]["step_s"] - 1)
            memory.append(r["predicted"]["peak_bytes"] / r["derived"]["peak_bytes"] - 1)
    return step, memory


def summarize(errors):
    if not errors:
        return None
    return {"median": statistics.median(errors), "worst": max(errors, key=abs), "count": len(errors)}


def family(layout):
    """A layout's series in the plots: dp, tp, pp, auto or mixed (1x1x1 starts every series)."""
    if layout == "auto":
        return "auto"
    dp, tp, pp = map(int, layout.split("x"))
    if dp * tp * pp == 1:
        return "single"
    if tp == pp == 1:
        return "dp"
    if dp == pp == 1:
        return "tp"
    if dp == tp == 1:
        return "pp"
    return "mixed"
