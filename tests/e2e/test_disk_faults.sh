#!/usr/bin/env bash
# A full disk and a refused write (issue 21), made by tests/support/write_faults.cpp (LD_PRELOAD):
#   - nf-train on 2 ranks saves step 5, then its step-10 save hits ENOSPC after 4 KiB: the job
#     ends with an IoError naming the file, the space this rank's files need and the space free;
#     `latest` still names step_5, which a resume then continues from to step 10;
#   - the same save refused with EACCES names the directory's permissions;
#   - nf-shard build hitting ENOSPC in its second shard, or EACCES on its output directory, ends
#     with an IoError naming the shard (or directory) and leaves no temporary and no manifest (the
#     first shard, complete, stays: without a manifest nothing reads it, and a rebuild clears it).
# usage: test_disk_faults.sh BUILD_DIR SOURCE_DIR
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"
faults=$build/tests/libnf_write_faults.so
[[ -f $faults ]] || fail "no $faults (build the nf_write_faults target)"
common+=(--training.max_steps 10 --training.eval_interval 0 --checkpoint.save_interval 5)

# faulty ERRNO PATH AFTER COMMAND...: COMMAND with writes under PATH failing as ERRNO.
faulty() {
  local error=$1 path=$2 after=$3
  shift 3
  env LD_PRELOAD="$faults" NF_FAULT_ERRNO="$error" NF_FAULT_PATH="$path" NF_FAULT_AFTER="$after" "$@"
}
# expect_failure OUT MESSAGE...: the command's output OUT says every MESSAGE.
expect_failure() {
  local out=$1
  shift
  for message in "$@"; do
    grep -qF -- "$message" "$out" || { tail -20 "$out"; fail "$(basename "$out"): no '$message'"; }
  done
}
mpi=("$MPIEXEC" -n 2 --oversubscribe -x LD_PRELOAD -x NF_FAULT_ERRNO -x NF_FAULT_PATH -x NF_FAULT_AFTER)

# --- checkpoint saves
faulty ENOSPC /checkpoints/step_10 4096 "${mpi[@]}" "$train" "${common[@]}" --output.name full \
  >"$work/full.out" 2>&1 && fail "nf-train finished although its step-10 save could not be written"
checkpoints=$work/runs/full/checkpoints
expect_failure "$work/full.out" "cannot write '$checkpoints/step_10" "No space left on device" \
  "this rank's files of checkpoint step 10 need" "free on the filesystem of '$checkpoints/step_10"
[[ $(cat "$checkpoints/latest") == step_5 && -f $checkpoints/step_5/meta.json ]] ||
  fail "latest does not name the complete step_5 after the failed save"
[[ ! -e $checkpoints/step_10/meta.json ]] || fail "a step_10 checkpoint looks complete"
echo "ENOSPC on save: $(grep -m1 -o "cannot write '[^']*': No space left on device" "$work/full.out")"
"$MPIEXEC" -n 2 --oversubscribe "$train" "${common[@]}" --output.name full --checkpoint.resume auto \
  >"$work/resumed.out" 2>&1 || { tail -20 "$work/resumed.out"; fail "the resume after a full disk failed"; }
grep -q "resumed from .*step_5" "$work/resumed.out" || fail "the resume did not start from step_5"
[[ $(cat "$checkpoints/latest") == step_10 ]] || fail "the resumed run did not save step_10"

faulty EACCES /checkpoints/step_10 0 "${mpi[@]}" "$train" "${common[@]}" --output.name denied \
  >"$work/denied.out" 2>&1 && fail "nf-train finished although its step-10 save was refused"
expect_failure "$work/denied.out" "$work/runs/denied/checkpoints/step_10" "Permission denied" "is not writable"
[[ $(cat "$work/runs/denied/checkpoints/latest") == step_5 ]] || fail "latest moved after a refused save"

# --- nf-shard build
"$shard" tokenizer train --vocab-size 300 --input "$work/genesis.txt" --out "$work/tok" >/dev/null || fail "tokenizer"
awk '{ gsub(/"/, ""); printf "{\"text\": \"%s\"}\n", $0 }' "$work/genesis.txt" >"$work/genesis.jsonl"
build_args=(build --input "$work/genesis.jsonl" --tokenizer "$work/tok" --shard-size 16KB --val-fraction 0 --quiet)
# The disk fills 4 KiB into the second shard (of three).
faulty ENOSPC "$work/ds-full/train-00001.h5" 4096 "$shard" "${build_args[@]}" --out "$work/ds-full" \
  >"$work/shard-full.out" 2>&1
status=$?
((status > 0 && status < 128)) || fail "nf-shard build on a full disk exited with $status, not an error code"
expect_failure "$work/shard-full.out" "No space left on device" "shard '$work/ds-full/train-00001.h5' was not written" \
  "free on the filesystem of '$work/ds-full', and this write needs"
leftovers=$(find "$work/ds-full" -name '*.tmp.*' -o -name 'manifest.json')
[[ -z $leftovers ]] || fail "nf-shard left behind: $leftovers"
[[ -f $work/ds-full/train-00000.h5 ]] || fail "the first, complete shard is gone"
echo "ENOSPC in nf-shard: $(grep -m1 -o "hint: .*" "$work/shard-full.out")"

faulty EACCES "$work/ds-denied" 0 "$shard" "${build_args[@]}" --out "$work/ds-denied" >"$work/shard-denied.out" 2>&1 &&
  fail "nf-shard build finished in a directory it may not write"
expect_failure "$work/shard-denied.out" "$work/ds-denied" "Permission denied" "is not writable"
[[ ! -e $work/ds-denied ]] || fail "nf-shard made $work/ds-denied although it was refused"
echo "PASS"
