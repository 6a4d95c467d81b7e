// Preemption: SIGTERM (Slurm's notice before a time limit or a preemption), SIGUSR1 (sent early
// with `#SBATCH --signal=USR1@120`) and SIGINT (Ctrl-C) only raise a flag; the trainer finishes the
// step in flight, agrees with the other ranks, saves a checkpoint and exits with
// ExitCode::kPreempted (75) so the batch script can requeue the job.
#pragma once

namespace nf::train {

// Installs the handlers for its lifetime and restores the previous ones after. Only one may exist
// at a time (a signal handler can reach no object but a process-wide flag).
class PreemptionGuard {
 public:
  PreemptionGuard();
  ~PreemptionGuard();
  PreemptionGuard(const PreemptionGuard&) = delete;
  PreemptionGuard& operator=(const PreemptionGuard&) = delete;

  // The signal number received so far, or 0.
  int signal_received() const;
};

}  // namespace nf::train
