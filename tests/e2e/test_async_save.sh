#!/usr/bin/env bash
# Background saves (checkpoint.async, issue #6), on the tiny 4-layer model of tiny_model.sh:
#  - at one rank and at (dp,tp,pp) = (2,2,1) ZeRO 1, an async run saving every 5 steps writes
#    checkpoints byte-identical to the sync run's (every tensor file and meta.json), and logs
#    "checkpoint step_N: blocked X s, written in Y s (Z GB/s, in the background)";
#  - resumed from its step-10 checkpoint, the async run continues the sync run bit for bit;
#  - preemption (SIGUSR1) at 4 ranks while async saves are in flight (one every step): exit 75 and
#    a complete, verified `latest` at the step it stopped.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"
common+=(--checkpoint.save_interval 5)

# same_checkpoints A B: the step directories of runs A and B hold the same bytes (config.yaml aside:
# it records checkpoint.async).
same_checkpoints() {
  local a=$work/runs/$1/checkpoints b=$work/runs/$2/checkpoints
  [[ $(ls "$a") == "$(ls "$b")" ]] || fail "$1 and $2 saved other step directories"
  for dir in "$a"/step_*; do
    for file in "$dir"/*; do
      [[ ${file##*/} == config.yaml ]] && continue
      cmp -s "$file" "$b/${dir##*/}/${file##*/}" || fail "$2: ${dir##*/}/${file##*/} differs from $1's"
    done
  done
}

for layout in "1" "4 --parallel.tp 2 --parallel.zero 1"; do
  read -r ranks flags <<<"$layout"
  # shellcheck disable=SC2086
  run "sync$ranks" "$ranks" --checkpoint.async false $flags
  # shellcheck disable=SC2086
  run "async$ranks" "$ranks" --checkpoint.async true $flags
  same_checkpoints "sync$ranks" "async$ranks"
  grep -q 'checkpoint step_20: blocked [0-9.]* s, written in [0-9.]* s ([0-9.]* GB/s, in the background)' \
    "$work/async$ranks.out" || fail "async$ranks: no background save line"
  grep 'checkpoint step_' "$work/async$ranks.out" | sed 's/.*INFO /  async: /' | head -2
  grep 'checkpoint step_' "$work/sync$ranks.out" | sed 's/.*INFO /  sync:  /' | head -2
done
echo "PASS: async saves at 1 and 4 ranks are byte-identical to sync saves"

mkdir -p "$work/runs/resumed/checkpoints"
cp -r "$work/runs/async1/checkpoints/step_10" "$work/runs/resumed/checkpoints/"
run resumed 1 --checkpoint.async true --resume "$work/runs/resumed/checkpoints/step_10"
$py - "$work/sync1.losses" "$work/resumed.losses" <<'PY' || fail "the resumed run differs from the sync run"
import sys
def after10(path):
    return [l for l in open(path) if int(l.split()[1] if l.startswith("val") else l.split()[0]) > 10]
sys.exit(0 if after10(sys.argv[1]) == after10(sys.argv[2]) else 1)
PY
echo "PASS: resumed from an async step-10 checkpoint, steps 11-20 equal the sync run bit for bit"

"$MPIEXEC" -n 4 --oversubscribe "$build/src/nf-train" "${common[@]}" --output.name preempt --parallel.tp 2 \
  --parallel.zero 1 --checkpoint.async true --checkpoint.save_interval 1 --training.max_steps 100000 \
  >"$work/preempt.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [[ $(grep -c 'checkpoint step_' "$work/preempt.out") -ge 3 ]] && break
  sleep 0.1
done
kill -USR1 $pid  # mpirun forwards SIGUSR1 to every rank (it answers SIGTERM by killing them)
wait $pid
code=$?
[[ $code -eq 75 ]] || { tail -20 "$work/preempt.out"; fail "preempted async run exited $code, expected 75"; }
read -r latest complete leftovers < <($py "$source/tests/e2e/check_checkpoints.py" "$work/runs/preempt/checkpoints") ||
  fail "checkpoints after the preemption"
grep -q "preempted by a signal at step ${latest#step_}" "$work/preempt.out" || fail "latest $latest is not the preemption's"
[[ $leftovers == - ]] || fail "the preempted run left $leftovers"
echo "PASS: SIGUSR1 with async saves in flight: exit 75, latest $latest complete and verified"
