#!/usr/bin/env bash
# The launcher behind every jobs/*.slurm template: starts nf-train on the job's ranks, passes
# preemption notices on to it, and requeues the job when nf-train stops early to be resumed.
#
#   launch.sh DEFAULT_CONFIG [--config FILE] [--section.key value ...]
#
# The templates exec it with their stage's default config (relative to the checkout) and the
# arguments given to sbatch after the script's name. It runs
#   srun --mpi=pmix nf-train --config FILE --resume auto [overrides]     (NF_LAUNCHER=srun, default)
#   mpirun nf-train --config FILE --resume auto [overrides]              (NF_LAUNCHER=mpirun)
# --resume auto continues from the run's latest checkpoint, or starts fresh when it has none, so
# the same command serves the first run and every requeued one. Overrides come after it and win.
#
# Preemption: SIGUSR1 to this shell (#SBATCH --signal=B:USR1@N, or
# `scancel --batch --signal=USR1 JOBID`) is forwarded to srun or mpirun, which pass it to every
# rank; nf-train finishes its step, saves a checkpoint and exits 75. On 75 this script runs
# `scontrol requeue` and exits 0; the requeued job resumes from that checkpoint. SIGTERM (scancel,
# the time limit) is forwarded the same way, but the job is not requeued. Any other exit code is
# the job's.
#
# Environment: NF_LAUNCHER (srun | mpirun), NF_SRUN_ARGS / NF_MPIRUN_ARGS (extra launcher
# arguments, split on spaces), NF_TRAIN (the nf-train binary; default $NF_BUILD_DIR/src/nf-train,
# NF_BUILD_DIR default <checkout>/build). jobs/env.sh sets the NCCL/OpenMPI/OpenMP variables.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fail() {
  echo "launch.sh: $1" >&2
  exit 2
}
(($# >= 1)) || fail "usage: launch.sh DEFAULT_CONFIG [--config FILE] [--section.key value ...]"
default_config=$1
shift
# shellcheck source=jobs/env.sh
source "$root/jobs/env.sh"

train=${NF_TRAIN:-${NF_BUILD_DIR:-$root/build}/src/nf-train}
[[ -x $train ]] || fail "nf-train not found at $train; build it (scripts/build.sh), or set NF_BUILD_DIR or NF_TRAIN"

# The config: the one given with --config, else the stage's default. Checked here so that a typo
# fails before any rank starts, with the path as the job sees it (relative to the submit directory).
config='' previous=''
for arg in "$@"; do
  if [[ $previous == --config ]]; then config=$arg; fi
  if [[ $arg == --config=* ]]; then config=${arg#--config=}; fi
  previous=$arg
done
[[ $previous != --config ]] || fail "--config needs a file"
args=("$@")
if [[ -z $config ]]; then
  config=$root/$default_config
  args=(--config "$config" "${args[@]}")
fi
[[ -f $config ]] || fail "config file $config not found (from $(pwd)); pass --config FILE after the script name"

launcher=${NF_LAUNCHER:-srun}
case $launcher in
  # --kill-on-bad-exit: one rank failing ends the step at once (nf-train also calls MPI_Abort).
  # srun does not take --cpus-per-task from sbatch in Slurm 22.05: pass it on.
  srun) read -ra extra <<<"${NF_SRUN_ARGS:-}"
    command=(srun --mpi=pmix --kill-on-bad-exit=1 --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}" "${extra[@]}") ;;
  # mpirun reads the allocation (nodes, tasks per node) from Slurm's environment.
  mpirun) read -ra extra <<<"${NF_MPIRUN_ARGS:-}"
    command=(mpirun "${extra[@]}") ;;
  *) fail "NF_LAUNCHER=$launcher: expected srun or mpirun" ;;
esac
command+=("$train" --resume auto "${args[@]}")

# Slurm signals only this shell (--signal=B:..., scancel --batch); mpirun gets no step signals,
# so pass the notice on. srun and mpirun both forward SIGUSR1 to every rank. SIGTERM is turned
# into SIGUSR1 too: mpirun answers SIGTERM by killing the ranks, which must get to save first.
# SIGTERM means the job is ending (scancel, the time limit, Slurm's own preemption): nf-train
# still saves, but the job is not requeued from here. The traps are set before the launcher
# starts, so that no notice can kill this shell.
child='' ending=0 notified=0
# shellcheck disable=SC2317  # called by the traps below
forward() {
  echo "launch.sh: SIG$1 received; asking nf-train to save a checkpoint and stop (SIGUSR1 to $launcher)"
  if [[ $1 == TERM ]]; then ending=1; fi
  notified=1
  if [[ -n $child ]]; then kill -USR1 "$child" 2>/dev/null || true; fi
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM

echo "launch.sh: job ${SLURM_JOB_ID:-(none)} restart ${SLURM_RESTART_COUNT:-0}" \
  "on ${SLURM_JOB_NODELIST:-$(hostname -s)}: ${command[*]}"
"${command[@]}" &
child=$!
# A trapped signal ends `wait` early (status > 128); wait again until the launcher has ended.
# bash keeps a finished background job's status, so the last wait returns nf-train's exit code.
while kill -0 "$child" 2>/dev/null; do wait "$child" || true; done
code=0
wait "$child" || code=$?

# srun --kill-on-bad-exit counts 75 as a failure: when the first rank exits 75 after the collective
# save, srun terminates ranks still on their way out, and reports 143. After a notice that is the
# same preemption (the checkpoint is committed before any rank exits; --resume auto would fall
# back to the one before if it were not).
if ((code == 143 && notified)) && [[ $launcher == srun ]]; then
  echo "launch.sh: srun ended the last ranks after the others exited 75; treating it as exit 75"
  code=75
fi
# 75: nf-train saved a checkpoint and asks to be run again. `scontrol requeue` ends this script
# (the job goes back to the queue, keeping its id and log), so say so first.
if ((code == 75 && ending)); then
  echo "launch.sh: nf-train saved a checkpoint and stopped (exit 75); the job is ending (SIGTERM), so it is not" \
    "requeued: submit it again to continue from the checkpoint"
elif ((code == 75)) && [[ -n ${SLURM_JOB_ID:-} ]]; then
  echo "launch.sh: nf-train saved a checkpoint and stopped (exit 75); requeueing job $SLURM_JOB_ID to resume from it"
  scontrol requeue "$SLURM_JOB_ID" && exit 0
  echo "launch.sh: scontrol requeue $SLURM_JOB_ID failed; submit the job again to continue from the checkpoint" >&2
fi
exit "$code"
