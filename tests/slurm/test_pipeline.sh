#!/usr/bin/env bash
# jobs/pipeline.sh on a real local Slurm: stages chained with --dependency=afterok.
#  - a missing stage config fails before anything is submitted, naming the file and the option;
#  - pretrain -> sft: the sft job waits on afterok:<pretrain job> and starts only once pretrain has
#    COMPLETED; both runs finish. The sft stage here runs a second pretraining config: the test is
#    about the chaining, which is the same whatever a stage trains;
#  - a failing first stage (exit 2) cancels the stage after it (DependencyNeverSatisfied).
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pipeline=$source/jobs/pipeline.sh
cd "$work" || fail "cd $work"
overrides=("${common[@]}" --training.max_steps 6)
printf 'inherit: %s\noutput:\n  name: stage2\n' "$source/configs/pretrain_tiny.yaml" >"$work/stage2.yaml"

# 1. A missing config: exit 2, nothing submitted.
code=0
"$pipeline" --sft-config "$work/stage2.yaml" --dpo-config nowhere.yaml "${overrides[@]}" >"$work/missing.log" 2>&1 || code=$?
((code == 2)) || fail "pipeline.sh with a missing config exited $code, expected 2"
grep -q "^pipeline.sh: config $work/nowhere.yaml of the dpo stage not found; pass --dpo-config FILE" "$work/missing.log" ||
  fail "no missing-config message: $(cat "$work/missing.log")"
[[ -z $(squeue -h -o %A) ]] || fail "pipeline.sh submitted jobs despite a missing config"
echo "PASS: a missing stage config: exit 2 naming the file, nothing submitted"

# 2. pretrain -> sft, and a pipeline whose first stage fails.
"$pipeline" --stages pretrain,sft --sft-config stage2.yaml "${overrides[@]}" >"$work/ok.jobs"
"$pipeline" --stages pretrain,sft --sft-config stage2.yaml --output-dir "$work/bad_runs" "${overrides[@]}" \
  --model.d_modle 3 >"$work/bad.jobs"
read -r _ pretrain < <(grep '^pretrain ' "$work/ok.jobs")
read -r _ sft < <(grep '^sft ' "$work/ok.jobs")
read -r _ bad_pretrain < <(grep '^pretrain ' "$work/bad.jobs")
read -r _ bad_sft < <(grep '^sft ' "$work/bad.jobs")
[[ $(job_field "$sft" Dependency) == "afterok:$pretrain"* ]] ||
  fail "the sft job's dependency is '$(job_field "$sft" Dependency)', expected afterok:$pretrain"
wait_jobs "$pretrain" "$sft" "$bad_pretrain" "$bad_sft"

expect_job "$pretrain" COMPLETED 0:0
expect_job "$sft" COMPLETED 0:0
[[ ! $(job_field "$sft" StartTime) < $(job_field "$pretrain" EndTime) ]] ||
  fail "the sft job started at $(job_field "$sft" StartTime), before pretrain ended at $(job_field "$pretrain" EndTime)"
for run in pretrain_tiny stage2; do
  [[ $(cat "$work/runs/$run/checkpoints/latest" 2>/dev/null) == step_6 ]] || fail "run $run has no final checkpoint step_6"
done
echo "PASS: pretrain -> sft: sft waited on afterok:$pretrain, started after it, both completed"

expect_job "$bad_pretrain" FAILED 2:0
[[ $(job_field "$bad_sft" JobState) == CANCELLED && $(job_field "$bad_sft" Reason) == DependencyNeverSatisfied ]] ||
  fail "after a failed pretrain the sft job is $(job_field "$bad_sft" JobState) ($(job_field "$bad_sft" Reason))"
echo "PASS: a failed first stage (exit 2) cancelled the next one"
