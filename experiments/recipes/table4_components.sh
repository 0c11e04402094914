#!/usr/bin/env bash
# MIMO-UNet paper, Table 4: the nine MISE / MOSD / AFF / MSFR rows (9 trainings), then the table.
#   GOPRO=/data/GOPRO_Large ./experiments/recipes/table4_components.sh [extra overrides]
# On a SLURM cluster, one job per row:  ... launcher=slurm hydra.launcher.partition=<partition>
set -euo pipefail
: "${GOPRO:?set GOPRO to the GoPro folder}"
RUNS=${RUNS:-experiments/runs/paper}
TRAINER=${TRAINER:-trainer=gpu}

deblurlab-train -m experiment=ablation_table4 data.root="$GOPRO" $TRAINER \
    hydra.sweep.dir="$RUNS/table4" "$@"
deblurlab-report "$RUNS/table4"
