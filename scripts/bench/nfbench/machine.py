"""What a record says about where and from what it was measured.

The *machine* is the hardware type (CPU model, cores, memory, GPU model and count), not the host:
nodes of one partition are one machine, so a point measured on one node is not measured again on
its neighbour. The *commit* is HEAD, with a hash of the uncommitted changes when the tree is dirty,
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


def commit(root):
    """HEAD, and when the tree has changes (tracked, or new files git does not ignore) "+" a hash of them."""
    head = _run(["git", "rev-parse", "HEAD"], cwd=root) or "unknown"
    changes = hashlib.sha256(_run(["git", "diff", "HEAD"], cwd=root).encode())
    for path in _run(["git", "ls-files", "--others", "--exclude-standard"], cwd=root).splitlines():
        changes.update(path.encode())
        try:
            with open(os.path.join(root, path), "rb") as f:
                changes.update(f.read())
        except OSError:
            pass
    dirty = _run(["git", "status", "--porcelain"], cwd=root)
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


def cores():
    """Logical CPUs this process may run on (the allocation's, inside a Slurm job)."""
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
    machine = {"cpu": cpu_model(), "cores": cores(), "memory_bytes": memory_bytes(),
               "gpu": gpu_list[0] if gpu_list else None, "gpus": len(gpu_list)}
    key = f"{machine['cpu']}|{machine['cores']}|{machine['memory_bytes'] >> 30}|{machine['gpu']}|{machine['gpus']}"
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
