#!/usr/bin/env bash
# Starts and stops a real single-node Slurm cluster (munged, slurmctld, slurmd)
# for the Slurm executor's integration tests. Everything the cluster writes
# (config, state, spool, logs, pid files) lives under one directory, so a test
# can make a temp dir, start a cluster in it, and throw it away afterwards.
#
#   slurm_cluster.sh start DIR   start; last stdout line: export SLURM_CONF=DIR/slurm.conf
#   slurm_cluster.sh stop DIR    stop what start started (idempotent; safe after
#                                a failed or partial start; keeps DIR/log)
#
# Usage from a test:  eval "$(tests/integration/slurm_cluster.sh start "$dir" | tail -n 1)"
#
# Needs root and the packages slurm-wlm munge (scripts/install-deps.sh).
# Facts behind the settings: /work/shared/notes/slurm-single-node.md.
#
# Several clusters may run at once: each picks the first free pair of TCP
# ports from 6817/6818 upwards (checked with `ss -ltn`; two starts racing each
# other may still collide). munged is shared: an already working munged (the
# default socket /run/munge/munge.socket.2) is reused; otherwise start runs one
# and records that in DIR/munged.started, and only that DIR's stop ends it, and
# only when no other slurmctld/slurmd is left running on the machine.
#
# The node advertises itself to the scheduler with OverSubscribe=FORCE:16 on
# the partition, so many short jobs run at once on the machine's few CPUs.
set -euo pipefail

START_TIMEOUT=${SLURM_CLUSTER_START_TIMEOUT:-30}   # seconds until the node is idle

die() { echo "slurm_cluster: $*" >&2; exit 1; }
log() { echo "slurm_cluster: $*" >&2; }

