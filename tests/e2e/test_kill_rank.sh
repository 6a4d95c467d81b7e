#!/usr/bin/env bash
# The kill test (issue #5): SIGKILL one of 8 nf-train ranks mid-training on the (2,2,2) mesh. Every
# rank is gone within parallel.collective_timeout_s, the job's exit code is non-zero, and no rank is
# left running. Done twice: the killed rank is a middle one (rank 5), then rank 0.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
on_exit 'pkill -9 -f "$work/runs" 2>/dev/null'  # the ranks a failed check leaves running
timeout_s=10

genesis_bytes "$work/data"

for victim in 5 0; do
  name=kill$victim
  "$MPIEXEC" -n 8 --oversubscribe "$train" --config "$source/configs/tiny.yaml" --data.train_path "$work/data" \
    --output.dir "$work/runs" --output.name "$name" --model.vocab_size 260 --model.d_model 64 --model.n_layers 4 \
    --model.n_heads 4 --model.n_kv_heads 2 --model.max_seq_len 64 --training.seq_len 32 \
    --training.micro_batch_size 1 --training.global_batch_size 8 --training.max_steps 100000 \
    --training.log_interval 1 --checkpoint.save_interval 0 --parallel.tp 2 --parallel.pp 2 \
    --parallel.collective_timeout_s $timeout_s >"$work/$name.out" 2>&1 &
  mpirun_pid=$!
  wait_for_steps "$work/runs/$name/metrics.jsonl" 3 30 || { cat "$work/$name.out"; fail "no training steps"; }
  # Each rank's world rank is in its environment (OMPI_COMM_WORLD_RANK).
  pid=
  for p in $(pgrep -f -- "--output.name $name"); do
    [[ $p == "$mpirun_pid" ]] && continue
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$victim"; then pid=$p; fi
  done
  [[ -n $pid ]] || fail "rank $victim's process not found"
  start=$(date +%s.%N)
  kill -9 "$pid"
  wait $mpirun_pid
  code=$?
  elapsed=$("$py" -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$start")
  [[ $code -ne 0 ]] || { cat "$work/$name.out"; fail "rank $victim killed: the job exited 0"; }
  "$py" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$elapsed" $timeout_s ||
    fail "rank $victim killed: the job took ${elapsed}s to end (timeout ${timeout_s}s)"
  sleep 0.5
  ! pgrep -f -- "--output.name $name" >/dev/null || fail "rank $victim killed: ranks left running"
  tail -4 "$work/$name.out"
  echo "PASS: SIGKILL of rank $victim of 8 ended the job in ${elapsed}s with exit code $code"
done
