#!/usr/bin/env bash
# Preemption and requeue through jobs/pretrain.slurm on a real local Slurm. Three 4-rank jobs of
# the same 60-step run side by side: one uninterrupted, and one per launcher (srun --mpi=pmix,
# mpirun) that gets SIGUSR1 on its batch shell mid-run, as `#SBATCH --signal=B:USR1@N` delivers
# it. Each preempted job must: forward the signal, have nf-train save and exit 75, requeue itself
# (Restarts=1), resume from the checkpoint it saved, and end COMPLETED with every loss, gradient
# norm, learning rate and validation loss equal, bit for bit, to the uninterrupted run's.
# 12 CPUs on the node: the three jobs run at once (on however many cores there are).
export NF_SLURM_CPUS=12
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export NF_ROOT=$source
steps=60
run_args=("${common[@]}" --training.max_steps "$steps" --training.eval_interval 20 --training.eval_steps 2)
submit() { sbatch --parsable --chdir="$work" "$source/jobs/pretrain.slurm" "${run_args[@]}" --output.name "$1"; }
full=$(submit full)
preempted_srun=$(submit preempted_srun)
preempted_mpirun=$(NF_LAUNCHER=mpirun submit preempted_mpirun)

# The notice lands after step 5, well before step 60 (a step takes tens of milliseconds).
wait_steps "$preempted_srun" "$work/runs/preempted_srun/metrics.jsonl" 5
scancel --batch --signal=USR1 "$preempted_srun"
wait_steps "$preempted_mpirun" "$work/runs/preempted_mpirun/metrics.jsonl" 5
scancel --batch --signal=USR1 "$preempted_mpirun"
wait_jobs "$full" "$preempted_srun" "$preempted_mpirun"

expect_job "$full" COMPLETED 0:0
[[ $(job_field "$full" Restarts) == 0 ]] || fail "the uninterrupted job was restarted"
records "$work/runs/full/metrics.jsonl" >"$work/full.records"
[[ $(grep -vc ' val ' "$work/full.records") -eq $steps ]] || fail "the uninterrupted run has no $steps training records"

for launcher in srun mpirun; do
  name=preempted_$launcher
  job=${!name}
  expect_requeued "$job" "$name" "$work/nf-pretrain-$job.out" "$launcher" "$steps"
  records "$work/runs/$name/metrics.jsonl" >"$work/$name.records"
  diff "$work/full.records" "$work/$name.records" ||
    fail "$launcher: the preempted run's records differ from the uninterrupted run's"
  echo "PASS: $launcher: SIGUSR1 at step $saved, exit 75, requeued (Restarts=1), resumed, completed;" \
    "$steps steps identical to the uninterrupted run"
done
