#!/usr/bin/env bash
# Tears down a cluster started by scripts/slurm/up.sh: cancels its jobs, then stops exactly the
# slurmctld and slurmd whose pid files are in its directory. The directory itself is left for its
# logs; remove it when done.
#
#   scripts/slurm/down.sh [DIR]      # DIR default: $NF_SLURM_DIR
set -euo pipefail
dir=${1:-${NF_SLURM_DIR:-}}
[[ -n $dir ]] || { echo "down.sh: which cluster? pass the directory given to up.sh, or set NF_SLURM_DIR" >&2; exit 1; }
[[ -f $dir/slurm.conf ]] || { echo "down.sh: $dir/slurm.conf not found: $dir was not made by scripts/slurm/up.sh" >&2; exit 1; }
export SLURM_CONF=$dir/slurm.conf PATH=$PATH:/usr/sbin

# The pid in DIR/NAME.pid if that process is still the daemon NAME (pids get reused).
daemon_pid() {
  local pid
  pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && echo "$pid"
}

# Cancel the jobs first: their slurmstepd and tasks outlive slurmd otherwise. Wait until the node
# has let them go (KillWait in slurm.conf bounds it), at most 15 s.
if daemon_pid slurmctld >/dev/null; then
  mapfile -t jobs < <(squeue -h -o %A 2>/dev/null || true)
  if ((${#jobs[@]} > 0)); then
    scancel --full "${jobs[@]}" 2>/dev/null || true
    deadline=$((SECONDS + 15))
    while [[ -n $(squeue -h -o %A 2>/dev/null) ]] && ((SECONDS < deadline)); do sleep 0.2; done
  fi
fi

for name in slurmd slurmctld; do
  pid=$(daemon_pid "$name") || continue
  kill -TERM "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "down.sh: $name (pid $pid) ignored SIGTERM for 5 s; killing it" >&2
    kill -KILL "$pid"
  fi
done
rm -f "$dir/slurmctld.pid" "$dir/slurmd.pid"
