#!/usr/bin/env bash
# jobs/pretrain.slurm on a real local Slurm, submitted as a user does it, from the checkout
# (the template finds jobs/launch.sh through the submit directory):
#  - a 12-step run on 4 ranks under srun --mpi=pmix ends COMPLETED with exit code 0 and leaves the
#    job log (%x-%j.out), metrics.jsonl with a falling loss, and the final checkpoint;
#  - nf-train's exit code is the job's: an unknown config key ends the job FAILED with code 2;
#  - a missing --config fails in jobs/launch.sh, before any rank starts, naming the file;
#  - scancel: nf-train still saves a checkpoint, and the job ends CANCELLED, not requeued.
# 16 CPUs on the node: the four jobs run at once (on however many cores there are).
export NF_SLURM_CPUS=16
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$source" || fail "cd $source"
submit() { sbatch --parsable --chdir="$work" "$@"; }
ok=$(submit jobs/pretrain.slurm "${common[@]}" --output.name pretrain --training.max_steps 12 \
  --training.eval_interval 6 --training.eval_steps 2 --checkpoint.save_interval 6)
bad=$(submit jobs/pretrain.slurm "${common[@]}" --output.name bad --model.d_modle 3)
missing=$(submit --ntasks-per-node=1 jobs/pretrain.slurm --config nowhere.yaml)
cancelled=$(submit jobs/pretrain.slurm "${common[@]}" --output.name cancelled --training.max_steps 100000)
wait_steps "$cancelled" "$work/runs/cancelled/metrics.jsonl" 3
scancel "$cancelled"
wait_jobs "$ok" "$bad" "$missing" "$cancelled"

# 1. The run.
expect_job "$ok" COMPLETED 0:0
log=$work/nf-pretrain-$ok.out
[[ -s $log ]] || fail "no job log $log (#SBATCH --output=%x-%j.out)"
launch_line="^launch.sh: job $ok restart 0 on .*: srun --mpi=pmix .*/nf-train --resume auto"
grep -q "$launch_line --config $source/configs/pretrain_tiny.yaml " "$log" ||
  fail "$log: no srun --mpi=pmix line with --resume auto and the default config"
grep -q 'INFO layout tp 1 × pp 1 × dp 4 = 4 ranks' "$log" || fail "$log: nf-train did not run on 4 ranks"
grep -q 'checkpoint.resume auto: no checkpoint in .*, starting fresh' "$log" || fail "$log: --resume auto did not start fresh"
grep -q 'INFO done: 12 steps' "$log" || fail "$log: no 'done: 12 steps'"
run=$work/runs/pretrain
for f in config.yaml logs/train.log metrics.jsonl checkpoints/step_6/meta.json checkpoints/step_12/meta.json \
  checkpoints/step_12/model-tp0-pp0.safetensors checkpoints/step_12/optim-tp0-pp0-dp0.safetensors; do
  [[ -s $run/$f ]] || fail "missing $run/$f"
done
[[ $(cat "$run/checkpoints/latest") == step_12 ]] ||
  fail "checkpoints/latest is $(cat "$run/checkpoints/latest"), expected step_12"
records "$run/metrics.jsonl" >"$work/pretrain.records"
[[ $(grep -vc ' val ' "$work/pretrain.records") -eq 12 && $(grep -c ' val ' "$work/pretrain.records") -eq 2 ]] ||
  fail "metrics.jsonl: expected 12 training and 2 validation records"
loss_falls "$work/pretrain.records" 0.5
echo "PASS: sbatch jobs/pretrain.slurm: 12 steps on 4 ranks (srun --mpi=pmix), COMPLETED, log, metrics, checkpoint"

# 2. A failing nf-train fails the job with its exit code.
expect_job "$bad" FAILED 2:0
grep -q "config error: command line: unknown key '--model.d_modle'" "$work/nf-pretrain-$bad.out" ||
  fail "the failed job's log lacks nf-train's config error"
echo "PASS: an unknown key: the job FAILED with nf-train's exit code 2 and its message"

# 3. A missing config stops the launcher before any rank starts.
expect_job "$missing" FAILED 2:0
grep -q "^launch.sh: config file nowhere.yaml not found (from $work); pass --config FILE" "$work/nf-pretrain-$missing.out" ||
  fail "the missing-config job's log lacks launch.sh's message"
! grep -q 'nf-train' "$work/nf-pretrain-$missing.out" || fail "nf-train started despite the missing config"
echo "PASS: a missing --config: the job FAILED with exit code 2 and a message naming the file"

# 4. scancel: SIGTERM to every process of the job. nf-train saves and exits 75, but a cancelled job
# must stay cancelled: the launcher does not requeue it.
log=$work/nf-pretrain-$cancelled.out
[[ $(job_field "$cancelled" JobState) == CANCELLED ]] || fail "the cancelled job ended $(job_field "$cancelled" JobState)"
grep -q 'WARN preempted by a signal at step' "$log" || fail "scancel: nf-train did not save a checkpoint"
grep -q '^launch.sh: nf-train saved a checkpoint and stopped (exit 75); the job is ending (SIGTERM), so it is not requeued' \
  "$log" || fail "scancel: no 'not requeued' message from the launcher"
! grep -q '^launch.sh: .*requeueing job' "$log" || fail "scancel: the launcher requeued a cancelled job"
[[ $(job_field "$cancelled" Restarts) == 0 ]] || fail "scancel: the cancelled job was restarted"
echo "PASS: scancel: nf-train saved $(cat "$work/runs/cancelled/checkpoints/latest"), the job ended CANCELLED, not requeued"
