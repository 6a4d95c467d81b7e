"""How a point's ranks start: `mpirun -n N` on one box, `srun --mpi=pmix -n N` inside a Slurm
allocation (as jobs/launch.sh does; NF_LAUNCHER=mpirun|srun chooses, NF_SRUN_ARGS / NF_MPIRUN_ARGS
add arguments), and the threads each rank computes with.
"""
import os
import shlex
import signal
import subprocess

from . import machine


class CommandFailed(Exception):
    def __init__(self, args, code, output):
        tail = "\n".join(output.splitlines()[-25:])
        super().__init__(f"exit {code}: {shlex.join(map(str, args))}\n{tail}")
        self.code, self.output = code, output


class Launcher:
    def __init__(self, timeout_s=1800):
        self.kind = os.environ.get("NF_LAUNCHER") or ("srun" if os.environ.get("SLURM_JOB_ID") else "mpirun")
        if self.kind not in ("srun", "mpirun"):
            raise ValueError(f"NF_LAUNCHER={self.kind}: use srun or mpirun")
        self.timeout_s = timeout_s

    def threads(self, ranks):
        """Threads per rank: the job's cpus-per-task under Slurm, else the cores shared out over the
        ranks (at least 1: more ranks than cores oversubscribe, and the figures show it)."""
        if self.kind == "srun" and os.environ.get("SLURM_CPUS_PER_TASK"):
            return int(os.environ["SLURM_CPUS_PER_TASK"])
        return max(1, machine.cores_allocated() // ranks)

    def prefix(self, ranks):
        if self.kind == "srun":
            # As jobs/launch.sh: one rank failing ends the step at once, and srun does not take
            # --cpus-per-task from sbatch (Slurm 22.05), so it is passed on.
            return ["srun", "--mpi=pmix", "--kill-on-bad-exit=1", f"--cpus-per-task={os.environ.get('SLURM_CPUS_PER_TASK', 1)}",
                    "-n", str(ranks), *shlex.split(os.environ.get("NF_SRUN_ARGS", ""))]
        # --bind-to none: with more ranks than cores, binding would pin several ranks to one core.
        return ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "none",
                *shlex.split(os.environ.get("NF_MPIRUN_ARGS", ""))]

    def run(self, ranks, args, log_path, threads=None, env=None):
        """Runs `args` on `ranks` ranks; returns its output (also written to log_path). Raises
        CommandFailed on a non-zero exit or after the timeout (the whole process group is killed)."""
        return run_command(self.prefix(ranks) + [str(a) for a in args], log_path, self.timeout_s,
                           threads or self.threads(ranks), env)


def run_command(args, log_path, timeout_s, threads=1, env=None):
    """Runs `args` with `threads` per process and `env` added to the environment (see Launcher.run)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), **(env or {}))
    with open(log_path, "w") as log:
        log.write(f"$ {shlex.join(map(str, args))}\n")
        log.flush()
        process = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   env=env, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            log.write(output)
            raise CommandFailed(args, f"timeout after {timeout_s} s", output)
        log.write(output)
    if process.returncode != 0:
        raise CommandFailed(args, process.returncode, output)
    return output
