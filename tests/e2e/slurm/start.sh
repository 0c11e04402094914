#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for the cluster tests (tests/e2e/slurm) and for
# trying the SLURM launcher by hand. Needs root (it installs Debian's slurm-wlm and munge when they
# are missing, and starts munged, slurmctld and slurmd).
#
#   tests/e2e/slurm/start.sh            # prints the line to export (SLURM_CONF=..., PATH=...)
#   tests/e2e/slurm/stop.sh
#
# The node is this host with 2 CPUs; partitions:
#   debug   the default, a short time limit (MAX_MINUTES), jobs may be requeued and preempted
#   urgent  a higher priority tier: a job there preempts (requeues) debug jobs
# Everything lives in $DEBLURLAB_SLURM_DIR (default /tmp/deblurlab-slurm): slurm.conf, cgroup.conf,
# state, logs, and jobcomp.log, the job-completion log (one line per finished job or attempt).
# Running it again while the cluster is up does nothing. Exit status 3: cannot run here (the
# reason on one line on stderr).
set -euo pipefail

DIR="${DEBLURLAB_SLURM_DIR:-/tmp/deblurlab-slurm}"
MAX_MINUTES="${DEBLURLAB_SLURM_MAX_MINUTES:-10}"
CTLD_PORT="${DEBLURLAB_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${DEBLURLAB_SLURM_SLURMD_PORT:-6818}"
CONF="$DIR/slurm.conf"

cannot() {
    echo "slurm: $*" >&2
    exit 3
}

# No accounting database here, so the real sacct has nothing to say; submitit asks sacct for the
# state of the jobs it waits on. This sacct reads the job-completion log instead (sacct -c; it
# knows plain jobs, not array tasks): the tests put $DIR/bin first on PATH.
write_sacct() {
    local real
    real="$(PATH="${PATH//$DIR\/bin:/}" command -v sacct)" # the real one, not this shim
    mkdir -p "$DIR/bin"
    printf '#!/bin/sh\nexec %s --completion "$@" 2>/dev/null\n' "$real" >"$DIR/bin/sacct"
    chmod +x "$DIR/bin/sacct"
}

ready() {
    write_sacct
    echo "export SLURM_CONF=$CONF PATH=$DIR/bin:\$PATH"
    exit 0
}

# (scontrol waits a minute for a slurm.conf that does not exist)
if [ -f "$CONF" ] && SLURM_CONF="$CONF" scontrol ping 2>/dev/null | grep -q "is UP"; then
    ready
fi

[ "$(id -u)" = 0 ] || cannot "start.sh needs root (it starts munged, slurmctld and slurmd)"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || cannot "slurm-wlm and munge are not installed and there is no apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q slurm-wlm munge >"$DIR.install.log" 2>&1 ||
        { apt-get update -q >>"$DIR.install.log" 2>&1 &&
            apt-get install -y -q slurm-wlm munge >>"$DIR.install.log" 2>&1; } ||
        cannot "apt-get install slurm-wlm munge failed (log: $DIR.install.log)"
fi

mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
HOST="$(hostname -s)"
# the node's memory as slurmd measures it, so that jobs asking for --mem fit (or are refused)
MEMORY="$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -1)"
MEMORY="${MEMORY:-1000}"

cat >"$CONF" <<EOF
# written by tests/e2e/slurm/start.sh: one node (this host, 2 CPUs), no accounting database
ClusterName=deblurlab
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
ReturnToService=2
JobRequeue=1
EnforcePartLimits=ALL
MinJobAge=600
KillWait=30
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=$MAX_MINUTES State=UP PriorityTier=1 PreemptMode=REQUEUE
PartitionName=urgent Nodes=$HOST MaxTime=$MAX_MINUTES State=UP PriorityTier=2 PreemptMode=OFF
EOF
cat >"$DIR/cgroup.conf" <<EOF
CgroupPlugin=cgroup/v1
IgnoreSystemd=yes
EOF

# munge: the package's key, the daemon forced to run as root (it warns about the key's owner)
mkdir -p /run/munge /var/log/munge /var/lib/munge
[ -s /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 ||
    cannot "no munge key (/etc/munge/munge.key) and mungekey could not create one"
if ! munge -n >/dev/null 2>&1; then
    munged --force >"$DIR/log/munged.out" 2>&1 || cannot "munged did not start (log: $DIR/log/munged.out)"
fi

export SLURM_CONF="$CONF"
slurmctld -f "$CONF" >"$DIR/log/slurmctld.out" 2>&1 ||
    cannot "slurmctld did not start (log: $DIR/log/slurmctld.log)"
slurmd -f "$CONF" >"$DIR/log/slurmd.out" 2>&1 || cannot "slurmd did not start (log: $DIR/log/slurmd.log)"

for _ in $(seq 1 60); do
    state="$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -1 || true)"
    case "$state" in
    idle | mix | alloc) ready ;;
    esac
    sleep 0.5
done
cannot "the node did not come up within 30 s (state '${state:-?}'; logs in $DIR/log)"
