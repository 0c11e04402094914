#!/usr/bin/env bash
# MIMO-UNet paper, Table 3: FAM vs concatenation vs element-wise sum (3 trainings), then the table.
#   GOPRO=/data/GOPRO_Large ./experiments/recipes/table3_fusion.sh [extra overrides, e.g. seed=1,2,3]
# On a SLURM cluster, one job per column:  ... launcher=slurm hydra.launcher.partition=<partition>
set -euo pipefail
: "${GOPRO:?set GOPRO to the GoPro folder}"
RUNS=${RUNS:-experiments/runs/paper}
TRAINER=${TRAINER:-trainer=gpu}
# DEBLURLAB_SMOKE=1: the same commands at smoke size on a CPU (CI runs every recipe this way on
# fake data; pass a tiny network as extra overrides). Numbers are meaningless.
SMOKE=""
if [ -n "${DEBLURLAB_SMOKE:-}" ]; then TRAINER=trainer=cpu; SMOKE="debug=smoke logger=csv"; fi

deblurlab-train -m experiment=ablation_table3 data.root="$GOPRO" $TRAINER $SMOKE \
    hydra.sweep.dir="$RUNS/table3" "$@"
deblurlab-report "$RUNS/table3"
