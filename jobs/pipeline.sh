#!/usr/bin/env bash
# Submits the training pipeline as chained Slurm jobs: pretrain, then sft, then dpo, each stage's
# job starting only when the one before completed successfully (--dependency=afterok). A stage
# that fails cancels the stages after it; a stage that is preempted and requeued (jobs/launch.sh)
# keeps them waiting. Prints one "STAGE JOBID" line per submitted job.
#
#   jobs/pipeline.sh [options] [--section.key value ...]
#     --stages LIST          stages to submit, in order (default pretrain,sft,dpo)
#     --pretrain-config F    config of the pretrain stage (default configs/pretrain_tiny.yaml)
#     --sft-config F         config of the sft stage (default configs/sft_tiny.yaml)
#     --dpo-config F         config of the dpo stage (default configs/dpo_tiny.yaml)
#     --output-dir DIR       output.dir of every stage: the runs land in DIR/<output.name>
#     --sbatch OPTION        one more sbatch option for every stage, e.g. --sbatch --partition=gpu
#   The --section.key overrides go to every stage.
#
# Stages hand over through their own configs: training.load_from in a stage's config names the run
# it starts from (e.g. load_from: pretrain_tiny, looked up under output.dir, so --output-dir moves
# both ends); the afterok chain makes sure the stage before has finished writing it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fail() {
  echo "pipeline.sh: $1" >&2
  exit 2
}
# Default configs are in the checkout; a config given on the command line is relative to here.
declare -A config=([pretrain]=$root/configs/pretrain_tiny.yaml [sft]=$root/configs/sft_tiny.yaml
  [dpo]=$root/configs/dpo_tiny.yaml)
stages=pretrain,sft,dpo
sbatch_options=(--parsable)
overrides=()
while (($# > 0)); do
  case $1 in
    --stages | --pretrain-config | --sft-config | --dpo-config | --output-dir | --sbatch)
      (($# >= 2)) || fail "$1 needs a value"
      case $1 in
        --stages) stages=$2 ;;
        --output-dir) overrides+=(--output.dir "$2") ;;
        --sbatch) sbatch_options+=("$2") ;;
        *) stage=${1#--}; config[${stage%-config}]=$(realpath -m -- "$2") ;;
      esac
      shift 2 ;;
    --config | --config=*) fail "$1: give each stage its config with --pretrain-config, --sft-config or --dpo-config" ;;
    *) overrides+=("$1"); shift ;;
  esac
done

# Check every stage before submitting any, so a typo leaves nothing half-submitted.
IFS=, read -ra stage_list <<<"$stages"
((${#stage_list[@]} > 0)) || fail "--stages is empty; expected a list such as pretrain,sft,dpo"
for stage in "${stage_list[@]}"; do
  [[ -n ${config[$stage]:-} && -f $root/jobs/$stage.slurm ]] ||
    fail "unknown stage '$stage' in --stages; expected pretrain, sft or dpo"
  [[ -f ${config[$stage]} ]] ||
    fail "config ${config[$stage]} of the $stage stage not found; pass --$stage-config FILE, or leave the stage out with --stages"
done

# The templates find the checkout through NF_ROOT, wherever this script is run from.
export NF_ROOT=$root
dependency=()
for stage in "${stage_list[@]}"; do
  job=$(sbatch "${sbatch_options[@]}" "${dependency[@]}" "$root/jobs/$stage.slurm" \
    --config "${config[$stage]}" "${overrides[@]}")
  job=${job%%;*}  # --parsable prints "id" or "id;cluster"
  echo "$stage $job"
  dependency=(--dependency="afterok:$job" --kill-on-invalid-dep=yes)
done
