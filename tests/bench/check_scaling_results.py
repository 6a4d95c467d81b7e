"""Checks a results directory of configs/bench/ci_tiny.yaml (tests/bench/test_scaling.sh):

  python check_scaling_results.py RESULTS_DIR [--compared]

- results.jsonl: every record has the schema's keys; ok training records have one raw step time
  per timed step and positive derived figures, MFU against the calibrated peak; nf's carry the
  planner's prediction, made with the calibrated peak and the measured bandwidth; the layouts
  this model cannot take are invalid with nf-train's reason; the collectives cover the four ops;
- the CSVs: the documented columns, one train.csv row per training record, efficiency against each
  series' smallest run;
- report.md: its sections; plots/index.json: the expected files and series, every file a PNG that
  decodes, of the size matplotlib was asked for, in which every listed series' colour is drawn.
Independent of the suite's code: it reads the files as a user's script would.
"""
import csv
import json
import math
import os
import sys

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RECORD_KEYS = {"schema", "id", "sweep", "kind", "point", "status", "reason", "commit", "machine", "host", "versions",
               "environment", "launcher", "threads_per_rank", "started", "seconds", "raw", "derived", "predicted"}
TRAIN_FIGURES = ("tokens_per_s", "tokens_per_s_per_rank", "step_s", "tflops_per_rank", "mfu")
NF_FIGURES = ("compute", "comm", "bubble", "data_wait", "peak_bytes")


def check_calibration(r, records):
    """The planner was given the calibrated per-rank peak (one thread's matmul rate × the cores a rank
    gets) and the all_reduce bus bandwidth of the comm point nearest in ranks (nf's default, 100 GB/s,
    on one rank)."""
    per_thread = [c["derived"]["per_thread_gflops"] for c in records if c["kind"] == "calibrate"][-1]
    ranks, threads, cores = r["point"]["ranks"], r["threads_per_rank"], r["machine"]["cores_allocated"]
    peak = per_thread * min(threads, cores / ranks) / 1000
    assert math.isclose(r["predicted"]["peak_tflops"], peak, rel_tol=1e-6), (r["predicted"]["peak_tflops"], peak)
    assert math.isclose(r["derived"]["peak_tflops_per_rank"], peak, rel_tol=1e-6), r["derived"]
    comms = [c for c in records if c["kind"] == "comm"]
    nearest = min(comms, key=lambda c: (abs(c["point"]["ranks"] - ranks), -c["point"]["ranks"]))
    bandwidth = nearest["derived"]["all_reduce_busbw_gbps"] if ranks > 1 else 100
    assert math.isclose(r["predicted"]["bandwidth_gbps"], bandwidth, rel_tol=1e-6), (r["predicted"], bandwidth)


def check_efficiency(directory):
    """train.csv: every series' smallest run is its own baseline (efficiency 1), the others are
    tokens/s per rank over that baseline's."""
    with open(os.path.join(directory, "train.csv")) as f:
        rows = [row for row in csv.DictReader(f) if row["status"] == "ok"]
    for row in rows:
        group = [g for g in rows if (g["system"], g["scaling"], g["seq_len"]) == (row["system"], row["scaling"], row["seq_len"])]
        smallest = min(int(g["ranks"]) for g in group)
        bases = [g for g in group if int(g["ranks"]) == smallest and g["recompute"] == "none" and g["zero"] in ("0", "")]
        base = bases[0] if bases else min(group, key=lambda g: int(g["ranks"]))
        expected = float(row["tokens_per_s_per_rank"]) / float(base["tokens_per_s_per_rank"])
        assert math.isclose(float(row["efficiency"]), expected, rel_tol=1e-6), (row, base)


