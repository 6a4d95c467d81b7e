#!/usr/bin/env bash
# Smoke test of scripts/bench_train.sh --quick (label bench, outside the default suite): the
# benchmark runs nf-train and the PyTorch loop on the tiny preset, checks that both count the same
# FLOPs per token, and prints the table with positive throughputs and a ratio.
set -uo pipefail
build=$1 source=$2
fail() { echo "FAIL: $*"; exit 1; }
out=$(bash "$source/scripts/bench_train.sh" --quick --build "$build" 2>&1)
code=$?
[[ $code -eq 0 ]] || { echo "$out"; fail "bench_train.sh --quick exited $code"; }
echo "$out"
grep -Eq '^\| tokens/s \(best round\) \| [0-9,]+ \| [0-9,]+ \|$' <<<"$out" || fail "no tokens/s row"
grep -Eq '^\| % of matmul peak .* \| [0-9.]+% \| [0-9.]+% \|$' <<<"$out" || fail "no % of matmul peak row"
ratio=$(sed -n 's/^ratio nf\/torch (tokens\/s): \([0-9.]*\) (best rounds).*$/\1/p' <<<"$out")
[[ -n $ratio ]] || fail "no ratio line"
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)" "$ratio" || fail "ratio $ratio is not positive"
echo "PASS: bench_train.sh --quick printed the table and ratio $ratio"
