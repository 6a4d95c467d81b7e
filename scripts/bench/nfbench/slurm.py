"""The sweep as Slurm jobs (jobs/bench_scaling.slurm): one job array per rank count, each task one
point (`run --points INDEX`, its record appended by the job itself), calibration and collectives
first, training after them (afterany: their measurements set the planner's peak and bandwidth),
and a last job that gathers the results and writes the report once every point has ended.

Every point is submitted; a task whose point this commit already measured on its node's machine
skips it in seconds, so re-submitting a preempted or partly failed sweep measures only what is
missing. The login node only builds the shared inputs (corpus, tokenizer, dataset) beforehand.
"""
import os
import shlex
import subprocess

FIRST_KINDS = ("calibrate", "comm")


def _sbatch(args, env, log):
    command = ["sbatch", "--parsable", *args]
    log("$ " + shlex.join(command))
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, **env))
    if result.returncode != 0:
        raise RuntimeError(f"sbatch failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]


def submit(sweep, sweep_path, out, root, build, extra, log=print):
    """Submits the sweep; returns the job ids, the gather job's last. The jobs find this checkout and
    build through NF_ROOT and NF_BUILD_DIR, wherever they are submitted from."""
    template = os.path.join(root, "jobs", "bench_scaling.slurm")
    env = {"NF_ROOT": root, "NF_BUILD_DIR": build}
    run_args = ["run", os.path.abspath(sweep_path), "--out", os.path.abspath(out), "--no-report"]
    groups = {}
    for index, point in enumerate(sweep["points"]):
        phase = 0 if point["kind"] in FIRST_KINDS else 1
        groups.setdefault((phase, point.get("ranks", 1)), []).append(index)
    jobs = {0: [], 1: []}
    for (phase, ranks), indices in sorted(groups.items()):
        dependency = ["--dependency", "afterany:" + ":".join(jobs[0])] if phase == 1 and jobs[0] else []
        jobs[phase].append(_sbatch([f"--job-name=nf-bench-{sweep['name']}", f"--ntasks={ranks}",
                                    f"--array={','.join(map(str, indices))}", *dependency, *extra, template,
                                    *run_args], env, log))
    every = jobs[0] + jobs[1]
    gather = _sbatch([f"--job-name=nf-bench-{sweep['name']}-report", "--ntasks=1", "--dependency",
                      "afterany:" + ":".join(every), *extra, template, "report", os.path.abspath(out)], env, log)
    return every + [gather]
