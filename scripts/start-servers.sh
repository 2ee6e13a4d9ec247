#!/usr/bin/env bash
# Starts COUNT zlb-server processes in the background on consecutive ports BASE_PORT..BASE_PORT+COUNT-1
# and prints their endpoints, one per line, on stdout (feed them to zlb-client --endpoints-file).
#
# Usage: scripts/start-servers.sh COUNT BASE_PORT [MODE] [-- extra zlb-server flags]
#   MODE  cpu | io | all (default all)
#   e.g.  scripts/start-servers.sh 4 8004 > endpoints.txt
#         scripts/start-servers.sh 2 8010 io -- --threads 64 --log-level debug
# Each server runs as: zlb-server --bind tcp://HOST:PORT --name <hostname>:PORT --mode MODE [extra],
# in its own session, with pid and log files in RUN_DIR/servers/PORT.pid and PORT.log.
# A server is up once its log has a "listening" line. Stop them with scripts/stop-servers.sh.
# Env (relative paths are relative to the repo root):
#   ZLB_RUN_DIR          run directory (default run)
#   ZLB_BIN_DIR          directory holding zlb-server (default build/bin)
#   ZLB_BIND_HOST        bind address (default 127.0.0.1; * or 0.0.0.0 for multi-host use)
#   ZLB_ADVERTISE_HOST   host printed in the endpoints (default: the bind host, or this
#                        machine's hostname when binding to * / 0.0.0.0)
#   ZLB_START_TIMEOUT_S  how long to wait for "listening" (default 15)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG="start-servers"

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "$PROG: $*" >&2; exit 1; }
bad_usage() { echo "$PROG: $* (see --help)" >&2; exit 2; }
abspath() { if [[ $1 == /* ]]; then echo "$1"; else echo "$ROOT/$1"; fi; }
is_positive() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 >= 1)); }
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((10#$t / 1000)); }

# is_alive PID: PID is a live (non-zombie) process.
is_alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# is_server PID: PID is a live zlb-server process (not a reused pid from an old pid file).
is_server() {
  is_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q zlb-server
}

# port_in_use PORT: something already listens on PORT (any address).
port_in_use() {
  if command -v ss >/dev/null; then
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

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
  is_positive "$BASE_PORT" || bad_usage "bad BASE_PORT: $BASE_PORT"
  COUNT=$((10#$COUNT)) BASE_PORT=$((10#$BASE_PORT))
  ((BASE_PORT + COUNT - 1 <= 65535)) || bad_usage "ports $BASE_PORT..$((BASE_PORT + COUNT - 1)) exceed 65535"
  [[ $MODE == cpu || $MODE == io || $MODE == all ]] || bad_usage "MODE must be cpu, io or all: $MODE"
}

# preflight: binary present, no live server already recorded for a port, ports free.
preflight() {
  [[ -x $BIN ]] || die "server binary not found: $BIN (build it with scripts/setup.sh)"
  mkdir -p "$SERVERS_DIR"
  local port pidfile pid
  for ((port = BASE_PORT; port < BASE_PORT + COUNT; port++)); do
    pidfile="$SERVERS_DIR/$port.pid"
    if [[ -s $pidfile ]]; then
      pid=$(<"$pidfile")
      is_server "$pid" && die "port $port: server already running (pid $pid, $pidfile); stop it with scripts/stop-servers.sh $port"
      rm -f "$pidfile"   # stale
    fi
    port_in_use "$port" && die "port $port is already in use"
  done
  return 0
}

# launch PORT: start one server in its own session; record its pid.
launch() {
  local port=$1 log="$SERVERS_DIR/$1.log"
  setsid "$BIN" --bind "tcp://$BIND_HOST:$port" --name "$NAME_HOST:$port" --mode "$MODE" \
    ${EXTRA[@]+"${EXTRA[@]}"} </dev/null >"$log" 2>&1 &
  echo "$!" >"$SERVERS_DIR/$port.pid"
  STARTED+=("$port")
}

# rollback: stop the servers this invocation started (startup failed part-way).
rollback() {
  ((${#STARTED[@]})) || return 0
  echo "$PROG: stopping the ${#STARTED[@]} server(s) started by this call" >&2
  ZLB_RUN_DIR=$RUN_DIR ZLB_STOP_TIMEOUT_S=${ZLB_STOP_TIMEOUT_S:-5} \
    "$ROOT/scripts/stop-servers.sh" "${STARTED[@]}" >&2 || true
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
  BIN="$(abspath "${ZLB_BIN_DIR:-build/bin}")/zlb-server"
  BIND_HOST=${ZLB_BIND_HOST:-127.0.0.1}
  NAME_HOST=${HOSTNAME:-$(uname -n)}
  local advertise=$BIND_HOST
  [[ $BIND_HOST == "*" || $BIND_HOST == 0.0.0.0 ]] && advertise=$NAME_HOST
  advertise=${ZLB_ADVERTISE_HOST:-$advertise}
  STARTED=()

  preflight
  trap 'rollback; exit 130' INT TERM
  local port
  for ((port = BASE_PORT; port < BASE_PORT + COUNT; port++)); do launch "$port"; done
  wait_listening
  trap - INT TERM
  for port in "${STARTED[@]}"; do echo "tcp://$advertise:$port"; done
  echo "$PROG: $COUNT $MODE server(s) up on ports $BASE_PORT..$((BASE_PORT + COUNT - 1)) (pids/logs in $SERVERS_DIR)" >&2
}

main "$@"
