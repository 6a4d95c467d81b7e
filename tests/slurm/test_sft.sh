#!/usr/bin/env bash
# jobs/sft.slurm on a real local Slurm, submitted from the checkout as a user does it: the default
# config configs/sft_tiny.yaml (its 40 steps, sequence length, batch sizes and learning rate; a
# tiny model for the test's 320-id tokenizer) on the sft data of scripts/prepare_stage_data.sh,
# starting from a pretraining checkpoint (training.load_from: pretrain_tiny, the run under
# output.dir: configs/pretrain_tiny.yaml's 60 steps, trained here by nf-train on 1 rank). Two 4-rank
# jobs of that run side by side:
#  - one uninterrupted: COMPLETED 0:0, its log says it loaded the pretrain run's final checkpoint,
#    metrics.jsonl has the 40 steps with finite losses that start well below a fresh model's
#    ln 320 and fall, and the final checkpoint exists;
#  - one that gets SIGUSR1 on its batch shell mid-run: nf-train saves and exits 75, the job is
#    requeued (Restarts=1), resumes from its own checkpoint (not from load_from again), and ends
#    COMPLETED with every loss, gradient norm, learning rate and validation loss equal, bit for bit,
#    to the uninterrupted job's;
#  - and beside them a third: --config configs/sft_lora_tiny.yaml, LoRA adapters on the same frozen
#    pretrain run: COMPLETED, its loss falls, and its checkpoint holds the adapters only.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stage_data
cd "$work" || fail "cd $work"
"$build/src/nf-train" --config "$source/configs/pretrain_tiny.yaml" "${stage_model[@]}" >"$work/pretrain.log" 2>&1 ||
  { tail -n 20 "$work/pretrain.log"; fail "the pretraining run"; }
[[ $(cat "$work/runs/pretrain_tiny/checkpoints/latest") == step_60 ]] || fail "the pretraining run did not end at step 60"

cd "$source" || fail "cd $source"
steps=40
submit() { sbatch --parsable --chdir="$work" jobs/sft.slurm "${stage_model[@]}" --output.name "$1"; }
full=$(submit sft_full)
preempted=$(submit sft_preempted)
lora=$(sbatch --parsable --chdir="$work" jobs/sft.slurm --config "$source/configs/sft_lora_tiny.yaml" "${stage_model[@]}" \
  --output.name sft_lora)
# The notice lands after step 5, well before step 40 (a step takes tens of milliseconds).
wait_steps "$preempted" "$work/runs/sft_preempted/metrics.jsonl" 5
scancel --batch --signal=USR1 "$preempted"
wait_jobs "$full" "$preempted" "$lora"

# 1. The uninterrupted job.
expect_job "$full" COMPLETED 0:0
[[ $(job_field "$full" Restarts) == 0 ]] || fail "the uninterrupted job was restarted"
log=$work/nf-sft-$full.out
[[ -s $log ]] || fail "no job log $log (#SBATCH --output=%x-%j.out)"
grep -q "^launch.sh: job $full restart 0 on .*/nf-train --resume auto --config $source/configs/sft_tiny.yaml " "$log" ||
  fail "$log: the job did not run nf-train with the default config configs/sft_tiny.yaml"
grep -q 'INFO layout tp 1 × pp 1 × dp 4 = 4 ranks' "$log" || fail "$log: nf-train did not run on 4 ranks"
grep -q 'INFO loaded weights from runs/pretrain_tiny/checkpoints/step_60 (training.load_from;' "$log" ||
  fail "$log: the sft run did not load the pretrain run's final checkpoint"
grep -q 'INFO data: data/sft_tiny train split (sft, chat template nf)' "$log" || fail "$log: the run did not train on data/sft_tiny"
grep -q "INFO done: $steps steps" "$log" || fail "$log: no 'done: $steps steps'"
run=$work/runs/sft_full
[[ $(cat "$run/checkpoints/latest") == step_$steps ]] || fail "$run: checkpoints/latest is not step_$steps"
for f in checkpoints/step_$steps/meta.json checkpoints/step_$steps/model-tp0-pp0.safetensors; do
  [[ -s $run/$f ]] || fail "missing $run/$f"
done
records "$run/metrics.jsonl" >"$work/full.records"
[[ $(grep -vc ' val ' "$work/full.records") -eq $steps && $(grep -c ' val ' "$work/full.records") -eq 2 ]] ||
  fail "metrics.jsonl: expected $steps training and 2 validation records"
# A fresh model starts at ln 320 = 5.77; the pretrain run's weights start lower.
loss_falls "$work/full.records" 0.05 5.0
echo "PASS: sbatch jobs/sft.slurm: configs/sft_tiny.yaml on 4 ranks from runs/pretrain_tiny/checkpoints/step_60," \
  "COMPLETED, $steps steps, loss falling, final checkpoint"

# 3. SFT with LoRA (configs/sft_lora_tiny.yaml): the adapters train, the checkpoint holds them only.
expect_job "$lora" COMPLETED 0:0
grep -q 'INFO loaded weights from runs/pretrain_tiny/checkpoints/step_60 (training.load_from;' "$work/nf-sft-$lora.out" ||
  fail "the LoRA job did not load the pretrain run's final checkpoint"
records "$work/runs/sft_lora/metrics.jsonl" >"$work/lora.records"
loss_falls "$work/lora.records" 0.05 5.0
$py - "$work/runs/sft_lora/checkpoints/step_$steps/model-tp0-pp0.safetensors" <<'PY' || fail "the LoRA job's checkpoint"
import sys
from safetensors import safe_open
names = list(safe_open(sys.argv[1], "pt").keys())
assert names and all(".lora_A." in n or ".lora_B." in n for n in names), names
PY
echo "PASS: sbatch jobs/sft.slurm --config configs/sft_lora_tiny.yaml: COMPLETED, loss falling, adapters-only checkpoint"

# 2. The preempted job.
expect_requeued "$preempted" sft_preempted "$work/nf-sft-$preempted.out" srun "$steps"
[[ $(grep -c 'INFO loaded weights from ' "$work/nf-sft-$preempted.out") -eq 1 ]] ||
  fail "the requeued run loaded training.load_from again"
records "$work/runs/sft_preempted/metrics.jsonl" >"$work/preempted.records"
diff "$work/full.records" "$work/preempted.records" || fail "the preempted run's records differ from the uninterrupted run's"
echo "PASS: sft: SIGUSR1 at step $saved, exit 75, requeued (Restarts=1), resumed from its own checkpoint;" \
  "$steps steps identical to the uninterrupted run"
