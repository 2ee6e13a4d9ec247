#!/usr/bin/env bash
# Starts COUNT zlb-server processes in the background on consecutive ports BASE_PORT..BASE_PORT+COUNT-1
# and prints their endpoints, one per line, on stdout (feed them to zlb-client --endpoints-file).
#
# Usage: scripts/start-servers.sh COUNT BASE_PORT|auto [MODE] [-- extra zlb-server flags]
#   MODE  cpu | io | all (default all)
#   auto  free ports outside the kernel's ephemeral range, chosen here; a server that loses its
#         port to another process before it binds is started again on another one
#   e.g.  scripts/start-servers.sh 4 8004 > endpoints.txt
#         scripts/start-servers.sh 2 auto io -- --threads 64 --log-level debug
# Each server runs as: zlb-server --bind tcp://HOST:PORT --name <hostname>:PORT --mode MODE [extra],
# in its own session, with pid and log files in RUN_DIR/servers/PORT.pid and PORT.log.
# A server is up once its log has a "listening" line. Stop them with scripts/stop-servers.sh.
# Env (relative paths are relative to the repo root; installed, to the current directory):
#   ZLB_RUN_DIR          run directory (default run)
#   ZLB_BIN_DIR          directory holding zlb-server (default build/bin; installed: PREFIX/bin)
#   ZLB_BIND_HOST        bind address (default 127.0.0.1; * or 0.0.0.0 for multi-host use)
#   ZLB_ADVERTISE_HOST   host printed in the endpoints (default: the bind host, or this
#                        machine's hostname when binding to * / 0.0.0.0)
#   ZLB_START_TIMEOUT_S  how long to wait for "listening" (default 15)
set -euo pipefail

PROG="start-servers"
# lib.sh sets ROOT and the ZLB_* paths: it is beside this script in scripts/ (and in
# PREFIX/lib/zlb), or in PREFIX/lib/zlb when this is an installed PREFIX/bin/zlb-* script.
HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
LIB=$HERE/lib.sh
[[ -f $LIB ]] || LIB=$HERE/../lib/zlb/lib.sh
# shellcheck source=lib.sh
source "$LIB"

# Lost races for a port tolerated per server in auto mode.
AUTO_RETRIES=10

