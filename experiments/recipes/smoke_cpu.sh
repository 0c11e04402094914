#!/usr/bin/env bash
# Both ablation grids at smoke size on a CPU, on a tiny fake GoPro folder (or GOPRO=<real folder>):
# checks the whole chain (sweep -> runs -> report) in a few minutes, numbers are meaningless.
#   ./experiments/recipes/smoke_cpu.sh
set -euo pipefail
RUNS=${RUNS:-experiments/runs/smoke}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # tiny tensors: threads only add waiting
if [ -z "${GOPRO:-}" ]; then
    GOPRO="$RUNS/fake_gopro"
    PYTHONPATH=tests "${PYTHON:-python}" -c "from fixtures.datasets import make_gopro; make_gopro('$GOPRO')"
fi
for table in table3 table4; do
    deblurlab-train -m experiment=ablation_$table debug=smoke data.root="$GOPRO" \
        hydra.sweep.dir="$RUNS/$table" "$@"
    deblurlab-report "$RUNS/$table"
done
