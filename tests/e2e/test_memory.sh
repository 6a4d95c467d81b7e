#!/usr/bin/env bash
# Memory (issue #17) on the tiny 4-layer model of tiny_model.sh (fp32 on the CPU, 20 steps):
#  - activation recomputation (training.recompute selective | full, full every 2nd block) gives
#    the same losses and gradient norms as none, bit for bit, on one rank, on tp 2 with sequence
#    parallelism (selective) and on pp 2 (full), and every one of them matches the single rank;
#  - ZeRO 3 on dp 2, dp 2 x tp 2, dp 2 x pp 2 (1F1B, with full recompute), the (2,2,2) mesh and with
#    tied embeddings reproduces the single-rank losses (1e-5); the (2,2,2) ZeRO 3 run resumed from
#    its step-10 checkpoint reproduces steps 11-20 bit for bit; it reshards to (1,1,1) ZeRO 0 and
#    the single rank's checkpoint to (2,2,2) ZeRO 3, both matching the uninterrupted run; a dp 2
#    ZeRO 3 run's consolidated saves resume on one rank;
#  - the measured peak per rank (metrics.jsonl) falls from ZeRO 0 to 1 to 3 at dp 4 and with full
#    recomputation, and the planner's prediction is recorded beside it;
#  - --dry-run prints the planner's table, and --dry-run.json the same plan and ranked layouts as
#    JSON; a memory limit the config cannot fit stops nf-train before training with the table and
#    the keys that would make it fit.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/e2e/tiny_model.sh
source "$(dirname "${BASH_SOURCE[0]}")/tiny_model.sh"

failures=0
# same A B: A's and B's records are identical to the bit.
same() { diff -q "$work/$1.losses" "$work/$2.losses" >/dev/null || { echo "$2 differs from $1"; return 1; }; }

run single 1
printf '%-32s %9s %9s %9s\n' "run" "loss" "grad_norm" "val_loss"
run selective 1 --training.recompute selective
run full 1 --training.recompute full
run full_every2 1 --training.recompute full --training.recompute_interval 2
grep -q 'activation recomputation: full (every 2th block)' "$work/full_every2.out" || fail "no recompute log line"
for name in selective full full_every2; do same single "$name" || failures=$((failures + 1)); done
run tp2_sp 2 --parallel.tp 2 --parallel.sequence_parallel true
run tp2_sp_selective 2 --parallel.tp 2 --parallel.sequence_parallel true --training.recompute selective
run pp2 2 --parallel.pp 2
run pp2_full 2 --parallel.pp 2 --training.recompute full
same tp2_sp tp2_sp_selective || failures=$((failures + 1))
same pp2 pp2_full || failures=$((failures + 1))
compare single tp2_sp_selective || failures=$((failures + 1))
compare single pp2_full || failures=$((failures + 1))
[[ $failures -eq 0 ]] || fail "$failures recomputed runs differ"
echo "PASS: selective and full recomputation reproduce the runs without it bit for bit (1 rank, tp 2 + SP, pp 2)"

run zero3_dp2 2 --parallel.zero 3
run zero3_dp2_tp2 4 --parallel.zero 3 --parallel.tp 2
run zero3_dp2_pp2_full 4 --parallel.zero 3 --parallel.pp 2 --parallel.pp_schedule 1f1b --training.recompute full
run zero3_mesh 8 --parallel.zero 3 --parallel.tp 2 --parallel.pp 2
grep -q 'ZeRO 3, ' "$work/zero3_mesh.out" || fail "the (2,2,2) run does not say ZeRO 3"
for name in zero3_dp2 zero3_dp2_tp2 zero3_dp2_pp2_full zero3_mesh; do
  compare single "$name" || failures=$((failures + 1))
done
run tied 1 --model.tie_embeddings true
run zero3_tied_dp2_pp2 4 --parallel.zero 3 --parallel.pp 2 --model.tie_embeddings true
compare tied zero3_tied_dp2_pp2 || failures=$((failures + 1))
[[ $failures -eq 0 ]] || fail "$failures ZeRO 3 layouts differ from the single rank"
echo "PASS: ZeRO 3 on dp 2, dp 2 x tp 2, dp 2 x pp 2 (full recompute), (2,2,2) and tied embeddings match one rank"

