#!/usr/bin/env bash
# Loopback HTTP target for zlb fetch tests: nginx + echo module on 127.0.0.1:PORT, run from a
# private prefix (RUN_DIR) rendered from scripts/nginx.conf.in. Nothing is written outside RUN_DIR.
#
# Usage: scripts/http-target.sh {start|stop|status} [--port PORT|auto] [--dir RUN_DIR]
#   start   render the config, start nginx, wait until the port answers, print http://127.0.0.1:PORT
#           (--port auto: a free port outside the kernel's ephemeral range, chosen here; another
#           one when a different process takes it before nginx can bind it)
#   stop    graceful QUIT via the pid file (TERM, then KILL of the group, if it does not exit)
#   status  exit 0 and print the base URL when running, exit 1 otherwise
# Defaults: --port 8080 (start; stop/status read the port from RUN_DIR), --dir <repo>/run/http-target.
# Endpoints: /  /delay/<seconds>/<word>  /status/<code>  /bytes/<n>  /redirect/<n>
# Env: ZLB_HTTP_START_TIMEOUT_S (default 10), ZLB_HTTP_STOP_TIMEOUT_S (default 30).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEMPLATE="$ROOT/scripts/nginx.conf.in"
ECHO_MODULE=/usr/lib/nginx/modules/ngx_http_echo_module.so
REDIRECT_MAX=100
PROG=http-target
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"
AUTO_RETRIES=10 # lost races for a port tolerated by --port auto

