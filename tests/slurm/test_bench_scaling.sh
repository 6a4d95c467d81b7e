#!/usr/bin/env bash
# The scaling suite as Slurm jobs (scripts/bench/scaling.sh submit, jobs/bench_scaling.slurm) on a
# real local Slurm, submitted from another directory as a user does on a login node:
#  - one job array per rank count (calibration and collectives first, training after them) and a
#    gather job; every point's record is written by its own array task (launcher srun, its
#    SLURM_ARRAY_TASK_ID = the point's number), the gather job writes report.md and the plots;
#  - submitting the same sweep again measures nothing: every task finds its point measured.
export NF_SLURM_CPUS=16
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
deadline=$((SECONDS + 150))

cat >"$work/sweep.yaml" <<'YAML'
name: slurm-tiny
corpus: {vocab_size: 512}
train:
  config: configs/tiny.yaml
  overrides: {model.vocab_size: 512, model.d_model: 64, model.n_layers: 2, model.n_heads: 4, model.n_kv_heads: 2}
  ranks: [1, 2]
  layouts: [dp]
  seq_len: [32]
  strong: {global_batch: 4}
  steps: 2
  warmup_steps: 1
  peers: [ddp]
comm: {ranks: [2], max_bytes: 4K, iterations: 2, warmup: 1}
YAML
results=$work/results
cd "$work" || fail "cd $work"

# submit SUFFIX: submits the sweep, waits for its gather job; sets $gather and $jobs.
submit() {
  "$source/scripts/bench/scaling.sh" --build "$build" submit "$work/sweep.yaml" --out "$results" >"$work/submit$1.log" 2>&1 ||
    { cat "$work/submit$1.log"; fail "scaling.sh submit failed"; }
  read -ra jobs < <(sed -n 's/^submitted jobs \([0-9 ]*\);.*/\1/p' "$work/submit$1.log")
  ((${#jobs[@]} == 5)) || { cat "$work/submit$1.log"; fail "expected 4 job arrays and a gather job, got ${#jobs[@]} jobs"; }
  gather=${jobs[-1]}
  wait_jobs "$gather"
  expect_job "$gather" COMPLETED 0:0
  local job
  for job in "${jobs[@]}"; do  # every task of every array ended well, not only the gather job
    [[ $(scontrol show job -o "$job" | grep -o 'JobState=[A-Z]* .*ExitCode=[0-9:]*' | sed 's/ .*ExitCode=/ /' | sort -u) == \
      "JobState=COMPLETED 0:0" ]] || fail "a task of job $job did not complete with 0:0: $(scontrol show job -o "$job")"
  done
}

submit 1
grep -q -- "--array=0 .*--ntasks=1\|--ntasks=1 --array=0 " "$work/submit1.log" || fail "no array for the calibration point"
grep -q -- "--dependency afterany:" "$work/submit1.log" || fail "training was not made to wait for calibration"
[[ -s $results/report.md && -s $results/plots/scaling_strong_seq32.png && -s $results/plots/comm_busbw.png ]] ||
  fail "the gather job wrote no report or plots: $(ls "$results" "$results/plots" 2>&1)"
"$py" - "$results/results.jsonl" <<'PY' || fail "the records are not one per point, each from its own array task"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
assert len(records) == 6, len(records)  # calibrate, comm on 2 ranks, nf and ddp on 1 and 2 ranks
order = ["calibrate", "comm", "train", "train", "train", "train"]
for record in records:
    assert record["status"] == "ok" and record["launcher"] == "srun", (record["id"], record["status"], record["reason"])
    index = int(record["environment"]["SLURM_ARRAY_TASK_ID"])
    assert order[index] == record["kind"], (index, record["kind"])
assert sorted(int(r["environment"]["SLURM_ARRAY_TASK_ID"]) for r in records) == list(range(6))
print("PASS: 6 points, each measured by its own array task under srun")
PY
echo "PASS: submit: job arrays per rank count, then the gather job's report and plots"

cp "$results/results.jsonl" "$work/first.jsonl"
submit 2
cmp -s "$results/results.jsonl" "$work/first.jsonl" || fail "the second submission measured points again"
skipped=$(cat "$work"/nf-bench-slurm-tiny-*.out | grep -c 'measured already')
((skipped == 6)) || fail "expected 6 'measured already' lines in the second submission's logs, got $skipped"
echo "PASS: a second submission skipped all 6 measured points"
