#!/usr/bin/env bash
# The collective watchdog: a rank that stalls or is SIGKILLed mid-run ends the whole job within
# the timeout, non-zero, and a stall is named (operation, axis, rank) by the ranks left waiting.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
for mode in stall kill; do
  start=$(date +%s)
  output=$("$MPIEXEC" -n 4 --oversubscribe "$build/tests/stall_probe" "$mode" 1 2>&1)
  code=$?
  elapsed=$(($(date +%s) - start))
  echo "$output" | head -8
  [[ $code -ne 0 ]] || fail "$mode: job exited 0"
  [[ $elapsed -le 15 ]] || fail "$mode: job took ${elapsed}s to end"
  if [[ $mode == stall ]]; then
    [[ $code -eq 5 ]] || fail "stall: exit code $code, expected 5 (distributed error)"
    grep -Eq '^\[rank [023]/4\] stall_probe: distributed error: all_reduce on axis world \(rank [023] of 4, world rank [023]\) did not complete within 2.0 s: a peer rank died or stalled$' <<<"$output" ||
      fail "stall: no watchdog message"
  fi
  sleep 1
  ! pgrep -f "tests/stall_probe $mode" >/dev/null || fail "$mode: ranks left running"
  echo "PASS: $mode of rank 1 ended the job in ${elapsed}s with exit code $code"
done