port_answers() { # port answers a TCP connect on 127.0.0.1
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# nginx_pid: print the master pid if the pid file points at a live nginx, else fail.
nginx_pid() { pidfile_pid "$RUN_DIR/nginx.pid" nginx; }

render_config() {
  local user_line="# not started as root: workers run as the invoking user"
  [[ $(id -u) -eq 0 ]] && user_line="user root;  # started as root: keep workers able to use RUN_DIR"
  mkdir -p "$RUN_DIR/tmp"
  local n
  {
    echo "1 /status/200;"
    for ((n = 2; n <= REDIRECT_MAX; n++)); do echo "$n /redirect/$((n - 1));"; done
  } >"$RUN_DIR/redirect-map.conf"
  local esc=${RUN_DIR//&/\\&}
  sed -e "s|@RUN_DIR@|${esc//|/\\|}|g" -e "s|@PORT@|$PORT|g" -e "s|@USER_LINE@|$user_line|" \
    "$TEMPLATE" >"$RUN_DIR/nginx.conf"
}

# nginx_launch: render the config for PORT and start nginx. Exits on failure, except that it
# returns 1 when the port was taken (nginx could not bind it).
nginx_launch() {
  render_config
  local out
  if ! out=$( (without_port_locks nginx -p "$RUN_DIR" -c "$RUN_DIR/nginx.conf" -e "$RUN_DIR/error.log") 2>&1); then
    [[ $out == *"$ADDR_IN_USE"* ]] && return 1
    die "nginx failed to start: $(grep -m1 -E 'emerg|alert|crit' <<<"$out" || echo "$out" | tail -n1)"
  fi
  echo "$PORT" >"$RUN_DIR/port"
}

cmd_start() {
  command -v nginx >/dev/null || die "nginx not found (install it: scripts/setup.sh)"
  [[ -f $ECHO_MODULE ]] || die "nginx echo module missing ($ECHO_MODULE; install libnginx-mod-http-echo: scripts/setup.sh)"
  [[ -f $TEMPLATE ]] || die "config template missing: $TEMPLATE"
  local pid
  if pid=$(nginx_pid); then die "already running from $RUN_DIR (pid $pid); stop it first"; fi

  mkdir -p "$RUN_DIR"
  RUN_DIR=$(cd "$RUN_DIR" && pwd)
  if [[ $PORT == auto ]]; then
    local tries
    for ((tries = 0; ; tries++)); do
      pick_ports 1
      PORT=$PORT_BASE
      nginx_launch && break
      ((tries < AUTO_RETRIES)) || die "lost the race for a free port $((tries + 1)) times"
      log "port $PORT was taken before nginx could bind it; trying another"
    done
  else
    port_answers "$PORT" && die "port $PORT is busy on 127.0.0.1"
    warn_if_ephemeral "$PORT" "$PORT"
    nginx_launch || die "nginx failed to start: port $PORT: $ADDR_IN_USE"
  fi

  local timeout_ms=$(( ${ZLB_HTTP_START_TIMEOUT_S:-10} * 1000 )) start
  start=$(now_ms)
  until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$PORT/" 2>/dev/null; do
    if ! nginx_pid >/dev/null; then
      die "nginx exited during startup: $(tail -n1 "$RUN_DIR/error.log" 2>/dev/null)"
    fi
    if (( $(now_ms) - start > timeout_ms )); then
      cmd_stop >/dev/null 2>&1 || true
      die "port $PORT did not answer within ${ZLB_HTTP_START_TIMEOUT_S:-10}s (see $RUN_DIR/error.log)"
    fi
    sleep 0.05
  done
  echo "http://127.0.0.1:$PORT"
}

cmd_stop() {
  local pid timeout_ms=$(( ${ZLB_HTTP_STOP_TIMEOUT_S:-30} * 1000 ))
  if ! pid=$(nginx_pid); then
    rm -f "$RUN_DIR/nginx.pid"
    log "not running ($RUN_DIR)"
    return 0
  fi
  kill -QUIT "$pid" 2>/dev/null || true   # graceful: finish in-flight requests
  if ! wait_gone "$pid" "$timeout_ms"; then
    log "warning: nginx $pid ignored QUIT for ${ZLB_HTTP_STOP_TIMEOUT_S:-30}s, sending TERM"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 5000; then
      log "warning: killing nginx process group $pid"
      # nginx setsid()s, so its process group (master + workers) has the master's pid as id;
      # killing the group matters because workers outlive a killed master.
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 5000 || die "nginx $pid did not exit"
    fi
  fi
  rm -f "$RUN_DIR/nginx.pid"
  log "stopped (pid $pid)"
}

cmd_status() {
  local pid port
  if pid=$(nginx_pid); then
    port=$(cat "$RUN_DIR/port" 2>/dev/null || echo "$PORT")
    echo "http://127.0.0.1:$port"
    log "running (pid $pid, dir $RUN_DIR)"
    return 0
  fi
  log "not running ($RUN_DIR)"
  return 1
}

main() {
  local action="" port_set=""
  PORT=8080
  RUN_DIR="$ROOT/run/http-target"
  while (($#)); do
    case $1 in
      -h|--help) usage; exit 0 ;;
      start|stop|status) [[ -z $action ]] || bad_usage "only one action allowed"; action=$1 ;;
      --port) (($# >= 2)) || bad_usage "--port needs a value"; PORT=$2; port_set=1; shift ;;
      --port=*) PORT=${1#*=}; port_set=1 ;;
      --dir) (($# >= 2)) || bad_usage "--dir needs a value"; RUN_DIR=$2; shift ;;
      --dir=*) RUN_DIR=${1#*=} ;;
      *) bad_usage "unknown argument: $1" ;;
    esac
    shift
  done
  [[ -n $action ]] || bad_usage "missing action: start, stop or status"
  if [[ $PORT == auto && $action == start ]]; then
    :
  elif ! [[ $PORT =~ ^[0-9]+$ ]] || ((10#$PORT < 1 || 10#$PORT > 65535)); then
    bad_usage "bad port: $PORT"
  else
    PORT=$((10#$PORT))
  fi
  [[ -n $RUN_DIR ]] || bad_usage "empty --dir"
  if [[ -z $port_set && -s "$RUN_DIR/port" ]] && [[ $action != start ]]; then PORT=$(<"$RUN_DIR/port"); fi
  "cmd_$action"
}

main "$@"
