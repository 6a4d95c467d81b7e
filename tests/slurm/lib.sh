# shellcheck shell=bash
# Shared by the slurm tier's tests (sourced; they run as `bash test_x.sh BUILD SOURCE`): a private
# single-node Slurm in a temp dir (scripts/slurm/up.sh, torn down on exit), a byte-level dataset of
# the KJV Genesis, a tiny model's overrides, and helpers that wait for jobs and read their records.
# A test exits 77 (CTest's SKIP_RETURN_CODE) where Slurm's daemons are not installed.
set -euo pipefail
build=$1 source=$2
py=/usr/bin/python3
if ! [[ -x /usr/sbin/slurmctld && -x /usr/sbin/slurmd ]] || ! command -v sbatch >/dev/null; then
  echo "SKIP: slurmctld, slurmd or sbatch is not installed (scripts/setup.sh installs them)"
  exit 77
fi
work=$(mktemp -d)

# On failure: what the jobs printed and the daemons' last words, then the reason.
fail() {
  local out
  for out in "$work"/*.out; do
    [[ -f $out ]] && { echo "---- $out"; tail -n 40 "$out"; }
  done
  echo "---- Slurm logs ($work/slurm/log)"
  tail -n 15 "$work"/slurm/log/*.log 2>/dev/null || true
  echo "FAIL: $*"
  exit 1
}
cleanup() {
  "$source/scripts/slurm/down.sh" "$work/slurm" || true
  rm -rf "$work"
}
trap cleanup EXIT
cluster_env=$("$source/scripts/slurm/up.sh" "$work/slurm") || fail "scripts/slurm/up.sh could not start the cluster"
eval "$cluster_env"

# The jobs find nf-train in this build; the checkout is found through NF_ROOT where a test sets it.
# They inherit this environment (sbatch --export=ALL): mpirun may run as root, as in CI.
export NF_BUILD_DIR=$build
source "$source/scripts/mpi_env.sh"
unset NF_ROOT NF_LAUNCHER

bible -f 'Gen1:1-Gen11:32' >"$work/genesis.txt" || fail "bible (bible-kjv) is not installed"
"$build/tests/write-text-dataset" "$work/genesis.txt" "$work/data" pretrain 65536 10 >/dev/null || fail "dataset"
# A ~115k-parameter model: a step takes tens of milliseconds on 4 ranks.
# shellcheck disable=SC2034  # used by the tests that source this file
common=(--data.train_path "$work/data" --output.dir "$work/runs"
  --model.vocab_size 260 --model.d_model 64 --model.n_layers 2 --model.n_heads 4 --model.n_kv_heads 2
  --model.max_seq_len 64 --training.seq_len 32 --training.micro_batch_size 2 --training.global_batch_size 8
  --training.warmup_steps 2 --training.learning_rate 3e-3 --training.log_interval 1)

# One field of `scontrol show job`, e.g. job_field 3 JobState.
job_field() {
  scontrol show job -o "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# Every wait of the test ends by this deadline: 120 s after the start, well inside the CTest
# timeout (180 s), so that a stuck job fails the test with its logs and the cluster still comes down.
deadline=$((SECONDS + 120))

# Waits until every job given has ended (a requeued job is pending again: not ended).
wait_jobs() {
  local job state
  for job in "$@"; do
    while :; do
      state=$(job_field "$job" JobState) || fail "scontrol show job $job failed"
      case $state in
        COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) break ;;
      esac
      ((SECONDS < deadline)) || fail "job $job still $state at the test's deadline"
      sleep 0.2
    done
  done
}

# Asserts a job's final state and exit code, e.g. expect_job 3 COMPLETED 0:0.
expect_job() {
  local state code
  state=$(job_field "$1" JobState) code=$(job_field "$1" ExitCode)
  [[ $state == "$2" && $code == "$3" ]] || fail "job $1 ended $state with exit code $code, expected $2 with $3"
}

# Waits until job JOB's run has at least STEPS training records in METRICS (its metrics.jsonl).
wait_steps() {
  local job=$1 metrics=$2 steps=$3
  until [[ -s $metrics ]] && (($(grep -c '"loss"' "$metrics") >= steps)); do
    [[ $(job_field "$job" JobState) == @(PENDING|CONFIGURING|RUNNING) ]] ||
      fail "job $job ended before $metrics had $steps steps"
    ((SECONDS < deadline)) || fail "$metrics did not reach $steps steps by the test's deadline"
    sleep 0.05
  done
}

# The records of a run's metrics.jsonl without the timings: "step loss grad_norm lr" and
# "step val_loss" lines, every bit (%.17g).
records() {
  $py -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "loss" in r: print(r["step"], "%.17g" % r["loss"], "%.17g" % r["grad_norm"], "%.17g" % r["lr"])
    if "val_loss" in r: print(r["step"], "val", "%.17g" % r["val_loss"])
' "$1"
}
