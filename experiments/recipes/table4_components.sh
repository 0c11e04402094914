#!/usr/bin/env bash
# MIMO-UNet paper, Table 4: the nine MISE / MOSD / AFF / MSFR rows (9 trainings), then the table.
#   GOPRO=/data/GOPRO_Large ./experiments/recipes/table4_components.sh [extra overrides]
# On a SLURM cluster, one job per row:  ... launcher=slurm hydra.launcher.partition=<partition>
set -euo pipefail
: "${GOPRO:?set GOPRO to the GoPro folder}"
RUNS=${RUNS:-experiments/runs/paper}
TRAINER=${TRAINER:-trainer=gpu}
# DEBLURLAB_SMOKE=1: the same commands at smoke size on a CPU (CI runs every recipe this way on
# fake data; pass a tiny network as extra overrides). Numbers are meaningless.
SMOKE=""
if [ -n "${DEBLURLAB_SMOKE:-}" ]; then TRAINER=trainer=cpu; SMOKE="debug=smoke logger=csv"; fi

deblurlab-train -m experiment=ablation_table4 data.root="$GOPRO" $TRAINER $SMOKE \
    hydra.sweep.dir="$RUNS/table4" "$@"
deblurlab-report "$RUNS/table4"
