#!/usr/bin/env bash
# MIMO-UNet paper, Table 1 (GoPro test): MIMO-UNet, MIMO-UNet+, and MIMO-UNet++ (= the MIMO-UNet+
# checkpoint scored with the rot4 self-ensemble), then the table.
#   GOPRO=/data/GOPRO_Large ./experiments/recipes/table1_gopro.sh [extra overrides, e.g. trainer=ddp trainer.devices=2 data.batch_size=2]
set -euo pipefail
: "${GOPRO:?set GOPRO to the GoPro folder (GOPRO_Large or the flattened layout)}"
RUNS=${RUNS:-experiments/runs/paper}
TRAINER=${TRAINER:-trainer=gpu}
# DEBLURLAB_SMOKE=1: the same commands at smoke size on a CPU (CI runs every recipe this way on
# fake data; pass a tiny network as extra overrides). Numbers are meaningless.
SMOKE=""
if [ -n "${DEBLURLAB_SMOKE:-}" ]; then TRAINER=trainer=cpu; SMOKE="debug=smoke logger=csv"; fi

deblurlab-train experiment=mimo_unet_gopro data.root="$GOPRO" $TRAINER $SMOKE \
    hydra.run.dir="$RUNS/mimo_unet_gopro" "$@"
deblurlab-train experiment=mimo_unet_plus_gopro data.root="$GOPRO" $TRAINER $SMOKE \
    hydra.run.dir="$RUNS/mimo_unet_plus_gopro" "$@"
deblurlab-eval ckpt_path="$RUNS/mimo_unet_plus_gopro/checkpoints/best.ckpt" ensemble=rot4 \
    hydra.run.dir="$RUNS/mimo_unet_plus_gopro_rot4"
deblurlab-report "$RUNS/mimo_unet_gopro" "$RUNS/mimo_unet_plus_gopro" \
    "$RUNS/mimo_unet_plus_gopro_rot4" --out "$RUNS/table1"
