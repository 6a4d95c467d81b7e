# shellcheck shell=bash
# Shared by the slurm tier's tests (sourced; they run as `bash test_x.sh BUILD SOURCE`): a private
# single-node Slurm in a temp dir (scripts/slurm/up.sh, torn down on exit), a byte-level dataset of
# the KJV Genesis, a tiny model's overrides, the stages' datasets (stage_data), and helpers that
# wait for jobs and read their records.
# A test exits 77 (CTest's SKIP_RETURN_CODE) where Slurm's daemons are not installed.
# Builds on the preamble (tests/lib/preamble.sh: $build, $source, $py, $work, fail, on_exit).
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
set -e
if ! [[ -x /usr/sbin/slurmctld && -x /usr/sbin/slurmd ]] || ! command -v sbatch >/dev/null; then
  echo "SKIP: slurmctld, slurmd or sbatch is not installed (scripts/setup.sh installs them)"
  exit 77
fi

# On failure (fail runs it before its FAIL line): what the jobs printed and the daemons' last words.
on_fail() {
  local out
  for out in "$work"/*.out; do
    [[ -f $out ]] && { echo "---- $out"; tail -n 40 "$out"; }
  done
  echo "---- Slurm logs ($work/slurm/log)"
  tail -n 15 "$work"/slurm/log/*.log 2>/dev/null || true
}
on_exit '"$source/scripts/slurm/down.sh" "$work/slurm"'
cluster_env=$("$source/scripts/slurm/up.sh" "$work/slurm") || fail "scripts/slurm/up.sh could not start the cluster"
eval "$cluster_env"

# The jobs find nf-train in this build; the checkout is found through NF_ROOT where a test sets it.
# They inherit this environment (sbatch --export=ALL; the preamble sourced scripts/mpi_env.sh):
# mpirun may run as root, as in CI.
export NF_BUILD_DIR=$build
unset NF_ROOT NF_LAUNCHER

genesis_bytes "$work/bytes"
# A ~115k-parameter model: a step takes tens of milliseconds on 4 ranks.
tiny_model=(--model.d_model 64 --model.n_layers 2 --model.n_heads 4 --model.n_kv_heads 2)
# shellcheck disable=SC2034  # used by the tests that source this file
common=(--data.train_path "$work/bytes" --output.dir "$work/runs" --model.vocab_size 260 "${tiny_model[@]}"
  --model.max_seq_len 64 --training.seq_len 32 --training.micro_batch_size 2 --training.global_batch_size 8
  --training.warmup_steps 2 --training.learning_rate 3e-3 --training.log_interval 1)

# The stage tests' data, as a user prepares it for configs/{pretrain,sft,dpo}_tiny.yaml, in
# $work/data/: pretrain_tiny, Genesis tokenized by a 320-id BPE that nf-shard trains
# (tests/e2e/chat_data.sh), and sft_tiny and dpo_tiny, Genesis's chat pairs tokenized with its
# tokenizer by the documented scripts/prepare_stage_data.sh. Jobs submitted from $work find them
# through the configs' relative data paths, as from a checkout. stage_model: the tiny model for
# that tokenizer; the configs keep their own sequence length, batch sizes, learning rates, steps.
# shellcheck disable=SC2034  # used by the tests that source this file
stage_model=(--model.vocab_size 320 "${tiny_model[@]}" --model.max_seq_len 128 --training.log_interval 1)
stage_data() {
  local format
  # shellcheck source=tests/e2e/chat_data.sh
  source "$source/tests/e2e/chat_data.sh"
  chat_data 'Gen1:1-Gen50:26'  # $work/tok, $work/pretrain
  mkdir -p "$work/data"
  mv "$work/pretrain" "$work/data/pretrain_tiny"
  "$source/scripts/prepare_stage_data.sh" "$work/data" 'Gen1:1-Gen50:26' >"$work/stage_data.log" 2>&1 ||
    fail "scripts/prepare_stage_data.sh: $(cat "$work/stage_data.log")"
  for format in sft dpo; do
    [[ -f $work/data/${format}_tiny/manifest.json ]] || fail "scripts/prepare_stage_data.sh wrote no $format dataset"
  done
}

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

# Asserts that JOB, whose run is named NAME and whose log is LOG, got SIGUSR1 on its batch shell
# mid-run and went through the whole preemption cycle under LAUNCHER (srun or mpirun): the shell
# forwarded the signal, nf-train saved a checkpoint at a step before STEPS (left in $saved) and
# exited 75, the launcher requeued the job (Restarts=1), the second run resumed from that
# checkpoint and finished the STEPS steps, and the job ended COMPLETED 0:0.
expect_requeued() {
  local job=$1 name=$2 log=$3 launcher=$4 steps=$5
  expect_job "$job" COMPLETED 0:0
  [[ $(job_field "$job" Restarts) == 1 ]] || fail "$launcher: job $job has Restarts=$(job_field "$job" Restarts), expected 1"
  grep -q "^launch.sh: SIGUSR1 received; asking nf-train to save a checkpoint and stop (SIGUSR1 to $launcher)" "$log" ||
    fail "$launcher: the batch shell of job $job did not forward SIGUSR1"
  saved=$(sed -n 's/.*WARN preempted by a signal at step \([0-9]*\);.*/\1/p' "$log" | head -n 1)
  if [[ -z $saved ]] || ((saved >= steps)); then fail "$launcher: nf-train did not stop mid-run (step '$saved')"; fi
  grep -q "^launch.sh: nf-train saved a checkpoint and stopped (exit 75); requeueing job $job" "$log" ||
    fail "$launcher: the launcher did not requeue job $job after exit 75"
  grep -q "^launch.sh: job $job restart 1 on " "$log" || fail "$launcher: no second run of job $job in its log"
  grep -q "INFO resumed from \(.*/\)\?$name/checkpoints/step_$saved at step $saved " "$log" ||
    fail "$launcher: the requeued run of job $job did not resume from its step $saved"
  grep -q "INFO done: $steps steps" "$log" || fail "$launcher: the requeued run of job $job did not finish"
}

# The records of a run's metrics.jsonl without the timings: "step loss grad_norm lr" and
# "step val val_loss" lines, every bit (%.17g).
records() { metrics_records "$1" --keys loss,grad_norm,lr --val infix; }

# Fails unless the training losses of RECORDS (from records) are all finite and the last is at least
# DROP below the first, and, given FIRST_BELOW, the first is below it. Prints "loss FIRST -> LAST".
loss_falls() {
  $py - "$@" <<'PY' || fail "the losses of $1 are not finite, or do not fall by $2${3:+ from below $3}"
import math, sys
losses = [float(line.split()[1]) for line in open(sys.argv[1]) if " val " not in line]
drop, first_below = float(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else math.inf
print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
sys.exit(not (all(map(math.isfinite, losses)) and losses[-1] < losses[0] - drop and losses[0] < first_below))
PY
}
