#!/usr/bin/env bash
# One rank throws while the others wait in a collective: the whole job must end promptly, with
# a non-zero exit code and the failing rank's message on one line.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
start=$(date +%s)
output=$("$MPIEXEC" -n 4 --oversubscribe "$build/tests/fault_probe" throw 2 2>&1)
code=$?
elapsed=$(($(date +%s) - start))
echo "$output"
[[ $code -ne 0 ]] || fail "job exited 0 although rank 2 failed"
[[ $elapsed -le 20 ]] || fail "job took ${elapsed}s to end after the failure"
grep -q '^\[rank 2/4\] fault_probe: data error: injected failure at offset 42$' <<<"$output" || fail "no error line from rank 2"
grep -q '^  hint: nothing to fix: this is a test$' <<<"$output" || fail "no hint line"
! pgrep -f "tests/fault_probe throw" >/dev/null || fail "ranks left running"
echo "PASS: rank failure ended the job in ${elapsed}s with exit code $code"
