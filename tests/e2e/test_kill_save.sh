#!/usr/bin/env bash
# Saves cut short (issue #6): nf-train saving every step, SIGKILLed at random moments, 6 times at
# one rank, 4 times at (dp,tp,pp) = (2,2,1) ZeRO 1 and 3 times at (2,2,1) ZeRO 1 saving consolidated
# checkpoints (checkpoint.consolidate; every rank killed at once, as when a node dies). After each kill `latest` names a complete checkpoint whose files all match their SHA-256
# and nothing half-written looks complete (check_checkpoints.py); the next launch with
# --resume auto resumes from `latest`. Then, at 4 ranks: one rank's truncated file of the newest
# checkpoint makes every rank fall back to the one before; and a checkpoint of another model
# stops --resume auto with exit 4 naming the key instead of falling back.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"
# Wider (3.4M parameters: 40 MB of model and moments), so that saves take most of a step.
common+=(--model.d_model 256 --training.seq_len 16 --training.micro_batch_size 2 --training.global_batch_size 4
  --training.max_steps 100000 --training.eval_interval 0 --checkpoint.save_interval 1 --checkpoint.keep_last 3
  --resume auto)

# launch NAME RANKS FLAGS...: starts NAME in the background, appending to $work/NAME.out; $pid is
# nf-train (one rank) or mpirun.
launch() {
  local name=$1 ranks=$2
  shift 2
  if [[ $ranks -eq 1 ]]; then
    "$train" "${common[@]}" --output.name "$name" "$@" >>"$work/$name.out" 2>&1 &
  else
    "$MPIEXEC" -n "$ranks" --oversubscribe "$train" "${common[@]}" --output.name "$name" "$@" >>"$work/$name.out" 2>&1 &
  fi
  pid=$!
}

# trial NAME RANKS FLAGS...: launch, let it save a few checkpoints, SIGKILL every rank after a random
# delay, check the checkpoints, and that this launch resumed from the previous trial's `latest`.
mid_save=0
trial() {
  local name=$1 ranks=$2 before=${latest_step:-}
  shift 2
  echo "=== trial" >>"$work/$name.out"
  launch "$name" "$ranks" "$@"
  local saves
  for _ in $(seq 1 600); do
    saves=$(sed -n '/^=== trial/h; /checkpoint step_[0-9]*: blocked/H; ${x;p}' "$work/$name.out" | grep -c 'blocked')
    [[ $saves -ge 2 ]] && break
    kill -0 $pid 2>/dev/null || { tail -20 "$work/$name.out"; fail "$name ended before it was killed"; }
    sleep 0.1
  done
  local delay=$((RANDOM % 1500))
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  if [[ $ranks -eq 1 ]]; then kill -KILL $pid; else kill -KILL $(pgrep -P $pid) 2>/dev/null; fi
  wait $pid 2>/dev/null
  read -r latest complete leftovers < <($py "$source/tests/e2e/check_checkpoints.py" "$work/runs/$name/checkpoints") ||
    fail "$name: the checkpoints after the kill are not consistent"
  [[ $leftovers != - ]] && mid_save=$((mid_save + 1))
  printf '%-6s killed %4d ms after its 2nd save: latest %-8s %d complete, leftovers %s\n' \
    "$name" "$delay" "$latest" "$complete" "$leftovers"
  if [[ -n $before ]]; then
    grep -q "resumed from .*/$before at step ${before#step_}" "$work/$name.out" || fail "$name did not resume from $before"
  fi
  latest_step=$latest
}

for _ in 1 2 3 4 5 6; do trial single 1; done
latest_step=
for _ in 1 2 3 4; do trial mesh 4 --parallel.tp 2 --parallel.zero 1; done
latest_step=
for _ in 1 2 3; do trial whole 4 --parallel.tp 2 --parallel.zero 1 --checkpoint.consolidate true; done
echo "PASS: 13 SIGKILLs while saving every step ($mid_save cut a save short) left a complete, verified latest; each launch resumed from it"

# The final launch of each run resumes and finishes.
for name in single mesh; do
  ranks=1 flags=()
  [[ $name == mesh ]] && ranks=4 flags=(--parallel.tp 2 --parallel.zero 1)
  saved=$(cat "$work/runs/$name/checkpoints/latest")
  launch "$name" "$ranks" "${flags[@]}" --training.max_steps $((${saved#step_} + 1))
  wait $pid || { tail -20 "$work/$name.out"; fail "$name: the resume after the last kill failed"; }
  grep -q "resumed from .*/$saved at step ${saved#step_}" "$work/$name.out" || fail "$name did not resume from $saved"
done
echo "PASS: both runs resumed from their latest checkpoint after the last kill and finished"

# One rank's damaged file: every rank skips the newest checkpoint and resumes from the one before.
checkpoints=$work/runs/mesh/checkpoints
newest=$(cat "$checkpoints/latest")
previous=$(ls "$checkpoints" | grep -E '^step_[0-9]+$' | sort -t_ -k2 -n | tail -2 | head -1)
truncate -s 5000 "$checkpoints/$newest/optim-tp1-pp0-dp1.safetensors"
: >"$work/fallback.out"
"$MPIEXEC" -n 4 --oversubscribe "$train" "${common[@]}" --output.name mesh --parallel.tp 2 --parallel.zero 1 \
  --training.max_steps $((${previous#step_} + 1)) >"$work/fallback.out" 2>&1 || { tail -20 "$work/fallback.out"; fail "fallback"; }
grep -q "skipping checkpoint .*$newest: .*optim-tp1-pp0-dp1.safetensors' does not match its SHA-256" "$work/fallback.out" ||
  fail "no damaged-checkpoint warning from the rank that reads the file"
[[ $(grep -c "WARN skipping checkpoint .*$newest" "$work/fallback.out") -eq 4 ]] || fail "not every rank skipped $newest"
grep -q "resumed from .*/$previous at step ${previous#step_}" "$work/fallback.out" || fail "did not fall back to $previous"
echo "PASS: a truncated file of one rank in $newest: all 4 ranks fell back to $previous"

# Another model under --resume auto: exit 4 naming the key, no fallback to an older checkpoint.
"$train" "${common[@]}" --output.name single --model.n_layers 2 >"$work/other.out" 2>&1
code=$?
[[ $code -eq 4 ]] && grep -q "was trained with model.n_layers = 4 but this job has model.n_layers = 2" "$work/other.out" ||
  { tail -5 "$work/other.out"; fail "resume auto of another model: exit $code"; }
grep -q "skipping checkpoint" "$work/other.out" && fail "a checkpoint of another model was skipped like a damaged one"
echo "PASS: --resume auto with a checkpoint of another model stops with exit 4 naming model.n_layers"
