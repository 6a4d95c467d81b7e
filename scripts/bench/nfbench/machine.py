"""What a record says about where and from what it was measured.

The *machine* is the hardware type of the node (CPU model, its logical CPUs, memory, GPU model), not
the host and not what a job was given of it: nodes of one partition are one machine, so a point
measured on one node is not measured again on its neighbour, and the calibration measured by a
1-task job applies to an 8-task job on the same kind of node. The *commit* is HEAD, with a hash of the uncommitted changes when the tree is dirty,
so an edited tree never passes for the commit it started from.
"""
import hashlib
import os
import platform
import socket
import subprocess

# Environment variables that change what is measured; a record keeps those set.
RELEVANT_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "MALLOC_CONF", "CUDA_VISIBLE_DEVICES",
                "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_PARTITION", "SLURM_NNODES",
                "SLURM_CPUS_PER_TASK", "NF_LAUNCHER")
RELEVANT_PREFIXES = ("NCCL_", "OMPI_MCA_", "UCX_")


def _run(args, cwd=None):
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def commit(root, results_dir):
    """HEAD, and when the tree has changes (tracked, or new files git does not ignore) "+" a hash of
    them; the results directory is left out, so results written inside the checkout do not change it."""
    head = _run(["git", "rev-parse", "HEAD"], cwd=root) or "unknown"
    results = os.path.relpath(os.path.realpath(results_dir), os.path.realpath(root))
    outside = ["--", "."] + ([f":(exclude){results}"] if not results.startswith("..") else [])
    changes = hashlib.sha256(_run(["git", "diff", "HEAD", *outside], cwd=root).encode())
    untracked = _run(["git", "ls-files", "--others", "--exclude-standard", *outside], cwd=root).splitlines()
    for path in untracked:
        changes.update(path.encode())
        try:
            with open(os.path.join(root, path), "rb") as f:
                changes.update(f.read())
        except OSError:
            pass
    dirty = _run(["git", "status", "--porcelain", *outside], cwd=root)
    return f"{head}+{changes.hexdigest()[:8]}" if dirty else head


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cores_allocated():
    """Logical CPUs this process may run on: the job's share inside a Slurm allocation."""
    return len(os.sched_getaffinity(0))


def memory_bytes():
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0


def gpus():
    out = _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
    return [line.strip() for line in out.splitlines() if line.strip()]


def describe():
    """The machine: what decides whether two measurements may be compared."""
    gpu_list = gpus()
    machine = {"cpu": cpu_model(), "cores": os.cpu_count(), "memory_bytes": memory_bytes(),
               "gpu": gpu_list[0] if gpu_list else None, "gpus": len(gpu_list), "cores_allocated": cores_allocated()}
    # Not the allocation (cores_allocated, the GPUs a job sees): it differs from job to job.
    key = f"{machine['cpu']}|{machine['cores']}|{machine['memory_bytes'] >> 30}|{machine['gpu']}"
    machine["fingerprint"] = hashlib.sha1(key.encode()).hexdigest()[:12]
    return machine


def versions(python):
    """Library versions: the project's Python and torch, MPI, the kernel."""
    torch_version = _run([python, "-c", "import torch; print(torch.__version__)"])
    mpi = _run(["mpirun", "--version"]).splitlines()
    return {"torch": torch_version or None, "mpi": mpi[0] if mpi else None, "python": platform.python_version(),
            "kernel": platform.release()}


def environment():
    return {k: v for k, v in sorted(os.environ.items()) if k in RELEVANT_ENV or k.startswith(RELEVANT_PREFIXES)}


def host():
    return socket.gethostname()
