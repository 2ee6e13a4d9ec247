#!/usr/bin/env bash
# Runs a supervised zlb server pool in the foreground: renders scripts/supervisord.conf into
# RUN_DIR/supervisord.conf and execs `supervisord -n` on it. Servers are restarted when they die;
# Ctrl-C / SIGTERM stops them all (each gets SIGTERM and up to 35 s to drain).
#
# Usage: scripts/supervise.sh [--servers N] [--base-port P] [--mode MODE] [--dir RUN_DIR] [-- extra server flags]
#   --servers N     number of servers (default 4), on ports P..P+N-1
#   --base-port P   port of the first server (default 8000); auto: N free consecutive ports
#                   outside the kernel's ephemeral range, chosen here and printed on stderr
#   --mode MODE     cpu | io | all (default all)
#   --broker PORT   also run a zlb-broker: clients on PORT, workers on PORT+1; servers join it
#                   (auto: two free ports, as for --base-port). Repeatable, up to 8: every server
#                   joins every broker, so clients connected to all of them lose nothing when one
#                   dies. One broker is the program zlb-broker; several are zlb-broker-1..N.
#   --dir RUN_DIR   run directory for the rendered config, socket and logs (default <repo>/run/supervise)
# Control: supervisorctl -c RUN_DIR/supervisord.conf status (printed on stderr at start).
# Env: ZLB_BIN_DIR (default build/bin, relative to the repo root; installed: PREFIX/bin),
#   ZLB_BIND_HOST (default 127.0.0.1). Installed, the default --dir is ./run/supervise.
set -euo pipefail

PROG=supervise
# lib.sh sets ROOT and the ZLB_* paths: it is beside this script in scripts/ (and in
# PREFIX/lib/zlb), or in PREFIX/lib/zlb when this is an installed PREFIX/bin/zlb-* script.
HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
LIB=$HERE/lib.sh
[[ -f $LIB ]] || LIB=$HERE/../lib/zlb/lib.sh
# shellcheck source=lib.sh
source "$LIB"
TEMPLATE="$ZLB_SHARE_DIR/supervisord.conf"

