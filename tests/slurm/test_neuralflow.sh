#!/usr/bin/env bash
# jobs/neuralflow.slurm on a real local Slurm, one NeuralFlow stage per job as the guide selects
# them: `--stages vqvae`, then `--stages dynamics` submitted with --dependency=afterok on it, on a
# small model and a 400-record dataset of the bundled corpus (scripts/prepare_neuralflow_data.sh).
# Both jobs end COMPLETED 0:0 on 4 ranks; the dynamics job starts from the vqvae job's final
# checkpoint (the stages: chain across jobs) and trains only the brain.
# shellcheck source=tests/lib/preamble.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/preamble.sh"
# shellcheck source=tests/slurm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$source/scripts/prepare_corpus.sh" "$work/corpus" >/dev/null || fail "prepare_corpus.sh"
"$shard" tokenizer train --vocab-size 512 --input "$work/corpus/kjv.txt" "$work/corpus/tang.txt" --out "$work/tok" \
  --threads 2 >/dev/null || fail "tokenizer train"
NF_CORPUS_DIR=$work/corpus NF_TOKENIZER=$work/tok NF_SEQUENCES_MAX=400 NF_BUILD_DIR=$build \
  "$source/scripts/prepare_neuralflow_data.sh" "$work/data" >/dev/null 2>&1 || fail "prepare_neuralflow_data.sh"
cat >"$work/nf.yaml" <<YAML
inherit: $source/configs/neuralflow.yaml
model: {vocab_size: 512, d_model: 32, n_layers: 1, n_heads: 2, n_kv_heads: 1, d_latent: 8, num_layers: 1,
        codebook_size: 16, max_paragraph_len: 24, max_paragraphs: 3, max_ponder_steps: 2, mamba_d_state: 4}
data: {train_path: $work/data/neuralflow}
training: {micro_batch_size: 1, global_batch_size: 4, max_steps: 6, warmup_steps: 1, log_interval: 1, eval_interval: 0}
output: {name: nf}
YAML
# Each entry of configs/neuralflow.yaml keeps its own max_steps and warmup: override them on the command line.
cd "$source" || fail "cd $source"
submit() { sbatch --parsable --chdir="$work" "$@"; }
vqvae=$(submit jobs/neuralflow.slurm --config "$work/nf.yaml" --stages vqvae --training.max_steps 6 \
  --training.warmup_steps 1)
dynamics=$(submit --dependency=afterok:"$vqvae" jobs/neuralflow.slurm --config "$work/nf.yaml" --stages dynamics \
  --training.max_steps 6 --training.warmup_steps 1)
wait_jobs "$vqvae" "$dynamics"
expect_job "$vqvae" COMPLETED 0:0
expect_job "$dynamics" COMPLETED 0:0
for job in "$vqvae" "$dynamics"; do
  grep -q 'INFO stage .*: layout tp 1 × pp 1 × dp 4 = 4 ranks' "$work/nf-neuralflow-$job.out" ||
    fail "job $job did not run nf-train on 4 ranks"
done
grep -q "INFO loaded weights from runs/nf/vqvae/checkpoints/step_6 (training.load_from" \
  "$work/nf-neuralflow-$dynamics.out" || fail "the dynamics job did not start from the vqvae job's checkpoint"
grep -q 'INFO dynamics: frozen encoder, quantizer, emotion, decoder' "$work/nf-neuralflow-$dynamics.out" ||
  fail "the dynamics job did not freeze all but the brain"
for stage in vqvae dynamics; do
  [[ $(grep -c '"prediction_loss"\|"recon_loss"' "$work/runs/nf/$stage/metrics.jsonl") -eq 6 ]] ||
    fail "runs/nf/$stage/metrics.jsonl: expected 6 records with the stage's terms"
done
echo "PASS: sbatch jobs/neuralflow.slurm --stages vqvae, then --stages dynamics (afterok): COMPLETED on 4 ranks," \
  "dynamics from vqvae's final checkpoint"
