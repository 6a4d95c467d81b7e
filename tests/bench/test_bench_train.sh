#!/usr/bin/env bash
# Smoke test of scripts/bench_train.sh --quick (label bench, outside the default suite): the
# benchmark runs nf-train and the PyTorch loop, eager and compiled, on the tiny preset, checks that
# they count the same FLOPs per token, and prints the table with positive throughputs and ratios.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
out=$(bash "$source/scripts/bench_train.sh" --quick --build "$build" 2>&1)
code=$?
[[ $code -eq 0 ]] || { echo "$out"; fail "bench_train.sh --quick exited $code"; }
echo "$out"
grep -Eq '^\| tokens/s \(best round\) \| [0-9,]+ \| [0-9,]+ \| [0-9,]+ \|$' <<<"$out" || fail "no tokens/s row"
grep -Eq '^\| % of matmul peak .* \| [0-9.]+% \| [0-9.]+% \| [0-9.]+% \|$' <<<"$out" || fail "no % of matmul peak row"
for side in eager compiled; do
  ratio=$(sed -n "s/^ratio nf\/$side (tokens\/s): \([0-9.]*\) (best rounds).*$/\1/p" <<<"$out")
  [[ $ratio =~ ^[0-9]*\.[0-9]+$ && $ratio != 0.000 ]] || fail "no positive nf/$side ratio (got '$ratio')"
done
grep -Eq '^nf/best PyTorch \((eager|compiled)\): [0-9.]+ \(best rounds\)$' <<<"$out" || fail "no nf/best PyTorch line"
echo "PASS: bench_train.sh --quick printed the table and the nf/eager and nf/compiled ratios"