parse_args() {
  SERVERS=4 BASE_PORT=8000 MODE=all RUN_DIR="$ROOT/run/supervise"
  EXTRA=() BROKER_PORTS=()
  while (($#)); do
    case $1 in
      -h|--help) usage; exit 0 ;;
      --servers|--base-port|--mode|--dir|--broker)
        (($# >= 2)) || bad_usage "$1 needs a value"
        case $1 in
          --servers) SERVERS=$2 ;; --base-port) BASE_PORT=$2 ;; --mode) MODE=$2 ;; --dir) RUN_DIR=$2 ;;
          --broker) BROKER_PORTS+=("$2") ;;
        esac
        shift ;;
      --) shift; EXTRA=("$@"); break ;;
      *) bad_usage "unknown argument: $1 (server flags go after --)" ;;
    esac
    shift
  done
  is_positive "$SERVERS" || bad_usage "--servers must be a positive integer: $SERVERS"
  SERVERS=$((10#$SERVERS))
  base_port_arg BASE_PORT "$SERVERS" --base-port
  [[ $MODE == cpu || $MODE == io || $MODE == all ]] || bad_usage "--mode must be cpu, io or all: $MODE"
  [[ -n $RUN_DIR ]] || bad_usage "empty --dir"
  ((${#BROKER_PORTS[@]} <= 8)) || bad_usage "at most 8 --broker ports (a server joins at most 8 brokers)"
  local i
  for i in "${!BROKER_PORTS[@]}"; do base_port_arg "BROKER_PORTS[$i]" 2 --broker; done
}

# choose_ports: pick the 'auto' ports. The locks on their blocks stay with supervisord (exec
# keeps the fds), so no other zlb script or test picks them while the servers are supervised
# (a restarted server binds its port again). Warn about chosen ports in the ephemeral range.
choose_ports() {
  if [[ $BASE_PORT == auto ]]; then
    pick_ports "$SERVERS"
    BASE_PORT=$PORT_BASE
  else
    warn_if_ephemeral "$BASE_PORT" $((BASE_PORT + SERVERS - 1))
  fi
  local i
  for i in "${!BROKER_PORTS[@]}"; do
    if [[ ${BROKER_PORTS[i]} == auto ]]; then
      pick_ports 2
      BROKER_PORTS[i]=$PORT_BASE
    else
      warn_if_ephemeral "${BROKER_PORTS[i]}" $((BROKER_PORTS[i] + 1))
    fi
  done
}

preflight() {
  command -v supervisord >/dev/null || die "supervisord not found (install supervisor: scripts/setup.sh)"
  [[ -f $TEMPLATE ]] || die "config template missing: $TEMPLATE"
  [[ -x "$BIN_DIR/zlb-server" ]] || die "server binary not found: $BIN_DIR/zlb-server (build it with scripts/setup.sh)"
  local pid
  if pid=$(pidfile_pid "$RUN_DIR/supervisord.pid" supervisord); then
    die "already running from $RUN_DIR (supervisord pid $pid): supervisorctl -c $RUN_DIR/supervisord.conf status"
  fi
  # AF_UNIX socket paths are limited to 107 bytes.
  ((${#RUN_DIR} + 16 <= 107)) || die "run dir path too long for a unix socket (use a shorter --dir): $RUN_DIR"
  local port
  for ((port = BASE_PORT; port < BASE_PORT + SERVERS; port++)); do
    port_in_use "$port" && die "port $port is already in use"
  done
  local seen=" " broker
  for broker in ${BROKER_PORTS[@]+"${BROKER_PORTS[@]}"}; do
    for port in "$broker" $((broker + 1)); do
      ((port < BASE_PORT || port >= BASE_PORT + SERVERS)) || die "broker port $port overlaps the servers' ports"
      [[ $seen != *" $port "* ]] || die "broker port $port is given twice (each broker takes PORT and PORT+1)"
      seen+="$port "
      port_in_use "$port" && die "broker port $port is already in use"
    done
  done
  return 0
}

# min_fds: 16384, capped by the hard fd limit (supervisord refuses to start above it).
min_fds() {
  local hard; hard=$(ulimit -Hn)
  if [[ $hard == unlimited ]] || ((hard >= 16384)); then echo 16384; else echo "$hard"; fi
}

# render: fill the template's @NAME@ placeholders ('%' doubled: supervisord %-expands values).
render() {
  local conf extra="" arg name value
  for arg in ${EXTRA[@]+"${EXTRA[@]}"}; do extra+=" $(printf '%q' "$arg")"; done
  conf=$(<"$TEMPLATE")
  for name in RUN_DIR ROOT SCRIPTS_DIR BIN_DIR NUMPROCS BASE_PORT MODE BIND_HOST EXTRA_ARGS MINFDS; do
    case $name in
      NUMPROCS) value=$SERVERS ;; EXTRA_ARGS) value=${extra# } ;; MINFDS) value=$(min_fds) ;;
      SCRIPTS_DIR) value=$ZLB_SCRIPTS_DIR ;;
      *) value=${!name} ;;
    esac
    value=${value//%/%%}
    conf=${conf//"@$name@"/"$value"}
  done
  local i n=${#BROKER_PORTS[@]} section BROKER_NAME BROKER_PORT BROKER_BACKEND_PORT
  for ((i = 0; i < n; i++)); do
    # shellcheck disable=SC2034  # read through ${!name} below
    BROKER_NAME=zlb-broker BROKER_PORT=${BROKER_PORTS[i]} BROKER_BACKEND_PORT=$((BROKER_PORTS[i] + 1))
    ((n == 1)) || BROKER_NAME+="-$((i + 1))"
    section=$(<"$ZLB_SHARE_DIR/supervisord-broker.conf")
    for name in BIN_DIR BIND_HOST BROKER_NAME BROKER_PORT BROKER_BACKEND_PORT ROOT RUN_DIR; do
      value=${!name}
      section=${section//"@$name@"/"${value//%/%%}"}
    done
    conf+=$'\n'$section
  done
  printf '%s\n' "$conf" >"$RUN_DIR/supervisord.conf"
}

main() {
  parse_args "$@"
  mkdir -p "$RUN_DIR"
  RUN_DIR=$(cd "$RUN_DIR" && pwd)
  BIN_DIR=$(abspath "${ZLB_BIN_DIR:-$ZLB_DEFAULT_BIN}" "$ROOT")
  # shellcheck disable=SC2034  # read by render() through ${!name}
  BIND_HOST=${ZLB_BIND_HOST:-127.0.0.1}
  choose_ports
  preflight
  local broker
  if ((${#BROKER_PORTS[@]})); then
    [[ -x "$BIN_DIR/zlb-broker" ]] || die "broker binary not found: $BIN_DIR/zlb-broker"
  fi
  for broker in ${BROKER_PORTS[@]+"${BROKER_PORTS[@]}"}; do
    EXTRA+=(--broker "tcp://$BIND_HOST:$((broker + 1))")
  done
  render
  log "$SERVERS $MODE server(s) on ports $BASE_PORT..$((BASE_PORT + SERVERS - 1)), logs in $RUN_DIR"
  for broker in ${BROKER_PORTS[@]+"${BROKER_PORTS[@]}"}; do
    log "broker for clients at tcp://$BIND_HOST:$broker (workers on $((broker + 1)))"
  done
  log "control with: supervisorctl -c $RUN_DIR/supervisord.conf status"
  exec supervisord -n -c "$RUN_DIR/supervisord.conf"
}

main "$@"
