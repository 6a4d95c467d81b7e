#!/usr/bin/env bash
# The harness's hang protection: runs the deliberately hanging MPI test (label hang-selftest,
# excluded from normal runs) through CTest and checks that it FAILS by timeout, quickly, and
# leaves no rank behind.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
start=$(date +%s)
output=$(ctest --test-dir "$build" -L hang-selftest --output-on-failure 2>&1)
code=$?
elapsed=$(($(date +%s) - start))
echo "$output" | tail -20
[[ $code -ne 0 ]] || fail "the hanging test passed"
grep -Eq 'nf_harness_hang \.+\*+Timeout' <<<"$output" || fail "CTest did not report a timeout"
[[ $elapsed -le 60 ]] || fail "the hang took ${elapsed}s to fail"
sleep 1
! pgrep -f "tests/fault_probe hang" >/dev/null || fail "hung ranks were left running"
echo "PASS: the hanging test failed by timeout after ${elapsed}s and no rank was left"
