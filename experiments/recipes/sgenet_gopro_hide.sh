#!/usr/bin/env bash
# SGENet paper, Table 1: train on GoPro, score on GoPro test and (same checkpoint) on HIDE.
#   GOPRO=/data/GOPRO_Large HIDE=/data/HIDE_dataset ./experiments/recipes/sgenet_gopro_hide.sh
set -euo pipefail
: "${GOPRO:?set GOPRO to the GoPro folder}" "${HIDE:?set HIDE to the HIDE_dataset folder}"
RUNS=${RUNS:-experiments/runs/paper}
TRAINER=${TRAINER:-trainer=gpu}
# DEBLURLAB_SMOKE=1: the same commands at smoke size on a CPU (CI runs every recipe this way on
# fake data; pass a tiny network as extra overrides). Numbers are meaningless.
SMOKE=""
if [ -n "${DEBLURLAB_SMOKE:-}" ]; then TRAINER=trainer=cpu; SMOKE="debug=smoke logger=csv"; fi

deblurlab-train experiment=sgenet_gopro data.root="$GOPRO" $TRAINER $SMOKE \
    hydra.run.dir="$RUNS/sgenet_gopro" "$@"
deblurlab-eval ckpt_path="$RUNS/sgenet_gopro/checkpoints/best.ckpt" data=hide data.root="$HIDE" \
    hydra.run.dir="$RUNS/sgenet_gopro_hide"
deblurlab-report "$RUNS/sgenet_gopro" "$RUNS/sgenet_gopro_hide" --out "$RUNS/sgenet"