mesh=(--parallel.zero 3 --parallel.tp 2 --parallel.pp 2)
cp -r "$work/runs/zero3_mesh" "$work/runs/zero3_resumed"
rm -r "$work/runs/zero3_resumed/checkpoints/step_20"
echo step_10 >"$work/runs/zero3_resumed/checkpoints/latest"
run zero3_resumed 8 "${mesh[@]}" --resume auto
grep -q 'resumed from .*step_10 at step 10' "$work/zero3_resumed.out" || fail "did not resume from step 10"
same zero3_mesh zero3_resumed || fail "the resumed (2,2,2) ZeRO 3 run differs from the uninterrupted one"
run to_single 1 --resume "$work/runs/zero3_mesh/checkpoints/step_10"
grep -q 'resharding .* from layout dp 2, tp 2, pp 2, zero 3 to ' "$work/to_single.out" || fail "no resharding to one rank"
compare single to_single 10 || fail "(2,2,2) ZeRO 3 -> (1,1,1) ZeRO 0 differs"
run to_zero3 8 "${mesh[@]}" --resume "$work/runs/single/checkpoints/step_10"
grep -q 'resharding .* to dp 2, tp 2, pp 2, zero 3' "$work/to_zero3.out" || fail "no resharding to ZeRO 3"
compare single to_zero3 10 || fail "(1,1,1) ZeRO 0 -> (2,2,2) ZeRO 3 differs"
# A consolidated save of a ZeRO 3 run (gathered at save time) resumes on one rank like the run.
run zero3_consolidated 2 --parallel.zero 3 --checkpoint.consolidate true
compare zero3_dp2 zero3_consolidated || fail "checkpoint.consolidate changed a ZeRO 3 run"
run consolidated_to_single 1 --resume "$work/runs/zero3_consolidated/checkpoints/step_10"
compare single consolidated_to_single 10 || fail "the consolidated ZeRO 3 checkpoint resumed on one rank differs"
echo "PASS: a (2,2,2) ZeRO 3 checkpoint resumes bit for bit and reshards to and from one rank; consolidated saves too"

# Measured peaks: a wider model at dp 4, so that the parameter and optimizer memory dominates.
wide=(--model.d_model 256 --model.n_layers 4 --training.seq_len 64 --training.micro_batch_size 2
  --training.max_steps 2 --training.eval_interval 0 --checkpoint.save_interval 0 --parallel.bucket_mb 1)
