# Shell helpers shared by the scripts in scripts/: sourced, never run. Each script sets PROG
# (the name in its messages) and ROOT (the repo root) before sourcing it:
#   source "$ROOT/scripts/lib.sh"
# (lib.sh sets ROOT again, to the same repo root.) The scripts that are also installed
# (start-servers, stop-servers, supervise, zlb-server-port) set only PROG and look for lib.sh
# beside themselves, then in ../lib/zlb: see "where things are" below.
# shellcheck shell=bash

# ---------------------------------------------------------------- where things are
# From the source tree this file is scripts/lib.sh. Installed (cmake --install, the .deb) it is
# PREFIX/lib/zlb/lib.sh, beside zlb-server-port.sh; the binaries and the scripts users run
# (zlb-start-servers, zlb-stop-servers, zlb-supervise) are in PREFIX/bin, the supervisord
# templates in PREFIX/share/zlb. Installed, ROOT (the base of relative paths such as the default
# run directory 'run') is the current directory, since PREFIX is no place to write.
#   ZLB_LAYOUT        source | installed
#   ZLB_DEFAULT_BIN   default for ZLB_BIN_DIR (build/bin, or PREFIX/bin)
#   ZLB_SCRIPTS_DIR   zlb-server-port.sh (scripts/, or PREFIX/lib/zlb)
#   ZLB_SHARE_DIR     supervisord.conf, supervisord-broker.conf (scripts/, or PREFIX/share/zlb)
#   ZLB_STOP_SERVERS  stop-servers.sh, or PREFIX/bin/zlb-stop-servers
# shellcheck disable=SC2034  # for the scripts that source this
ZLB_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $ZLB_SCRIPTS_DIR == */lib/zlb && -f $ZLB_SCRIPTS_DIR/../../share/zlb/supervisord.conf ]]; then
  ZLB_LAYOUT=installed
  ZLB_PREFIX=$(cd "$ZLB_SCRIPTS_DIR/../.." && pwd)
  ROOT=$PWD
  ZLB_DEFAULT_BIN=$ZLB_PREFIX/bin
  ZLB_SHARE_DIR=$ZLB_PREFIX/share/zlb
  ZLB_STOP_SERVERS=$ZLB_PREFIX/bin/zlb-stop-servers
else
  ZLB_LAYOUT=source
  ROOT=$(cd "$ZLB_SCRIPTS_DIR/.." && pwd) # what the scripts that set it computed too
  ZLB_DEFAULT_BIN=build/bin
  ZLB_SHARE_DIR=$ZLB_SCRIPTS_DIR
  ZLB_STOP_SERVERS=$ZLB_SCRIPTS_DIR/stop-servers.sh
fi

# usage: the script's header comment, from line 2 up to `set -euo`, without the '# '; run by an
# installed name (zlb-start-servers), with the installed names of the scripts it mentions.
usage() {
  local names='s#scripts/(start-servers|stop-servers|supervise)\.sh#zlb-\1#g'
  [[ ${0##*/} == zlb-* && ${0##*/} != *.sh ]] || names=''
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" | sed -E "$names"
}
log() { echo "$PROG: $*" >&2; }
die() { log "$*"; exit 1; }
bad_usage() { log "$* (see --help)"; exit 2; }
is_positive() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 >= 1)); }

