#!/usr/bin/env bash
# Supervisord helper: runs zlb-server on port BASE_PORT + PROCESS_NUM (supervisord can't add), so
# [program:zlb-server] with numprocs=N gets ports BASE_PORT..BASE_PORT+N-1. Replaces itself (exec)
# with the server, so supervisord's signals reach the server directly.
#
# Usage: scripts/zlb-server-port.sh BASE_PORT PROCESS_NUM [extra zlb-server flags]
#   runs: zlb-server --bind tcp://HOST:PORT --name <hostname>:PORT [extra flags]
# Env: ZLB_BIN_DIR (default build/bin, relative to the repo root; installed: PREFIX/bin), ZLB_BIND_HOST (default 127.0.0.1).
set -euo pipefail

PROG=zlb-server-port
# lib.sh sets ROOT and the ZLB_* paths: it is beside this script in scripts/ (and in
# PREFIX/lib/zlb), or in PREFIX/lib/zlb when this is an installed PREFIX/bin/zlb-* script.
HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
LIB=$HERE/lib.sh
[[ -f $LIB ]] || LIB=$HERE/../lib/zlb/lib.sh
# shellcheck source=lib.sh
source "$LIB"

[[ ${1:-} == -h || ${1:-} == --help ]] && { usage; exit 0; }
(($# >= 2)) || bad_usage "need BASE_PORT and PROCESS_NUM"
[[ $1 =~ ^[0-9]+$ && $2 =~ ^[0-9]+$ ]] || bad_usage "BASE_PORT and PROCESS_NUM must be integers: $1 $2"
port=$((10#$1 + 10#$2))
((port >= 1 && port <= 65535)) || bad_usage "port $port out of range"
shift 2

bin="$(abspath "${ZLB_BIN_DIR:-$ZLB_DEFAULT_BIN}")/zlb-server"
[[ -x $bin ]] || die "server binary not found: $bin (build it with scripts/setup.sh)"

host=${ZLB_BIND_HOST:-127.0.0.1}
log "starting $bin on tcp://$host:$port"
exec "$bin" --bind "tcp://$host:$port" --name "${HOSTNAME:-$(uname -n)}:$port" "$@"
