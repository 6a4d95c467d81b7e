#!/usr/bin/env bash
# The scaling benchmark suite (issue #18, docs/scaling.md): sweeps described in configs/bench/*.yaml,
# run here under mpirun or as Slurm jobs, results as JSON lines + CSV, report.md with PNG plots.
#
#   scripts/bench/scaling.sh run configs/bench/ci_tiny.yaml            # measure, then report
#   scripts/bench/scaling.sh submit configs/bench/cpu_small.yaml       # the same as Slurm jobs
#   scripts/bench/scaling.sh report bench-results/NAME [--against DIR]
#   scripts/bench/scaling.sh --help
# Needs: scripts/build.sh (nf-train, nf-shard, bench-comm, bench-ckpt, bench-reader) and the project's
# Python (scripts/setup.sh; NF_PYTHON overrides it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
py=${NF_PYTHON:-$root/.venv/bin/python}
[[ -x $py ]] || { echo "scaling.sh: no Python at $py; run scripts/setup.sh, or set NF_PYTHON" >&2; exit 2; }
# mpirun as root (CI), oversubscription on one box; threads are set per point (launch.py).
# shellcheck source=scripts/mpi_env.sh
source "$root/scripts/mpi_env.sh"
export NF_PYTHON=$py
PYTHONPATH="$root/scripts/bench${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m nfbench "$@"