# abspath PATH [BASE]: PATH as is when absolute, else BASE/PATH (BASE defaults to ROOT).
abspath() { if [[ $1 == /* ]]; then echo "$1"; else echo "${2:-$ROOT}/$1"; fi; }

# now_ms: milliseconds since the epoch (for deadlines).
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((10#$t / 1000)); }

# ---------------------------------------------------------------- processes and pid files

# is_alive PID: PID is a live (non-zombie) process.
is_alive() {
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# pid_is PID NAME: PID is a live process whose command line contains NAME (so a pid from an
# old pid file that the system has since given to another program does not count).
pid_is() {
  is_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}

# pidfile_pid FILE NAME: print the pid in FILE if it is a live NAME process, else fail.
pidfile_pid() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  pid_is "$pid" "$2" || return 1
  echo "$pid"
}

# wait_gone PID TIMEOUT_MS: poll until PID has exited (or is a zombie); fail at the deadline.
wait_gone() {
  local start
  start=$(now_ms)
  while is_alive "$1"; do
    (($(now_ms) - start > $2)) && return 1
    sleep 0.05
  done
}

# ---------------------------------------------------------------- ports
# Ports the scripts choose themselves lie outside the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range), where outgoing connections take their local ports:
# a port picked there can be taken by any connect() before the server binds it, or while it
# restarts. They come in blocks of PORT_BLOCK ports (block b is b*PORT_BLOCK.., from
# PORT_LOW up), and whoever picks from a block holds an exclusive flock(1) on
# $TMPDIR/zlb-ports-UID/block-b.lock meanwhile, so that two zlb scripts or tests running at
# once never pick the same port. tests/integration/zlbutil.py follows the same rules.
PORT_BLOCK=128
PORT_LOW=10000
PORT_LOCK_FDS=()

# base_port_arg VAR COUNT WHAT: check the base port in VAR for COUNT ports ('auto' or a number,
# leading zeros dropped); WHAT names it in the error.
base_port_arg() {
  local -n value=$1
  if [[ $value == auto ]]; then
    (($2 <= PORT_BLOCK)) || bad_usage "$3 auto takes at most $PORT_BLOCK ports: $2"
  else
    is_positive "$value" || bad_usage "bad $3: $value"
    value=$((10#$value))
    ((value + $2 - 1 <= 65535)) || bad_usage "ports $value..$((value + $2 - 1)) exceed 65535"
  fi
}

# ephemeral_range: print the kernel's ephemeral port range as "LO HI".
ephemeral_range() {
  local lo=32768 hi=60999
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  echo "$lo $hi"
}

# warn_if_ephemeral FIRST LAST: warn when FIRST..LAST overlaps the ephemeral range.
warn_if_ephemeral() {
  local lo hi
  read -r lo hi <<<"$(ephemeral_range)"
  if (($1 <= hi && $2 >= lo)); then
    log "warning: ports $1..$2 overlap the kernel's ephemeral range $lo..$hi" \
      "(/proc/sys/net/ipv4/ip_local_port_range): an outgoing connection may hold one of them" \
      "when a server binds or restarts. Pick ports outside it, or 'auto'."
  fi
  return 0
}

# port_in_use PORT: something listens on PORT (any address).
port_in_use() {
  if command -v ss >/dev/null; then
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# port_unused PORT: no TCP socket at all, listening, connected or closing, has PORT as its
# local port (stricter than ! port_in_use: the test for a port to pick).
port_unused() {
  if command -v ss >/dev/null; then
    [[ -z $(ss -Htan "sport = :$1" 2>/dev/null) ]]
  else
    ! port_in_use "$1"
  fi
}

# pick_ports COUNT: set PORT_BASE to the first of COUNT consecutive free ports (COUNT <=
# PORT_BLOCK) outside the ephemeral range, in a block this shell now holds the lock of (its fd
# is added to PORT_LOCK_FDS; the lock goes when every process holding the fd has exited).
# Sets a variable rather than printing: a $(...) subshell would drop the lock on exit.
pick_ports() {
  local count=$1 lo hi dir b first last n off i fd base p
  ((count >= 1 && count <= PORT_BLOCK)) || die "pick_ports: count must be 1..$PORT_BLOCK: $count"
  read -r lo hi <<<"$(ephemeral_range)"
  dir="${TMPDIR:-/tmp}/zlb-ports-$(id -u)"
  [[ -d $dir ]] || mkdir -m 700 "$dir" 2>/dev/null || [[ -d $dir ]] ||
    die "cannot create the port lock directory $dir"
  local blocks=()
  first=$(((PORT_LOW + PORT_BLOCK - 1) / PORT_BLOCK)) last=$((65536 / PORT_BLOCK - 1))
  for ((b = first; b <= last; b++)); do
    ((b * PORT_BLOCK + PORT_BLOCK - 1 < lo || b * PORT_BLOCK > hi)) && blocks+=("$b")
  done
  n=${#blocks[@]}
  ((n)) || die "no ports between $PORT_LOW and 65535 lie outside the ephemeral range $lo..$hi"
  off=$((RANDOM % n))
  for ((i = 0; i < n; i++)); do
    b=${blocks[(off + i) % n]}
    exec {fd}>>"$dir/block-$b.lock"
    if flock -n "$fd"; then
      for ((base = b * PORT_BLOCK; base + count <= (b + 1) * PORT_BLOCK; base++)); do
        for ((p = base; p < base + count; p++)); do port_unused "$p" || break; done
        if ((p == base + count)); then
          # shellcheck disable=SC2034  # for the caller
          PORT_BASE=$base
          PORT_LOCK_FDS+=("$fd")
          return 0
        fi
        base=$p # the next run starts after the busy port
      done
    fi
    exec {fd}>&-
  done
  die "no $count consecutive free ports outside the ephemeral range $lo..$hi"
}

# without_port_locks CMD...: exec CMD with the port-lock fds closed, so a long-lived child
# (a server, nginx) does not keep the block locked once its port is bound. Run it in a
# subshell: (without_port_locks cmd ...) &
without_port_locks() {
  local fd
  for fd in ${PORT_LOCK_FDS[@]+"${PORT_LOCK_FDS[@]}"}; do exec {fd}>&-; done
  exec "$@"
}

# ADDR_IN_USE: how a lost race for a port shows in zlb-server's and nginx's logs.
# shellcheck disable=SC2034  # for the scripts that source this
ADDR_IN_USE="Address already in use"

