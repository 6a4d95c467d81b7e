"""scripts/bench/scaling.sh: the command line of the scaling suite (docs/scaling.md)."""
import argparse
import os
import shlex
import shutil
import sys

from . import machine, report, runner, slurm, store, sweep

USAGE = """\
  scaling.sh run SWEEP.yaml [--out DIR] [--points 0,3,5] [--force] [--no-report]
      measure the sweep's points on this machine (mpirun; srun inside a Slurm allocation), skipping
      those this commit already measured here; then write the CSVs and DIR/report.md
  scaling.sh list SWEEP.yaml [--out DIR]
      the points, numbered, and whether each is measured
  scaling.sh submit SWEEP.yaml [--out DIR] [--sbatch "--partition gpu --gpus-per-node 8"]
      the same sweep as Slurm jobs: a job array per rank count, then a job that writes the report
  scaling.sh report DIR [--against DIR_A] [--labels A B] [--title TEXT]
      report.md and plots/ of DIR; with --against, DIR_A's training points beside DIR's
DIR defaults to bench-results/<the sweep's name> in the checkout."""


def _parser():
    parser = argparse.ArgumentParser(prog="scaling.sh", description="nf's scaling benchmark suite (docs/scaling.md)",
                                     usage=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.environ.get("NF_BUILD_DIR"), help="the build directory (default: build)")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "list", "submit"):
        command = commands.add_parser(name)
        command.add_argument("sweep", help="the sweep file, e.g. configs/bench/ci_tiny.yaml")
        command.add_argument("--out", help="the results directory (default bench-results/<name>)")
        if name == "run":
            command.add_argument("--points", help="only these point numbers (0-based, as `list` shows), comma-separated")
            command.add_argument("--force", action="store_true", help="measure points again even when measured")
            command.add_argument("--no-report", action="store_true", help="leave the CSVs, report.md and plots/ as they are")
            command.add_argument("--timeout", type=int, default=1800, help="seconds a point may take (default 1800)")
        if name == "submit":
            command.add_argument("--sbatch", default="", help="more sbatch options for every job, as one string")
    command = commands.add_parser("report")
    command.add_argument("dir")
    command.add_argument("--against", help="a second results directory: its training points beside these")
    command.add_argument("--labels", nargs=2, default=None, metavar=("A", "B"), help="names of --against's set and DIR's")
    command.add_argument("--title", help="the report's title (default: the sweep's name)")
    return parser


SWEEP_COPY = "sweep.yaml"  # in a results directory: the sweep last run or submitted into it


def _keep_sweep(path, out):
    """A copy of the sweep file in the results directory, for `report` (written to a temp name)."""
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, f".{SWEEP_COPY}.{os.getpid()}")
    shutil.copyfile(path, tmp)
    os.replace(tmp, os.path.join(out, SWEEP_COPY))


def _store(directory):
    results = store.Store(directory)
    try:
        return results, results.records()
    except ValueError as e:
        sys.exit(f"scaling.sh: {e}")


def main():
    args = _parser().parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    build = os.path.abspath(args.build or os.path.join(root, "build"))
    python = os.environ.get("NF_PYTHON") or sys.executable
    if args.command == "report":
        if not os.path.exists(os.path.join(args.dir, "results.jsonl")):
            sys.exit(f"scaling.sh report: {args.dir} has no results.jsonl; run a sweep into it first (scaling.sh run)")
        _, records = _store(args.dir)
        against = None
        if args.against:
            if not os.path.exists(os.path.join(args.against, "results.jsonl")):
                sys.exit(f"scaling.sh report: --against {args.against} has no results.jsonl")
            against = _store(args.against)[1]
        labels = args.labels or (os.path.basename(os.path.normpath(args.against or "A")),
                                 os.path.basename(os.path.normpath(args.dir)))
        runner.write_csvs(args.dir, records)
        title = args.title or f"Scaling sweep {records[-1]['sweep']}"
        points = None
        if os.path.exists(os.path.join(args.dir, SWEEP_COPY)):  # the sweep run into it: names unmeasured points
            try:
                points = sweep.load(os.path.join(args.dir, SWEEP_COPY), root)["points"]
            except sweep.SweepError as e:
                print(f"scaling.sh report: {e}; points without a record are not listed", file=sys.stderr)
        print(report.write(args.dir, records, title, against, labels, points))
        return
    try:
        plan = sweep.load(args.sweep, root)
    except sweep.SweepError as e:
        sys.exit(f"scaling.sh: {e}")
    out = os.path.abspath(args.out or os.path.join(root, "bench-results", plan["name"]))
    if args.command in ("run", "submit"):
        _keep_sweep(args.sweep, out)
    if args.command == "submit":
        ctx = runner.Context(root, build, python, out, plan["planner"], 1800)
        for vocab_size in {p["corpus"]["vocab_size"] for p in plan["points"] if "corpus" in p}:
            ctx.inputs.dataset(vocab_size)  # here, once, rather than by the first jobs while the others wait
        jobs = slurm.submit(plan, args.sweep, out, root, build, shlex.split(args.sbatch))
        print(f"submitted jobs {' '.join(jobs)}; the report: {out}/report.md once job {jobs[-1]} ends")
        return
    results, records = _store(out)
    if args.command == "list":
        commit, fingerprint = machine.commit(root, out), machine.describe()["fingerprint"]
        for index, point in enumerate(plan["points"]):
            done = store.measured(records, point["id"], commit, fingerprint)
            print(f"{index:4d}  {point['id']}  {'measured' if done else 'to run   '}  {sweep.describe(point)}")
        return
    indices = None
    if args.points:
        try:
            indices = {int(i) for i in args.points.split(",")}
        except ValueError:
            sys.exit(f"scaling.sh run: --points {args.points}: write point numbers separated by commas, e.g. 0,3,5")
        if max(indices) >= len(plan["points"]) or min(indices) < 0:
            sys.exit(f"scaling.sh run: --points {args.points}: the sweep has points 0 to {len(plan['points']) - 1}")
    ctx = runner.Context(root, build, python, out, plan["planner"], args.timeout)
    print(f"sweep {plan['name']}: {len(plan['points'])} points, results in {out} (commit {ctx.commit[:12]}, "
          f"machine {ctx.machine['cpu']}, {ctx.machine['cores']} cores, launcher {ctx.launcher.kind})", flush=True)
    failed = runner.run(plan, ctx, results, indices, args.force, log=lambda line: print(line, flush=True))
    if not args.no_report:  # with --no-report (the Slurm tasks), the gather job writes them once
        records = results.records()
        runner.write_csvs(out, records)
        print(report.write(out, records, f"Scaling sweep {plan['name']}", points=plan["points"]))
    if failed:
        sys.exit(f"scaling.sh: {failed} point(s) failed; their reasons are in {out}/results.jsonl and report.md")


if __name__ == "__main__":
    main()
