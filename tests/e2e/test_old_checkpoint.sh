#!/usr/bin/env bash
# Checkpoints written before the checkpoint code became its own layer still load (issue #16):
# tests/data/checkpoints/format_v1/step_4 was saved by nf-train of main at c9be288 (tp 2 x dp 2,
# ZeRO 1, a vocabulary of 261 that tp pads to 262), beside the metrics of that uninterrupted 8-step
# run (tests/data/checkpoints/README.md has the command). Today's nf-train resumes it
#  - at its own layout (its files as saved): steps 5..8 and the step-8 validation loss as the old
#    run had them, within 1e-5 relative (gradient norms 1e-3, as in test_layouts.sh);
#  - at one rank, ZeRO 0 (resharded): the same;
#  - after nf-ckpt consolidate, at one rank: the same;
# and its step_8 meta.json holds the keys of the old one. nf-ckpt inspect verifies it and
# export-hf exports its 20 tensors.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"
fixture=$source/tests/data/checkpoints/format_v1
cp -r "$fixture/step_4" "$work/old_step_4"
losses "$fixture/uninterrupted_metrics.jsonl" >"$work/uninterrupted.losses"

# The fixture's model and schedule (after tiny_model.sh's flags, so these win).
old=(--model.vocab_size 261 --model.d_model 32 --model.n_layers 2 --training.max_steps 8
  --training.eval_interval 4 --checkpoint.save_interval 4 --checkpoint.resume "$work/old_step_4")

echo "resumed from the format-v1 checkpoint   loss rel  norm rel   val rel"
run as_saved 4 "${old[@]}" --parallel.tp 2 --parallel.zero 1
grep -q "resumed from $work/old_step_4 at step 4" "$work/as_saved.out" || fail "as_saved did not resume from the fixture"
compare uninterrupted as_saved 4 || fail "resumed as saved: the losses differ from the old run's"
run one_rank 1 "${old[@]}"
grep -q "resharding $work/old_step_4 from layout dp 2, tp 2, pp 1, zero 1 to dp 1, tp 1, pp 1, zero 0" \
  "$work/one_rank.out" || fail "one_rank did not reshard the fixture"
compare uninterrupted one_rank 4 || fail "resumed at one rank: the losses differ from the old run's"

"$ckpt" consolidate "$work/old_step_4" "$work/consolidated" >"$work/consolidate.out" 2>&1 ||
  { cat "$work/consolidate.out"; fail "nf-ckpt consolidate of the fixture"; }
old[${#old[@]}-1]=$work/consolidated
run from_consolidated 1 "${old[@]}"
compare uninterrupted from_consolidated 4 || fail "resumed from its consolidation: the losses differ"

# The format did not change: the new step_8 meta.json has the old keys, and the same layout.
$py - "$work/old_step_4/meta.json" "$work/runs/as_saved/checkpoints/step_8/meta.json" <<'PY' || fail "meta.json changed"
import json, sys
old, new = (json.load(open(path)) for path in sys.argv[1:])
assert sorted(old) == sorted(new), (sorted(old), sorted(new))
assert sorted(old["loader"]) == sorted(new["loader"])
assert old["layout"] == new["layout"], (old["layout"], new["layout"])
PY

"$ckpt" inspect "$work/old_step_4" >"$work/inspect.out" 2>&1 || { cat "$work/inspect.out"; fail "nf-ckpt inspect"; }
grep -q "step 4, layout dp 2, tp 2, pp 1, zero 1" "$work/inspect.out" &&
  grep -q "consumed_samples" "$work/inspect.out" &&
  grep -q "6 files, .* every file matches meta.json" "$work/inspect.out" || { cat "$work/inspect.out"; fail "inspect"; }
"$ckpt" export-hf "$work/old_step_4" "$work/hf" >"$work/export.out" 2>&1 || { cat "$work/export.out"; fail "export"; }
grep -q "exported 20 tensors" "$work/export.out" || { cat "$work/export.out"; fail "export-hf of the fixture"; }
echo "ok: the format-v1 checkpoint resumes, consolidates, inspects and exports"