peak() { $py -c 'import json, sys
records = [json.loads(line) for line in open(sys.argv[1]) if "peak_tensor_bytes" in line]
assert records and len(records[-1]["predicted_peak_bytes"]) == int(sys.argv[2]), records
print(int(max(records[-1]["peak_tensor_bytes"])))' "$work/runs/$1/metrics.jsonl" "$2"; }
for zero in 0 1 3; do run "peak_zero$zero" 4 "${wide[@]}" --parallel.zero "$zero"; done
run peak_full 4 "${wide[@]}" --parallel.zero 3 --training.recompute full
z0=$(peak peak_zero0 4) z1=$(peak peak_zero1 4) z3=$(peak peak_zero3 4) full=$(peak peak_full 4) ||
  fail "no memory record in metrics.jsonl"
echo "peak tensor memory per rank at dp 4: ZeRO 0 $z0, ZeRO 1 $z1, ZeRO 3 $z3, ZeRO 3 + full recompute $full bytes"
((z1 < z0 && z3 < z1 && full < z3)) || fail "the measured peak does not fall with the ZeRO stage and recomputation"
grep -q 'peak memory per rank (tensors / process RSS; planner' "$work/peak_zero3.out" || fail "no peak memory log line"
echo "PASS: the measured peak per rank falls from ZeRO 0 to 1 to 3 and with full recomputation"

"$MPIEXEC" -n 4 --oversubscribe "$train" "${common[@]}" --output.name plan --parallel.zero 3 --dry-run \
  --dry-run.memory 8GB --dry-run.layouts all --dry-run.json "$work/plan/plan.json" >"$work/plan.out" 2>&1 ||
  { cat "$work/plan.out"; fail "--dry-run"; }
grep -q 'Memory per rank' "$work/plan.out" && grep -q 'fits' "$work/plan.out" || { cat "$work/plan.out"; fail "no plan"; }
[[ ! -e $work/runs/plan/metrics.jsonl ]] || fail "--dry-run trained"
# Without a limit: the node's memory shared by the 4 ranks on it (/proc/meminfo, JobContext::local_size).
"$MPIEXEC" -n 4 --oversubscribe "$train" "${common[@]}" --output.name plan --dry-run \
  --dry-run.json "$work/plan/plan_node.json" >"$work/plan_node.out" 2>&1 ||
  { cat "$work/plan_node.out"; fail "--dry-run without a limit"; }
grep -Eq "against [0-9.]+ GiB \(the node's memory / 4 ranks\)" "$work/plan_node.out" ||
  { cat "$work/plan_node.out"; fail "the default limit is not the node's memory over its 4 ranks"; }
# --dry-run.json: the printed plan and layouts table, as JSON (only the two files: written atomically).
[[ $(ls "$work/plan") == $'plan.json\nplan_node.json' ]] || { ls -a "$work/plan"; fail "--dry-run.json left other files"; }
"$py" - "$work/plan.out" "$work/plan/plan.json" "$work/plan/plan_node.json" <<'PY' || fail "--dry-run.json differs from the printed plan"
import json, math, re, sys
text = open(sys.argv[1]).read()
run, node = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
assert list(run) == ["world_size", "plan", "limit_bytes", "limit_source", "fits", "layouts"], list(run)
assert [run["world_size"], run["limit_bytes"], run["limit_source"], run["fits"]] == [4, 8 * 10**9, "--dry-run.memory", True], run
assert "layouts" not in node and node["limit_source"] == "the node's memory / 4 ranks", node

def check(plan):
    step = plan["step"]
    parts = step["compute_s"] + step["dp_comm_s"] + step["tp_comm_s"] + step["pp_comm_s"] + step["bubble_s"]
    assert math.isclose(step["total_s"], parts, rel_tol=1e-12), step
    assert len(plan["stages"]) == plan["pp"], plan
    for s in plan["stages"]:
        states = s["parameters"] + s["gradients"] + s["optimizer"] + s["master"]
        assert s["total"] == states + max(s["activations"] + s["comm_buffers"], s["step_transient"]), s
    assert plan["peak_bytes"] == max(s["total"] for s in plan["stages"]), plan
    assert plan["keys"] == (f"--parallel.dp {plan['dp']} --parallel.tp {plan['tp']} --parallel.pp {plan['pp']} "
                            f"--parallel.zero {plan['zero']} --training.recompute {plan['recompute']}"), plan

# The plan as printed: "Plan: tp 1 x pp 1 x dp 4, parallel.zero 3, training.recompute none, ..."
tp, pp, dp, zero, recompute = re.search(r"Plan: tp (\d+) x pp (\d+) x dp (\d+), parallel.zero (\d+), "
                                        r"training.recompute (\w+)", text).groups()
plan = run["plan"]
assert [plan["tp"], plan["pp"], plan["dp"], plan["zero"], plan["recompute"]] == [1, 1, 4, 3, "none"], plan
assert [str(plan[k]) for k in ("tp", "pp", "dp", "zero", "recompute")] == [tp, pp, dp, zero, recompute], plan
check(plan)
# The layouts as printed ("#  dp  tp  pp  zero  recompute  peak memory  step time  keys"), in the same order.
table = text[text.index("fastest first:"):].splitlines()[2:]
rows = [re.match(r"\s*\d+\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\w+)\s.*?(--parallel.*)$", line).groups()
        for line in table if line.strip()]
layouts = run["layouts"]
assert len(layouts) == len(rows) > 1, (len(layouts), len(rows))
for layout, row in zip(layouts, rows):
    check(layout)
    assert (str(layout["dp"]), str(layout["tp"]), str(layout["pp"]), str(layout["zero"]), layout["recompute"],
            layout["keys"]) == row, (layout["keys"], row)
totals = [layout["step"]["total_s"] for layout in layouts]
assert totals == sorted(totals), totals
print(f"--dry-run.json: the plan and {len(layouts)} layouts as printed, fastest first")
PY
"$MPIEXEC" -n 4 --oversubscribe "$train" "${common[@]}" "${wide[@]}" --output.name too_small \
  --training.memory_limit 10MB >"$work/too_small.out" 2>&1 && fail "a run that cannot fit in 10MB trained"
grep -q 'does NOT fit' "$work/too_small.out" && grep -Eq 'parallel.zero 3|training.recompute full' "$work/too_small.out" ||
  { cat "$work/too_small.out"; fail "the error lacks the planner's table or the keys that fit"; }
[[ ! -e $work/runs/too_small/metrics.jsonl ]] || fail "the run that does not fit started training"
echo "PASS: --dry-run plans (--dry-run.json too); a config over training.memory_limit stops before training, saying what would fit"
