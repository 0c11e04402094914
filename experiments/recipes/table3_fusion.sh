#!/usr/bin/env bash
# MIMO-UNet paper, Table 3: FAM vs concatenation vs element-wise sum (3 trainings), then the table.
#   GOPRO=/data/GOPRO_Large ./experiments/recipes/table3_fusion.sh [extra overrides, e.g. seed=1,2,3]
# On a SLURM cluster, one job per column:  ... launcher=slurm hydra.launcher.partition=<partition>
set -euo pipefail
: "${GOPRO:?set GOPRO to the GoPro folder}"
RUNS=${RUNS:-experiments/runs/paper}
TRAINER=${TRAINER:-trainer=gpu}

deblurlab-train -m experiment=ablation_table3 data.root="$GOPRO" $TRAINER \
    hydra.sweep.dir="$RUNS/table3" "$@"
deblurlab-report "$RUNS/table3"
