#!/bin/bash
# A survey as a SLURM job array: each array task surveys one shard, a dependent job merges them.
#
#   sbatch --export=ALL,IMAGES=/data/imagenet-val,RESULTS=/scratch/$USER/survey docs/examples/survey-slurm.sh
#   # then, once every task has finished (or chain it: see the end of this file):
#   MERGE=1 RESULTS=/scratch/$USER/survey bash docs/examples/survey-slurm.sh
#
# A task that is killed or requeued (--requeue, pre-emption, time limit) resumes its shard where it stopped:
# the images already in $RESULTS/shard-$i/results.jsonl are not run again.
#SBATCH --job-name=vit-survey
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=02:00:00
#SBATCH --requeue
#SBATCH --output=vit-survey-%A_%a.log
set -euo pipefail

VIT_INSPECTOR=${VIT_INSPECTOR:-"node /opt/vit-inspector/dist/cli.js"} # the CLI, built with npm ci && npm run build
MODEL=${MODEL:-}                                  # .onnx file or Hugging Face style folder; empty: the default ViT
IMAGES=${IMAGES:?set IMAGES to the folder of images}
RESULTS=${RESULTS:?set RESULTS to a folder on a file system every node sees}
SHARDS=${SHARDS:-$(( ${SLURM_ARRAY_TASK_MAX:-7} - ${SLURM_ARRAY_TASK_MIN:-0} + 1 ))}
model_flag=()
[ -n "$MODEL" ] && model_flag=(--model "$MODEL")

if [ "${MERGE:-0}" = 1 ]; then
  # shellcheck disable=SC2086
  $VIT_INSPECTOR survey merge "$RESULTS"/shard-* --out "$RESULTS/merged"
  exit 0
fi

i=${SLURM_ARRAY_TASK_ID:?run with sbatch (an array task) or set SLURM_ARRAY_TASK_ID}
# shellcheck disable=SC2086
$VIT_INSPECTOR survey "${model_flag[@]}" --images "$IMAGES" --out "$RESULTS/shard-$i" \
  --shard "$((i - ${SLURM_ARRAY_TASK_MIN:-0}))/$SHARDS" --jobs "${SLURM_CPUS_PER_TASK:-1}"

# To merge automatically, submit the array and then a merge job that waits for all of it:
#   jid=$(sbatch --parsable --export=ALL,IMAGES=...,RESULTS=... docs/examples/survey-slurm.sh)
#   sbatch --dependency=afterok:$jid --export=ALL,MERGE=1,RESULTS=... docs/examples/survey-slurm.sh