def check_records(records, steps):
    for r in records:
        missing = RECORD_KEYS - r.keys()
        assert not missing, (r["id"], missing)
        assert r["machine"]["fingerprint"] and r["machine"]["cores"] >= 1 and r["commit"], r["machine"]
        assert r["versions"]["torch"] and "OMP_NUM_THREADS" in r["environment"], (r["versions"], r["environment"])
        assert r["status"] in ("ok", "invalid"), (r["id"], r["status"], r["reason"])
    trains = [r for r in records if r["kind"] == "train"]
    ok = [r for r in trains if r["status"] == "ok"]
    for r in ok:
        assert len(r["raw"]["step_s"]) == steps and all(s > 0 for s in r["raw"]["step_s"]), r["raw"]
        for key in TRAIN_FIGURES + (NF_FIGURES if r["point"]["system"] == "nf" else ()):
            assert isinstance(r["derived"][key], (int, float)) and r["derived"][key] >= 0, (key, r["derived"])
        # The timed steps fit in the point's wall time; MFU is TFLOP/s over the per-rank peak.
        assert sum(r["raw"]["step_s"]) < r["seconds"], (r["raw"]["step_s"], r["seconds"])
        d = r["derived"]
        assert math.isclose(d["mfu"], d["tflops_per_rank"] / d["peak_tflops_per_rank"], rel_tol=1e-9), d
        if r["point"]["system"] == "nf":
            split = sum(r["derived"][k] for k in ("compute", "comm", "bubble", "data_wait"))
            assert math.isclose(split, 1, rel_tol=1e-9), r["derived"]
            step = r["predicted"]["step"]
            parts = sum(step[k] for k in ("compute_s", "dp_comm_s", "tp_comm_s", "pp_comm_s", "bubble_s"))
            assert r["predicted"]["peak_bytes"] > 0 and math.isclose(step["total_s"], parts, rel_tol=1e-6), step
            check_calibration(r, records)
    invalid = {r["point"]["layout"]: r["reason"] for r in trains if r["status"] == "invalid"}
    assert "1x1x4" in invalid and "1x4x1" in invalid, invalid
    assert all("config error" in reason for reason in invalid.values()), invalid
    systems = {(r["point"]["system"], r["point"]["layout"]) for r in ok}
    for expected in [("nf", "1x1x1"), ("nf", "2x1x1"), ("nf", "4x1x1"), ("nf", "1x2x1"), ("nf", "1x1x2"),
                     ("nf", "2x2x1"), ("nf", "auto"), ("ddp", "2x1x1"), ("ddp", "4x1x1"), ("fsdp2", "2x1x1")]:
        assert expected in systems, (expected, sorted(systems))
    comm = [r for r in records if r["kind"] == "comm" and r["status"] == "ok"]
    assert {row["op"] for r in comm for row in r["raw"]["rows"]} == {"all_reduce", "reduce_scatter", "all_gather",
                                                                         "sendrecv"}
    for kind in ("calibrate", "loader", "data", "checkpoint"):
        assert any(r["kind"] == kind and r["status"] == "ok" for r in records), kind
    return trains


def check_csvs(directory, trains):
    with open(os.path.join(directory, "train.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(trains), (len(rows), len(trains))
    for column in ("system", "scaling", "ranks", "layout", "tokens_per_s", "efficiency", "mfu", "predicted_step_s",
                   "nf_over_peer", "commit"):
        assert column in rows[0], column
    assert any(row["nf_over_peer"] for row in rows), "no nf / peer ratio in train.csv"
    for name in ("comm.csv", "io.csv"):
        with open(os.path.join(directory, name)) as f:
            assert len(list(csv.DictReader(f))) > 0, name


def colours(image):
    """Every RGB colour the image has a pixel of."""
    return {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 24)}


def colour_drawn(drawn, hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)) in drawn


def check_plots(directory, compared):
    with open(os.path.join(directory, "report.md")) as f:
        report = f.read()
    for heading in ("## Training", "### Strong scaling", "### Weak scaling", "### nf against the PyTorch peer",
                    "### The planner's predictions", "## Collectives", "## Data path", "## Checkpoints",
                    "## Points that did not run", "## Plots"):
        assert heading in report, heading
    with open(os.path.join(directory, "plots", "index.json")) as f:
        index = json.load(f)
    files = {entry["file"]: entry for entry in index}
    expected = {"scaling_strong_seq32.png", "scaling_weak_seq32.png", "split_strong_seq32.png", "split_weak_seq32.png",
                "planner.png", "comm_busbw.png"} | ({"compare.png"} if compared else set())
    assert expected == set(files), sorted(files)
    labels = {s["label"] for s in files["scaling_strong_seq32.png"]["panels"][0]["series"]}
    for label in ("nf dp", "nf tp", "nf pp", "nf mixed", "nf auto", "nf dp ZeRO 3", "ddp dp", "ideal"):
        assert label in labels, (label, labels)
    split = {s["label"] for s in files["split_strong_seq32.png"]["panels"][0]["series"]}
    assert split == {"compute", "comm", "bubble", "data_wait"}, split
    assert len(files["comm_busbw.png"]["panels"]) == 4
    for name, entry in files.items():
        path = os.path.join(directory, "plots", name)
        with open(path, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE, name
        with Image.open(path) as image:
            image.load()  # decodes every byte: a truncated or corrupt file fails here
            assert image.width >= 600 and image.height >= 400, (name, image.size)
            drawn = colours(image)
            for panel in entry["panels"]:
                assert panel["xlabel"] and panel["ylabel"], (name, panel)
                for series in panel["series"]:
                    assert series["points"] >= 1, (name, series)
                    assert colour_drawn(drawn, series["color"]), (name, series["label"], series["color"])
    return len(files)


def main():
    directory, compared = sys.argv[1], "--compared" in sys.argv
    with open(os.path.join(directory, "results.jsonl")) as f:
        records = [json.loads(line) for line in f]
    steps = records[-1]["point"].get("steps", 3)
    trains = check_records(records, steps)
    check_csvs(directory, trains)
    check_efficiency(directory)
    plots = check_plots(directory, compared)
    print(f"PASS: {len(records)} records ({len(trains)} training), CSVs, report.md and {plots} plots check out")


if __name__ == "__main__":
    main()
