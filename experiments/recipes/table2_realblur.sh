#!/usr/bin/env bash
# MIMO-UNet paper, Table 2 (RealBlur-J test): MIMO-UNet+ and MIMO-UNet++ (rot4), plus the same
# recipe on RealBlur-R (no paper number), then the table.
#   REALBLUR=/data/RealBlur ./experiments/recipes/table2_realblur.sh [extra overrides]
set -euo pipefail
: "${REALBLUR:?set REALBLUR to the folder holding RealBlur_J_train_list.txt}"
RUNS=${RUNS:-experiments/runs/paper}
TRAINER=${TRAINER:-trainer=gpu}
# DEBLURLAB_SMOKE=1: the same commands at smoke size on a CPU (CI runs every recipe this way on
# fake data; pass a tiny network as extra overrides). Numbers are meaningless.
SMOKE=""
if [ -n "${DEBLURLAB_SMOKE:-}" ]; then TRAINER=trainer=cpu; SMOKE="debug=smoke logger=csv"; fi

for variant in j r; do
    deblurlab-train experiment=mimo_unet_plus_realblur_$variant data.root="$REALBLUR" $TRAINER $SMOKE \
        hydra.run.dir="$RUNS/mimo_unet_plus_realblur_$variant" "$@"
done
deblurlab-eval ckpt_path="$RUNS/mimo_unet_plus_realblur_j/checkpoints/best.ckpt" ensemble=rot4 \
    hydra.run.dir="$RUNS/mimo_unet_plus_realblur_j_rot4"
deblurlab-report "$RUNS/mimo_unet_plus_realblur_j" "$RUNS/mimo_unet_plus_realblur_j_rot4" \
    "$RUNS/mimo_unet_plus_realblur_r" --out "$RUNS/table2"
