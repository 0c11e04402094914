#!/usr/bin/env bash
# Both ablation grids (table3_fusion.sh, table4_components.sh) at smoke size on a CPU, on a tiny
# fake GoPro folder (or GOPRO=<real folder>): checks the whole chain (sweep -> runs -> report) in a
# few minutes; the numbers are meaningless.
#   ./experiments/recipes/smoke_cpu.sh [extra overrides]
set -euo pipefail
HERE=$(dirname "$0")
export RUNS=${RUNS:-experiments/runs/smoke}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # tiny tensors: threads only add waiting
if [ -z "${GOPRO:-}" ]; then
    GOPRO="$RUNS/fake_gopro"
    PYTHONPATH=tests "${PYTHON:-python}" -c "from fixtures.datasets import make_gopro; make_gopro('$GOPRO')"
fi
export GOPRO DEBLURLAB_SMOKE=1
"$HERE/table3_fusion.sh" "$@"
"$HERE/table4_components.sh" "$@"
