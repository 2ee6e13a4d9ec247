#!/usr/bin/env bash
# Stops zlb-server processes started by scripts/start-servers.sh: SIGTERM (servers drain in-flight
# work, then exit), wait up to a deadline, SIGKILL stragglers with a warning, remove the pid files.
#
# Usage: scripts/stop-servers.sh [PORT...]
#   no PORT  stop every server with a pid file in RUN_DIR/servers
# Exits 0 when every server is stopped (or none was running), 1 otherwise.
# Env (relative paths are relative to the repo root; installed, to the current directory):
#   ZLB_RUN_DIR         run directory (default run)
#   ZLB_STOP_TIMEOUT_S  how long to wait after SIGTERM before SIGKILL (default 30)
set -euo pipefail

PROG=stop-servers
# lib.sh sets ROOT and the ZLB_* paths: it is beside this script in scripts/ (and in
# PREFIX/lib/zlb), or in PREFIX/lib/zlb when this is an installed PREFIX/bin/zlb-* script.
HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
LIB=$HERE/lib.sh
[[ -f $LIB ]] || LIB=$HERE/../lib/zlb/lib.sh
# shellcheck source=lib.sh
source "$LIB"

# is_server PID: PID is a live (non-zombie) zlb-server process.
is_server() { pid_is "$1" zlb-server; }

# select_ports: PORTS = the arguments, or every port with a pid file.
select_ports() {
  PORTS=()
  local arg f
  for arg in "$@"; do
    case $arg in
      -h|--help) usage; exit 0 ;;
      *) if ! [[ $arg =~ ^[0-9]+$ ]] || ((10#$arg < 1 || 10#$arg > 65535)); then bad_usage "bad port: $arg"; fi
         PORTS+=("$((10#$arg))") ;;
    esac
  done
  if ((${#PORTS[@]} == 0)); then
    for f in "$SERVERS_DIR"/*.pid; do
      [[ -e $f ]] || continue
      f=${f##*/}
      PORTS+=("${f%.pid}")
    done
  fi
}

# signal_all: TERM every live server; drop pid files of dead ones. Fills PENDING (port:pid).
signal_all() {
  PENDING=()
  local port pidfile pid
  for port in "${PORTS[@]}"; do
    pidfile="$SERVERS_DIR/$port.pid"
    if [[ ! -e $pidfile ]]; then
      log "port $port: no pid file ($pidfile), nothing to stop"
      continue
    fi
    pid=$(<"$pidfile")
    if is_server "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      PENDING+=("$port:$pid")
    else
      rm -f "$pidfile"   # already gone
    fi
  done
}

# wait_exit TIMEOUT_S: poll until every PENDING server is gone or the deadline passes.
wait_exit() {
  local start entry next
  start=$(now_ms)
  while ((${#PENDING[@]})); do
    next=()
    for entry in "${PENDING[@]}"; do
      if is_server "${entry#*:}"; then next+=("$entry"); else rm -f "$SERVERS_DIR/${entry%%:*}.pid"; fi
    done
    PENDING=(${next[@]+"${next[@]}"})
    ((${#PENDING[@]})) || break
    (($(now_ms) - start > $1 * 1000)) && return 1
    sleep 0.05
  done
}

# kill_stragglers: SIGKILL whatever survived the TERM deadline (its process group if it leads one).
kill_stragglers() {
  local entry port pid
  for entry in "${PENDING[@]}"; do
    port=${entry%%:*} pid=${entry#*:}
    log "warning: server on port $port (pid $pid) still running after ${TIMEOUT_S}s, sending SIGKILL"
    if [[ $(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') == "$pid" ]]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
    else
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

main() {
  RUN_DIR=$(abspath "${ZLB_RUN_DIR:-run}")
  SERVERS_DIR="$RUN_DIR/servers"
  TIMEOUT_S=${ZLB_STOP_TIMEOUT_S:-30}
  [[ $TIMEOUT_S =~ ^[0-9]+$ ]] || bad_usage "ZLB_STOP_TIMEOUT_S must be whole seconds: $TIMEOUT_S"
  select_ports "$@"
  if ((${#PORTS[@]} == 0)); then
    log "no servers recorded in $SERVERS_DIR"
    exit 0
  fi
  signal_all
  local total=${#PENDING[@]}
  if ! wait_exit "$TIMEOUT_S"; then
    kill_stragglers
    if ! wait_exit 5; then
      log "error: could not stop: ${PENDING[*]%%:*} (port:pid ${PENDING[*]})"
      exit 1
    fi
  fi
  log "stopped $total server(s)"
}

main "$@"
