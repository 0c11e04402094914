#!/usr/bin/env bash
# Stop what tests/e2e/slurm/start.sh started: slurmd and slurmctld of its cluster, and munged when
# no other SLURM daemon still uses it. Files in $DEBLURLAB_SLURM_DIR are kept (logs, jobcomp.log).
set -uo pipefail

DIR="${DEBLURLAB_SLURM_DIR:-/tmp/deblurlab-slurm}"

stop_pidfile() {
    local file="$1" pid
    [ -s "$file" ] || return 0
    pid="$(cat "$file")"
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
}

stop_pidfile "$DIR/slurmd.pid"
stop_pidfile "$DIR/slurmctld.pid"
if ! pgrep -x slurmctld >/dev/null && ! pgrep -x slurmd >/dev/null; then
    pid="$(cat /run/munge/munged.pid 2>/dev/null || true)"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
fi
exit 0