usage() {
  echo "usage: $0 start DIR | stop DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
[ -n "$2" ] || usage
if [ "$cmd" = stop ] && [ ! -d "$2" ]; then
  exit 0
fi
mkdir -p "$2"
base=$(cd "$2" && pwd)
conf=$base/slurm.conf

# pid_alive PIDFILE NAME: prints the pid if PIDFILE names a live process called NAME.
pid_alive() {
  local pidfile=$1 name=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  echo "$pid"
}

# stop_pids PIDFILE:NAME...: SIGTERM to each live one at once, wait up to
# 5 s, then SIGKILL what is left.
stop_pids() {
  local arg pid pids=()
  for arg in "$@"; do
    if pid=$(pid_alive "${arg%%:*}" "${arg##*:}"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  if [ ${#pids[@]} -gt 0 ]; then
    for _ in $(seq 50); do
      alive_any "${pids[@]}" || break
      sleep 0.1
    done
    if alive_any "${pids[@]}"; then
      log "SIGTERM not enough after 5 s; sending SIGKILL to ${pids[*]}"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      for _ in $(seq 20); do
        alive_any "${pids[@]}" || break
        sleep 0.1
      done
    fi
  fi
  for arg in "$@"; do
    rm -f "${arg%%:*}"
  done
}

alive_any() {
  local pid
  for pid in "$@"; do
    # A killed daemon may stay a zombie until init reaps it.
    if [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
      return 0
    fi
  done
  return 1
}

port_busy() {
  [ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]
}

munge_works() {
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1
}

do_stop() {
  # Jobs still running would outlive slurmd (each has its own slurmstepd);
  # cancel them while the controller is still up.
  if [ -f "$conf" ] && pid_alive "$base/slurmctld.pid" slurmctld >/dev/null; then
    local jobs
    jobs=$(SLURM_CONF=$conf timeout 5 squeue -h -t PD,R,CG,S -o %A 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      SLURM_CONF=$conf timeout 5 scancel $jobs 2>/dev/null || true
      for _ in $(seq 20); do
        [ -z "$(SLURM_CONF=$conf timeout 2 squeue -h -t R,CG -o %A 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
  fi
  stop_pids "$base/slurmd.pid:slurmd" "$base/slurmctld.pid:slurmctld"
  if [ -f "$base/munged.started" ]; then
    # Another cluster may have reused the munged this DIR started.
    # -r: not zombies, which init reaps only after a while.
    if pgrep -r R,S,D,T -x 'slurm(ctld|d)' >/dev/null; then
      log "leaving munged running: other Slurm daemons still use it"
    else
      stop_pids "$base/munged.started:munged"
    fi
    rm -f "$base/munged.started"
  fi
}

start_munged() {
  if munge_works; then
    return 0
  fi
  mkdir -p /run/munge
  [ -s /etc/munge/munge.key ] || mungekey --create
  # munged refuses to run as the munge user on files a root run left behind.
  chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
  runuser -u munge -- /usr/sbin/munged </dev/null >>"$base/log/munged.out" 2>&1 ||
    fail_start "munged did not start (see $base/log/munged.out and /var/log/munge/munged.log)"
  cp /run/munge/munged.pid "$base/munged.started"
  for _ in $(seq 50); do
    munge_works && return 0
    sleep 0.1
  done
  fail_start "munged started but 'munge -n | unmunge' fails"
}

fail_start() {
  log "start failed: $*"
  local f
  for f in "$base/log/slurmctld.log" "$base/log/slurmd.log"; do
    if [ -s "$f" ]; then
      echo "---- tail $f" >&2
      tail -n 20 "$f" >&2
    fi
  done
  do_stop
  exit 1
}

write_conf() {
  local ctld_port=$1 d_port=$2 hw
  # e.g. "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105" then "UpTime=...".
  hw=$(slurmd -C | grep '^NodeName=' | sed 's/^NodeName=[^ ]* *//')
  [ -n "$hw" ] || die "slurmd -C printed no hardware line"
  cat >"$conf" <<EOF
# Written by tests/integration/slurm_cluster.sh; throwaway test cluster.
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/slurmctld.pid
SlurmdPidFile=$base/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$base/log/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MessageTimeout=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:16
EOF
}

do_start() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
  local b
  for b in slurmctld slurmd munged munge unmunge sinfo ss; do
    command -v "$b" >/dev/null || die "$b not found (run scripts/install-deps.sh)"
  done
  if pid_alive "$base/slurmctld.pid" slurmctld >/dev/null ||
     pid_alive "$base/slurmd.pid" slurmd >/dev/null; then
    die "a cluster is already running in $base (run: $0 stop $base)"
  fi
  mkdir -p "$base/state" "$base/spool" "$base/log"

  local ctld_port=6817 found=
  while [ "$ctld_port" -lt 6917 ]; do
    if ! port_busy "$ctld_port" && ! port_busy $((ctld_port + 1)); then
      found=1
      break
    fi
    ctld_port=$((ctld_port + 2))
  done
  [ -n "$found" ] || die "no free port pair in 6817-6918"
  write_conf "$ctld_port" $((ctld_port + 1))
  export SLURM_CONF=$conf

  start_munged
  # Daemons get no stdio of ours: a caller reading our stdout through a pipe
  # must see EOF when this script exits.
  slurmctld -c </dev/null >>"$base/log/slurmctld.out" 2>&1 ||
    fail_start "slurmctld -c exited $? (see $base/log/slurmctld.out)"
  slurmd -N localhost </dev/null >>"$base/log/slurmd.out" 2>&1 ||
    fail_start "slurmd exited $? (see $base/log/slurmd.out)"

  local deadline=$((SECONDS + START_TIMEOUT)) state=
  while :; do
    state=$(timeout 2 sinfo -h -n localhost -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    pid_alive "$base/slurmctld.pid" slurmctld >/dev/null || [ ! -e "$base/slurmctld.pid" ] ||
      fail_start "slurmctld died"
    [ "$SECONDS" -lt "$deadline" ] ||
      fail_start "node not idle after ${START_TIMEOUT} s (sinfo state: '${state:-no answer}')"
    sleep 0.1
  done
  log "cluster up in $base (ports $ctld_port/$((ctld_port + 1)))"
  echo "export SLURM_CONF=$conf"
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  *) usage ;;
esac
