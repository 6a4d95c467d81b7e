#!/usr/bin/env bash
# The scaling suite (scripts/bench/scaling.sh, docs/scaling.md) end to end on configs/bench/ci_tiny.yaml
# (a 2-layer model, 1-4 ranks, every kind of point):
#  - `run` measures every point; nf-train refuses the layouts this model cannot take (tp 4 with 2 kv
#    heads, pp 4 with 2 layers), which are recorded as invalid with nf's reason;
#  - results.jsonl has the schema (commit, machine, versions, environment, raw per-step times,
#    derived figures, the planner's prediction on nf points), the CSVs one row per record;
#  - report.md has its tables, every plot is a valid PNG whose index lists the expected series,
#    and the colour of every listed series is drawn in it;
#  - after losing the last records the report names them, and a re-run measures exactly those
#    again and skips the rest;
#  - two result sets compare in one report; a bad sweep file fails naming the file and the key.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
suite=$source/scripts/bench/scaling.sh
export NF_BUILD_DIR=$build
results=$work/results

"$suite" run "$source/configs/bench/ci_tiny.yaml" --out "$results" >"$work/run1.log" 2>&1 ||
  { cat "$work/run1.log"; fail "the sweep failed"; }
cat "$work/run1.log"
points=$(grep -c '^\[' "$work/run1.log")
[[ $(wc -l <"$results/results.jsonl") -eq $points ]] || fail "results.jsonl does not hold one line per point ($points)"

"$py" "$source/tests/bench/check_scaling_results.py" "$results" || fail "the results, CSVs, report or plots are wrong"

# A preempted sweep: the last two records lost. The report names them; the re-run measures exactly those two.
head -n $((points - 2)) "$results/results.jsonl" >"$work/kept.jsonl"
cp "$work/kept.jsonl" "$results/results.jsonl"
"$suite" report "$results" >"$work/report0.log" 2>&1 || { cat "$work/report0.log"; fail "report failed"; }
[[ $(grep -c '| no record | not measured yet' "$results/report.md") -eq 2 ]] ||
  fail "the report does not name the 2 points without a record"
"$suite" run "$source/configs/bench/ci_tiny.yaml" --out "$results" >"$work/run2.log" 2>&1 ||
  { cat "$work/run2.log"; fail "the re-run failed"; }
skipped=$(grep -c 'measured already' "$work/run2.log")
[[ $skipped -eq $((points - 2)) ]] || { cat "$work/run2.log"; fail "the re-run skipped $skipped points, expected $((points - 2))"; }
[[ $(wc -l <"$results/results.jsonl") -eq $points ]] || fail "the re-run did not append exactly the 2 missing points"
cmp -s <(head -n $((points - 2)) "$results/results.jsonl") "$work/kept.jsonl" || fail "the re-run changed measured records"
echo "PASS: a re-run measured the 2 lost points and skipped the $skipped others"

# Two result sets in one report.
cp -r "$results" "$work/other"
"$suite" report "$work/other" --against "$results" --labels before after >"$work/report.log" 2>&1 ||
  { cat "$work/report.log"; fail "report --against failed"; }
grep -q '^## after against before' "$work/other/report.md" || fail "the compared report has no comparison table"
"$py" "$source/tests/bench/check_scaling_results.py" "$work/other" --compared || fail "the compared report's plots are wrong"
echo "PASS: two result sets compared in one report"

# A sweep file with a bad layout: the error names the file, the key and the fix.
sed 's/layouts: \[dp, tp, pp, mixed, auto\]/layouts: [dp, dq]/' "$source/configs/bench/ci_tiny.yaml" >"$work/bad.yaml"
out=$("$suite" list "$work/bad.yaml" 2>&1) && fail "a bad layout was accepted"
[[ $out == *"$work/bad.yaml: 'train.layouts' holds 'dq'; use dp, tp, pp, mixed, auto"* ]] ||
  fail "unexpected error for a bad layout: $out"
echo "PASS: a bad sweep file: $out"
