# shellcheck shell=bash
# The preamble of every test script (tests/e2e, tests/slurm, tests/bench, tests/gpu, tests/python):
# CTest runs a script as `bash SCRIPT BUILD_DIR SOURCE_DIR [ARGS...]` (nf_add_script_test), and
# the script's first line is
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# which gives it
#   build, source       the build and source directories (its first two arguments)
#   train, ckpt, shard  the programs of that build: nf-train, nf-ckpt, nf-shard
#   py                  the project's Python: $NF_PYTHON, else SOURCE_DIR/.venv/bin/python
#   work                a fresh temp directory, removed on exit; kept, and named, under KEEP=1
#   MPIEXEC             mpirun where CTest did not set it
# the environment CTest gives the scripts (scripts/mpi_env.sh), so that a script run by hand
# behaves as under CTest, and the helpers below: fail, on_exit, metrics_records, genesis_bytes,
# wait_for_steps.
# Mode: `set -uo pipefail`. A failing command does not end the test; its checks do
# (`command || fail "what went wrong"`). A script that also wants -e says `set -e` after this.
# Sourcing it again (tiny_model.sh, chat_data.sh and tests/slurm/lib.sh source it too) does nothing.

[[ -n ${nf_preamble_loaded:-} ]] && return 0
nf_preamble_loaded=1
set -uo pipefail

nf_test_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: bash $0 BUILD_DIR SOURCE_DIR}
source=${2:?usage: bash $0 BUILD_DIR SOURCE_DIR}
# shellcheck disable=SC2034  # used by the scripts that source this file
train=$build/src/nf-train ckpt=$build/src/nf-ckpt shard=$build/data_tools/nf-shard
py=${NF_PYTHON:-$source/.venv/bin/python}
: "${MPIEXEC:=mpirun}"
# shellcheck source=scripts/mpi_env.sh
source "$source/scripts/mpi_env.sh"

# fail MESSAGE: ends the test with "FAIL: MESSAGE" (exit 1). A library that has more to show on
# failure (tests/slurm/lib.sh: the jobs' logs) defines on_fail, which runs first.
fail() {
  if declare -F on_fail >/dev/null; then on_fail || true; fi
  echo "FAIL: $*"
  exit 1
}

# on_exit COMMAND: runs COMMAND (a string, evaluated then) when the script exits, before the work
# directory is removed, e.g. on_exit '"$source/scripts/slurm/down.sh" "$work/slurm"'.
nf_exit_commands=()
on_exit() { nf_exit_commands+=("$1"); }

# KEEP=1 (any value but empty or 0) keeps the work directory for a look after the test.
nf_keep() { [[ -n ${KEEP:-} && $KEEP != 0 ]]; }
nf_exit() {
  local command
  for command in "${nf_exit_commands[@]}"; do eval "$command" || true; done
  if nf_keep; then echo "KEEP: the work directory of ${0##*/} is kept: $work" >&2; else rm -rf "$work"; fi
}

nf_script=${0##*/}
work=$(mktemp -d "${TMPDIR:-/tmp}/nf-${nf_script%.sh}.XXXXXX") || fail "mktemp: cannot create a work directory"
trap nf_exit EXIT
nf_keep && echo "KEEP: work directory $work" >&2

# metrics_records METRICS [--keys K,...] [--val prefix|infix]: a run's metrics.jsonl without the
# timings, every value to the bit: "STEP V..." per training record (keys loss,grad_norm by
# default) and, with --val, "val STEP VAL_LOSS" (prefix) or "STEP val VAL_LOSS" (infix) per
# validation (tests/lib/metrics_records.py).
metrics_records() { "$py" "$nf_test_lib/metrics_records.py" "$@"; }

# genesis_bytes DIR: Genesis 1-11 of the KJV (bible-kjv), verse references included, as a
# byte-level pretraining dataset (vocabulary 260, 64 KiB shards, every 10th document for
# validation) in DIR: the data of the tiny-model tests. The text is left in $work/genesis.txt.
genesis_bytes() {
  bible -f 'Gen1:1-Gen11:32' >"$work/genesis.txt" || fail "bible (bible-kjv) is not installed"
  "$build/tests/write-text-dataset" "$work/genesis.txt" "$1" pretrain 65536 10 || fail "dataset"
}

# wait_for_steps METRICS STEPS SECONDS: waits until METRICS (a run's metrics.jsonl) holds STEPS
# training records; false if it does not within SECONDS.
wait_for_steps() {
  local metrics=$1 steps=$2 tries
  for ((tries = $3 * 10; tries > 0; tries--)); do
    [[ -s $metrics && $(grep -c '"loss"' "$metrics") -ge $steps ]] && return 0
    sleep 0.1
  done
  [[ -s $metrics && $(grep -c '"loss"' "$metrics") -ge $steps ]]
}
