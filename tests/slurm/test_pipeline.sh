#!/usr/bin/env bash
# jobs/pipeline.sh on a real local Slurm: pretrain -> sft -> dpo for real, with the stages' default
# configs (configs/{pretrain,sft,dpo}_tiny.yaml: their steps, batch sizes, learning rates and
# load_from chain; a tiny model for the test's 320-id tokenizer) on the datasets a user prepares
# (scripts/prepare_stage_data.sh), run from a directory holding data/ as a user runs it from the
# checkout, chained with --dependency=afterok:
#  - a missing stage config fails before anything is submitted, naming the file and the option;
#  - each stage's job waits on afterok:<the job before>, starts only once that one has COMPLETED,
#    and completes; sft loads pretrain's final checkpoint and dpo loads sft's (also its frozen
#    reference), found under --output-dir; dpo logs its rewards, which it learns: at step 1 the
#    policy is the reference (loss ln 2, rewards 0), by the end chosen responses out-score rejected;
#  - the sft job gets SIGUSR1 mid-run: it is requeued (Restarts=1) and resumes, and dpo waits for
#    it to complete instead of being cancelled;
#  - a failing first stage (exit 2) cancels the stages after it (DependencyNeverSatisfied).
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stage_data
pipeline=$source/jobs/pipeline.sh
cd "$work" || fail "cd $work"
stages=(pretrain sft dpo)

# 1. A missing config: exit 2, nothing submitted.
code=0
"$pipeline" --dpo-config nowhere.yaml "${stage_model[@]}" >"$work/missing.log" 2>&1 || code=$?
((code == 2)) || fail "pipeline.sh with a missing config exited $code, expected 2"
grep -q "^pipeline.sh: config $work/nowhere.yaml of the dpo stage not found; pass --dpo-config FILE" "$work/missing.log" ||
  fail "no missing-config message: $(cat "$work/missing.log")"
[[ -z $(squeue -h -o %A) ]] || fail "pipeline.sh submitted jobs despite a missing config"
echo "PASS: a missing stage config: exit 2 naming the file, nothing submitted"

# 2. The three stages, and a pipeline whose first stage fails.
"$pipeline" --output-dir "$work/runs" "${stage_model[@]}" >"$work/ok.jobs"
"$pipeline" --output-dir "$work/bad_runs" "${stage_model[@]}" --model.d_modle 3 >"$work/bad.jobs"
declare -A job bad
for stage in "${stages[@]}"; do
  read -r _ "job[$stage]" < <(grep "^$stage " "$work/ok.jobs")
  read -r _ "bad[$stage]" < <(grep "^$stage " "$work/bad.jobs")
  [[ -n ${job[$stage]} && -n ${bad[$stage]} ]] || fail "pipeline.sh printed no $stage job: $(cat "$work/ok.jobs" "$work/bad.jobs")"
done
for pair in sft:pretrain dpo:sft; do
  stage=${pair%:*} before=${job[${pair#*:}]}
  [[ $(job_field "${job[$stage]}" Dependency) == "afterok:$before"* ]] ||
    fail "the $stage job's dependency is '$(job_field "${job[$stage]}" Dependency)', expected afterok:$before"
done
# The notice lands after sft's step 5, well before its step 40.
wait_steps "${job[sft]}" "$work/runs/sft_tiny/metrics.jsonl" 5
scancel --batch --signal=USR1 "${job[sft]}"
wait_jobs "${job[@]}" "${bad[@]}"

declare -A steps=([pretrain]=60 [sft]=40 [dpo]=30)
previous=''
for stage in "${stages[@]}"; do
  id=${job[$stage]}
  expect_job "$id" COMPLETED 0:0
  run=$work/runs/${stage}_tiny
  [[ $(cat "$run/checkpoints/latest" 2>/dev/null) == "step_${steps[$stage]}" ]] ||
    fail "run ${stage}_tiny has no final checkpoint step_${steps[$stage]}"
  grep -q "INFO data: data/${stage}_tiny train split" "$work/nf-$stage-$id.out" || fail "$stage did not train on data/${stage}_tiny"
  if [[ -n $previous ]]; then
    before=${job[$previous]}
    [[ ! $(job_field "$id" StartTime) < $(job_field "$before" EndTime) ]] ||
      fail "the $stage job started at $(job_field "$id" StartTime), before $previous ended at $(job_field "$before" EndTime)"
    checkpoint=$work/runs/${previous}_tiny/checkpoints/step_${steps[$previous]}
    grep -q "INFO loaded weights from $checkpoint (training.load_from;" "$work/nf-$stage-$id.out" ||
      fail "$stage did not load $previous's final checkpoint $checkpoint"
  fi
  records "$run/metrics.jsonl" >"$work/$stage.records"
  [[ $(grep -vc ' val ' "$work/$stage.records") -eq ${steps[$stage]} ]] || fail "$stage: no ${steps[$stage]} training records"
  previous=$stage
done
expect_requeued "${job[sft]}" sft_tiny "$work/nf-sft-${job[sft]}.out" srun "${steps[sft]}"
grep -q "INFO dpo: reference model from $work/runs/sft_tiny/checkpoints/step_40, beta 0.1" "$work/nf-dpo-${job[dpo]}.out" ||
  fail "dpo's reference model is not sft's final checkpoint"
$py - "$work/runs/dpo_tiny/metrics.jsonl" <<'PY' || fail "dpo's rewards are missing, or do not show the preference learnt"
import json, math, sys
steps = [r for r in map(json.loads, open(sys.argv[1])) if "loss" in r]
keys = ("rewards/chosen", "rewards/rejected", "rewards/accuracy", "rewards/margin")
assert all(all(k in r and math.isfinite(r[k]) for k in keys) for r in steps), "a record lacks a rewards/* value"
first, last = steps[0], steps[-10:]
assert abs(first["loss"] - math.log(2)) < 1e-6 and first["rewards/margin"] == 0, f"step 1: {first}"
accuracy = sum(r["rewards/accuracy"] for r in last) / len(last)
margin = sum(r["rewards/margin"] for r in last) / len(last)
print(f"dpo: step 1 loss {first['loss']:.6f} (ln 2); last 10 steps: accuracy {accuracy:.1%}, margin {margin:.4f}")
assert accuracy > 0.6 and margin > 0
PY
echo "PASS: pretrain -> sft -> dpo: each job waited on afterok of the one before, started after it, completed," \
  "and loaded its final checkpoint; dpo waited through sft's preemption at step $saved and requeue;" \
  "dpo logged rewards/* and learnt the preference"

expect_job "${bad[pretrain]}" FAILED 2:0
for stage in sft dpo; do
  [[ $(job_field "${bad[$stage]}" JobState) == CANCELLED && $(job_field "${bad[$stage]}" Reason) == DependencyNeverSatisfied ]] ||
    fail "after a failed pretrain the $stage job is $(job_field "${bad[$stage]}" JobState) ($(job_field "${bad[$stage]}" Reason))"
done
echo "PASS: a failed first stage (exit 2) cancelled the two after it"
