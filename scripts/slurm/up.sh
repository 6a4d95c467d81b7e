#!/usr/bin/env bash
# Brings up a real single-node Slurm (Debian's slurmctld + slurmd) on this machine, for the slurm
# test tier and for trying jobs/*.slurm on one box. Everything it writes (slurm.conf, state, spool,
# logs, pid files) lives in one directory, the daemons listen on free non-default ports of
# 127.0.0.1, and there is no munge: auth/none, cred/none. Prints the shell lines that point the
# Slurm commands at it:
#
#   eval "$(scripts/slurm/up.sh [DIR])"      # DIR default: $NF_SLURM_DIR, else a new temp dir
#   sbatch jobs/pretrain.slurm; squeue; sinfo
#   scripts/slurm/down.sh                    # DIR default: $NF_SLURM_DIR
#
# The node declares NF_SLURM_CPUS CPUs (default 8) whatever the machine has (config_overrides), so
# 8-rank jobs schedule on a 2-core box; ranks then share the cores. Works as root and as a normal
# user (the daemons run as the user who starts them and can run only that user's jobs).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-${NF_SLURM_DIR:-}}
if [[ -z $dir ]]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/nf-slurm.XXXXXX")
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cpus=${NF_SLURM_CPUS:-8}
timeout_s=${NF_SLURM_TIMEOUT:-30}
for setting in "NF_SLURM_CPUS=$cpus" "NF_SLURM_TIMEOUT=$timeout_s"; do
  [[ ${setting#*=} =~ ^[1-9][0-9]*$ ]] || { echo "up.sh: $setting: expected a whole number above 0" >&2; exit 1; }
done

for program in slurmctld slurmd sinfo scontrol; do
  command -v "$program" >/dev/null || [[ -x /usr/sbin/$program ]] || {
    echo "up.sh: $program is not installed; run scripts/setup.sh (Debian packages slurmctld slurmd slurm-client)" >&2
    exit 1
  }
done
export PATH=$PATH:/usr/sbin
if [[ -s $dir/slurmctld.pid ]] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
  echo "up.sh: a cluster is already running from $dir; bring it down first: scripts/slurm/down.sh $dir" >&2
  exit 1
fi

# Two free TCP ports: the kernel picks them (bind to port 0), so clusters side by side differ.
ports=$(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))') || { echo "up.sh: could not find two free ports (/usr/bin/python3)" >&2; exit 1; }
read -r ctld_port slurmd_port <<<"$ports"

node=$(hostname -s)
user=$(id -un)
mkdir -p "$dir"/{state,spool,log,tmp}
cat >"$dir/slurm.conf" <<EOF
# Written by scripts/slurm/up.sh: a single-node cluster whose state lives in $dir.
ClusterName=nf
# Job ids start at 1000 x the controller's port, so clusters running side by side never share one:
# OpenMPI names its shared-memory files after the PMIx namespace slurm.pmix.<job>.<step>, and two
# jobs with the same id on one machine crash each other.
FirstJobId=$((ctld_port * 1000))
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
# No munge on a one-machine cluster: messages are trusted, the node signs no credentials.
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
# Processes are tracked through /proc and tasks are not bound: no cgroups needed, so it runs in
# containers and as a normal user.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
# Batch jobs may be requeued (scontrol requeue, the templates' preemption path), and finished jobs
# stay visible to scontrol show job for 10 minutes.
JobRequeue=1
# A requeued job may start again after the credential lifetime (default 120 s, at least 5 s);
# pending jobs are looked at every second (default 60 s), not only when something else happens.
AuthInfo=cred_expire=5
SchedulerParameters=sched_interval=1
MinJobAge=600
# A cancelled job gets SIGKILL 5 s after SIGTERM; a node that was down comes back by itself.
KillWait=5
ReturnToService=2
# The node is what this line says, not what the hardware has: $cpus CPUs on any machine.
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

# Stops whatever started, and shows why with the logs' last lines.
give_up() {
  {
    echo "up.sh: $1"
    echo "up.sh: see $dir/log/slurmctld.log and $dir/log/slurmd.log; their last lines:"
    tail -n 5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" 2>&1 || true
    "$here/down.sh" "$dir" || true
  } >&2
  exit 1
}

export SLURM_CONF=$dir/slurm.conf
# -c: start from a clean state (a fresh cluster), even when DIR held an old one.
slurmctld -c || give_up "slurmctld did not start"
slurmd || give_up "slurmd did not start"

# Ready when the controller answers and the node is idle (a few hundred milliseconds).
deadline=$((SECONDS + timeout_s))
until [[ $(sinfo -h -n "$node" -o %T 2>/dev/null) == idle ]]; do
  ((SECONDS < deadline)) ||
    give_up "the node $node did not become idle within ${timeout_s}s (state: $(sinfo -h -o %T 2>&1 || true))"
  sleep 0.1
done
echo "export SLURM_CONF=$dir/slurm.conf NF_SLURM_DIR=$dir"
