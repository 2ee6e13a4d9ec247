#!/usr/bin/env bash
# zlb demo: builds everything (scripts/setup.sh), starts a loopback HTTP target, 2 cpu servers and
# 2 io servers on free ports (outside the kernel's ephemeral range; 'auto' in http-target.sh and
# start-servers.sh) in a private run dir, then runs zlb-client twice and prints its reports:
#   1. factor: 20,000 random 64-bit semiprimes over the 2 cpu servers (batch 8, window 64)
#   2. fetch:  200 URLs answering after 1 s each over the 2 io servers (window 200)
# Everything is stopped on exit, error or Ctrl-C. Exits non-zero if either client run failed.
#
# Usage: scripts/demo.sh
# Env: ZLB_BUILD_DIR (default build; binaries from ZLB_BIN_DIR, default <build dir>/bin),
#      ZLB_DEMO_KEEP=1 keeps the run dir (logs) even on success.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=demo
# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [[ -n ${RUN:-} && -d $RUN ]]; then
    log "stopping servers and HTTP target"
    ZLB_RUN_DIR="$RUN" ZLB_STOP_TIMEOUT_S=${ZLB_STOP_TIMEOUT_S:-10} "$ROOT/scripts/stop-servers.sh"
    "$ROOT/scripts/http-target.sh" stop --dir "$RUN/http-target"
    if ((rc == 0)) && [[ -z ${ZLB_DEMO_KEEP:-} ]]; then
      rm -rf "$RUN"
    else
      log "logs kept in $RUN"
    fi
  fi
  exit "$rc"
}

# run_client TITLE ARGS...: print a heading, run zlb-client (report on stdout), return its status.
run_client() {
  local title=$1 rc=0
  shift
  echo
  echo "=== $title"
  "$BIN_DIR/zlb-client" "$@" || rc=$?
  ((rc == 0)) || log "client run failed (exit $rc): $title"
  return "$rc"
}

main() {
  case ${1:-} in
    -h|--help) usage; exit 0 ;;
    "") ;;
    *) bad_usage "takes no arguments: $1" ;;
  esac
  cd "$ROOT"

  log "setup: packages + build"
  scripts/setup.sh >&2
  BIN_DIR=$(abspath "${ZLB_BIN_DIR:-${ZLB_BUILD_DIR:-build}/bin}")
  [[ -x $BIN_DIR/zlb-client && -x $BIN_DIR/zlb-server ]] || die "zlb-client/zlb-server missing in $BIN_DIR after setup"

  RUN=$(mktemp -d "${TMPDIR:-/tmp}/zlb-demo.XXXXXX")
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local http_url cpu_eps io_eps
  http_url=$(scripts/http-target.sh start --port auto --dir "$RUN/http-target")
  log "HTTP target at $http_url"
  cpu_eps=$(ZLB_RUN_DIR="$RUN" ZLB_BIN_DIR="$BIN_DIR" scripts/start-servers.sh 2 auto cpu)
  io_eps=$(ZLB_RUN_DIR="$RUN" ZLB_BIN_DIR="$BIN_DIR" scripts/start-servers.sh 2 auto io)

  local ep cpu_connect=() io_connect=()
  for ep in $cpu_eps; do cpu_connect+=(--connect "$ep"); done
  for ep in $io_eps; do io_connect+=(--connect "$ep"); done

  local i urls="$RUN/urls.txt"
  for ((i = 1; i <= 200; i++)); do echo "$http_url/delay/1/$i"; done >"$urls"

  local failed=0
  run_client "factor: 20000 random 64-bit semiprimes on 2 cpu servers (${cpu_eps//$'\n'/ }), batch 8, window 64" \
    "${cpu_connect[@]}" --op factor --random 20000 --bits 64 --semiprimes --batch 8 --window 64 || failed=1
  run_client "fetch: 200 URLs that answer after 1 s ($http_url/delay/1/N) on 2 io servers (${io_eps//$'\n'/ }), window 200" \
    "${io_connect[@]}" --op fetch --input "$urls" --window 200 --timeout-ms 10000 || failed=1
  echo
  ((failed == 0)) || die "at least one client run failed"
  log "done"
}

main "$@"
