"""nf-train's TensorBoard files, read by TensorBoard's own EventAccumulator (issue 15).

For each run directory given: EventAccumulator(RUN/tensorboard) loads every event file; its
scalar tags are exactly those of the metrics nf writes to metrics.jsonl (the key -> tag map
below, which is src/train/metrics.cpp's), every tag documented in docs/training.md's outputs
table is among them (for the stage the run trained), and every scalar has the steps and values of
metrics.jsonl (each value the float32 of the JSON number). Together the runs must cover every
documented tag.

Usage: check_tensorboard.py DOCS_TRAINING_MD RUN_DIR...
"""
import json
import os
import re
import sys

import numpy as np
from tensorboard.backend.event_processing import event_accumulator

# metrics.jsonl key -> TensorBoard tag. Keys that go to metrics.jsonl only: step, gflops_per_s, skipped_steps.
TRAIN_TAGS = {"loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm",
              "tokens_per_s": "perf/tokens_per_s", "mfu": "perf/mfu", "comm": "perf/comm", "bubble": "perf/bubble",
              "data_wait": "perf/data_wait", "rewards/chosen": "rewards/chosen", "rewards/rejected": "rewards/rejected",
              "rewards/accuracy": "rewards/accuracy", "rewards/margin": "rewards/margin"}
EVAL_TAGS = {"val_loss": "val/loss", "val_rewards/chosen": "val/rewards/chosen",
             "val_rewards/rejected": "val/rewards/rejected", "val_rewards/accuracy": "val/rewards/accuracy",
             "val_rewards/margin": "val/rewards/margin"}
JSONL_ONLY = {"step", "gflops_per_s", "skipped_steps"}
# The end-of-run memory record: per-rank lists of bytes -> "TAG/rank_R" in MiB.
MEMORY_TAGS = {"peak_tensor_bytes": "memory/peak_tensor_mib", "peak_rss_bytes": "memory/peak_rss_mib",
               "start_tensor_bytes": "memory/start_tensor_mib", "activation_bytes": "memory/activation_mib",
               "predicted_peak_bytes": "memory/predicted_peak_mib"}


def documented_tags(path):
    """The tags in the `tensorboard/events.out.tfevents.*` row of docs/training.md, DPO's rewards/* expanded,
    and the perf/* tags its step-time paragraph names."""
    text = open(path, encoding="utf-8").read()
    row = next(line for line in text.splitlines() if line.startswith("| `tensorboard/events.out.tfevents.*`"))
    tags = set(re.findall(r"`([a-z_]+/[a-z_*]+)`", row))
    if "rewards/*" in tags:
        tags.remove("rewards/*")
        tags |= {f"rewards/{name}" for name in ("chosen", "rejected", "accuracy", "margin")}
    tags |= set(re.findall(r"`(perf/[a-z_]+)`", text))
    return tags


def expected_scalars(run):
    """{tag: {step: float32 value}} from RUN/metrics.jsonl."""
    scalars = {}
    for line in open(os.path.join(run, "metrics.jsonl")):
        record = json.loads(line)
        if "peak_tensor_bytes" in record:
            for key, values in record.items():
                if key == "step":
                    continue
                assert key in MEMORY_TAGS, f"{run}/metrics.jsonl has '{key}', which this check does not know: add its tag"
                for rank, value in enumerate(values):
                    scalars.setdefault(f"{MEMORY_TAGS[key]}/rank_{rank}", {})[record["step"]] = np.float32(value / 2**20)
            continue
        tags = TRAIN_TAGS if "loss" in record else EVAL_TAGS
        for key, value in record.items():
            if key in JSONL_ONLY:
                continue
            assert key in tags, f"{run}/metrics.jsonl has '{key}', which this check does not know: add its tag"
            scalars.setdefault(tags[key], {})[record["step"]] = np.float32(value)
    return scalars


def check_run(run, documented):
    failures = []
    files = sorted(os.listdir(os.path.join(run, "tensorboard")))
    accumulator = event_accumulator.EventAccumulator(os.path.join(run, "tensorboard"),
                                                     size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    found = set(accumulator.Tags()["scalars"])
    expected = expected_scalars(run)
    if found != set(expected):
        failures.append(f"EventAccumulator's tags differ from metrics.jsonl's: "
                        f"missing {sorted(set(expected) - found)}, extra {sorted(found - set(expected))}")
    stage_tags = {tag for tag in documented if not tag.startswith("rewards/") or "rewards/chosen" in expected}
    stage_tags -= {"perf/mfu"} if "perf/mfu" not in expected else set()
    if stage_tags - found:
        failures.append(f"documented tags not written: {sorted(stage_tags - found)}")
    scalars = 0
    for tag in sorted(found & set(expected)):
        events = accumulator.Scalars(tag)
        steps = [e.step for e in events]
        if steps != sorted(expected[tag]):
            failures.append(f"{tag}: steps {steps} != metrics.jsonl's {sorted(expected[tag])}")
            continue
        for event in events:
            if np.float32(event.value) != expected[tag][event.step]:
                failures.append(f"{tag} step {event.step}: {event.value!r} != "
                                f"metrics.jsonl's {expected[tag][event.step]!r}")
        scalars += len(events)
    version = accumulator.file_version  # "brain.Event:2", as EventAccumulator parses it
    if version != 2.0:
        failures.append(f"file_version {version!r}, not brain.Event:2")
    print(f"{os.path.basename(run)}: {len(files)} event file(s), file_version {version}, {len(found)} tags, "
          f"{scalars} scalars equal to metrics.jsonl: {' '.join(sorted(found))}")
    return failures, found


def main():
    documented = documented_tags(sys.argv[1])
    failures, seen = [], set()
    for run in sys.argv[2:]:
        run_failures, found = check_run(run, documented)
        failures += [f"{os.path.basename(run)}: {f}" for f in run_failures]
        seen |= found
    if documented - seen:
        failures.append(f"no run wrote the documented tags {sorted(documented - seen)}")
    print(f"documented tags ({len(documented)}): {' '.join(sorted(documented))}")
    for failure in failures:
        print("FAIL", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
