#!/usr/bin/env bash
# SGENet paper, Table 1: train on GoPro, score on GoPro test and (same checkpoint) on HIDE.
#   GOPRO=/data/GOPRO_Large HIDE=/data/HIDE_dataset ./experiments/recipes/sgenet_gopro_hide.sh
set -euo pipefail
: "${GOPRO:?set GOPRO to the GoPro folder}" "${HIDE:?set HIDE to the HIDE_dataset folder}"
RUNS=${RUNS:-experiments/runs/paper}
TRAINER=${TRAINER:-trainer=gpu}

deblurlab-train experiment=sgenet_gopro data.root="$GOPRO" $TRAINER \
    hydra.run.dir="$RUNS/sgenet_gopro" "$@"
deblurlab-eval ckpt_path="$RUNS/sgenet_gopro/checkpoints/best.ckpt" data=hide data.root="$HIDE" \
    trainer.accelerator=gpu hydra.run.dir="$RUNS/sgenet_gopro_hide"
deblurlab-report "$RUNS/sgenet_gopro" "$RUNS/sgenet_gopro_hide" --out "$RUNS/sgenet"