parse_args() {
  local positional=()
  EXTRA=()
  while (($#)); do
    case $1 in
      -h|--help) usage; exit 0 ;;
      --) shift; EXTRA=("$@"); break ;;
      -*) bad_usage "unknown option: $1 (server flags go after --)" ;;
      *) positional+=("$1") ;;
    esac
    shift
  done
  ((${#positional[@]} >= 2)) || bad_usage "need COUNT and BASE_PORT"
  ((${#positional[@]} <= 3)) || bad_usage "too many arguments: ${positional[*]:3}"
  COUNT=${positional[0]}
  BASE_PORT=${positional[1]}
  MODE=${positional[2]:-all}
  is_positive "$COUNT" || bad_usage "COUNT must be a positive integer: $COUNT"
  COUNT=$((10#$COUNT))
  base_port_arg BASE_PORT "$COUNT" BASE_PORT
  [[ $MODE == cpu || $MODE == io || $MODE == all ]] || bad_usage "MODE must be cpu, io or all: $MODE"
}

# preflight PORT...: binary present, no live server already recorded for a port, ports free.
preflight() {
  [[ -x $BIN ]] || die "server binary not found: $BIN (build it with scripts/setup.sh)"
  mkdir -p "$SERVERS_DIR"
  local port pidfile pid
  for port in "$@"; do
    pidfile="$SERVERS_DIR/$port.pid"
    if pid=$(pidfile_pid "$pidfile" zlb-server); then
      die "port $port: server already running (pid $pid, $pidfile); stop it with scripts/stop-servers.sh $port"
    fi
    rm -f "$pidfile" # stale
    port_in_use "$port" && die "port $port is already in use"
  done
  return 0
}

# launch PORT: start one server in its own session; record its pid (the caller adds PORT to STARTED).
launch() {
  local port=$1 log="$SERVERS_DIR/$1.log"
  (without_port_locks setsid "$BIN" --bind "tcp://$BIND_HOST:$port" --name "$NAME_HOST:$port" \
    --mode "$MODE" ${EXTRA[@]+"${EXTRA[@]}"} </dev/null >"$log" 2>&1) &
  echo "$!" >"$SERVERS_DIR/$port.pid"
}

# relaunch PORT: in auto mode, another process took PORT before the server could bind it:
# start that server again on another free port, in PORT's place in STARTED; set NEW_PORT.
relaunch() {
  local old=$1 i
  ((RETRIES_LEFT-- > 0)) || return 1
  rm -f "$SERVERS_DIR/$old.pid" "$SERVERS_DIR/$old.log"
  pick_ports 1
  log "port $old was taken before the server could bind it; starting it on $PORT_BASE instead"
  for i in "${!STARTED[@]}"; do [[ ${STARTED[i]} != "$old" ]] || STARTED[i]=$PORT_BASE; done
  launch "$PORT_BASE"
  NEW_PORT=$PORT_BASE
}

# rollback: stop the servers this invocation started (startup failed part-way).
rollback() {
  ((${#STARTED[@]})) || return 0
  echo "$PROG: stopping the ${#STARTED[@]} server(s) started by this call" >&2
  ZLB_RUN_DIR=$RUN_DIR ZLB_STOP_TIMEOUT_S=${ZLB_STOP_TIMEOUT_S:-5} \
    "$ZLB_STOP_SERVERS" "${STARTED[@]}" >&2 || true
}

report_death() {
  local port=$1 log="$SERVERS_DIR/$1.log"
  echo "$PROG: server on port $port exited during startup; last lines of $log:" >&2
  tail -n 20 "$log" 2>/dev/null | sed 's/^/    /' >&2
}

# wait_listening: poll every log for "listening" until all are up, one dies, or the deadline passes.
wait_listening() {
  local timeout_s=${ZLB_START_TIMEOUT_S:-15} start pending port next
  start=$(now_ms)
  pending=("${STARTED[@]}")
  while ((${#pending[@]})); do
    next=()
    for port in "${pending[@]}"; do
      if grep -q listening "$SERVERS_DIR/$port.log" 2>/dev/null; then
        continue
      # Just launched, so no pid reuse to fear; and until setsid has exec'd the server,
      # the process's command line is still this script's.
      elif ! is_alive "$(<"$SERVERS_DIR/$port.pid")"; then
        if ((AUTO)) && grep -q "$ADDR_IN_USE" "$SERVERS_DIR/$port.log" 2>/dev/null &&
          relaunch "$port"; then
          next+=("$NEW_PORT")
          continue
        fi
        report_death "$port"
        rollback
        exit 1
      fi
      next+=("$port")
    done
    pending=(${next[@]+"${next[@]}"})
    ((${#pending[@]})) || break
    if (($(now_ms) - start > timeout_s * 1000)); then
      echo "$PROG: no 'listening' line within ${timeout_s}s from port(s) ${pending[*]} (logs in $SERVERS_DIR)" >&2
      rollback
      exit 1
    fi
    sleep 0.05
  done
}

main() {
  parse_args "$@"
  RUN_DIR=$(abspath "${ZLB_RUN_DIR:-run}")
  SERVERS_DIR="$RUN_DIR/servers"
  BIN="$(abspath "${ZLB_BIN_DIR:-$ZLB_DEFAULT_BIN}")/zlb-server"
  BIND_HOST=${ZLB_BIND_HOST:-127.0.0.1}
  NAME_HOST=${HOSTNAME:-$(uname -n)}
  local advertise=$BIND_HOST
  [[ $BIND_HOST == "*" || $BIND_HOST == 0.0.0.0 ]] && advertise=$NAME_HOST
  advertise=${ZLB_ADVERTISE_HOST:-$advertise}
  STARTED=() AUTO=0 RETRIES_LEFT=$AUTO_RETRIES

  if [[ $BASE_PORT == auto ]]; then
    AUTO=1
    pick_ports "$COUNT"
    BASE_PORT=$PORT_BASE
  else
    warn_if_ephemeral "$BASE_PORT" $((BASE_PORT + COUNT - 1))
  fi
  local port
  for ((port = BASE_PORT; port < BASE_PORT + COUNT; port++)); do STARTED+=("$port"); done
  preflight "${STARTED[@]}"
  trap 'rollback; exit 130' INT TERM
  for port in "${STARTED[@]}"; do launch "$port"; done
  wait_listening
  trap - INT TERM
  for port in "${STARTED[@]}"; do echo "tcp://$advertise:$port"; done
  log "$COUNT $MODE server(s) up on port(s) ${STARTED[*]} (pids/logs in $SERVERS_DIR)"
}

main "$@"
