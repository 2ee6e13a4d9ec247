#!/usr/bin/env bash
# zlb benchmark suite.
#
# Usage: bench/run.sh [quick|full] [--no-build] [--only 1,3] [--runs N] [--out DIR]
#   quick   every scenario once, small (under 2 minutes; the ctest smoke test `bench_quick`)
#   full    every scenario, at least 3 runs per implementation, alternating zlb and peers (default)
#   --no-build  use the binaries in ZLB_BIN_DIR (or build/bin) as they are
#   --only      run just these scenarios (1 messaging, 2 cpu, 3 io, 4 stats, 5 memory,
#               6 open loop, 7 broker, 8 factor sizes)
# Writes bench/results/<date>-<host>.md and .json (quick: <date>-<host>-quick.*; --out elsewhere);
# a full run does not replace an earlier one's files: it writes <date>-<host>-2.* (-3, ...).
# Builds first (scripts/setup.sh, which also installs missing Debian packages) unless --no-build.
# Env: ZLB_BIN_DIR (binaries, default build/bin), ZLB_BUILD_DIR (for setup.sh, default build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=run.sh
# shellcheck source=../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
MODE=full
BUILD=1
ARGS=()
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    quick|full) MODE=$1 ;;
    --no-build) BUILD=0 ;;
    --only|--runs|--out) (($# >= 2)) || bad_usage "$1 needs a value"
                          ARGS+=("$1" "$2"); shift ;;
    *) bad_usage "unknown argument: $1" ;;
  esac
  shift
done

if ((BUILD)); then
  "$ROOT/scripts/setup.sh" >&2
  export ZLB_BIN_DIR=${ZLB_BIN_DIR:-$ROOT/${ZLB_BUILD_DIR:-build}/bin}
fi
export ZLB_BIN_DIR=${ZLB_BIN_DIR:-$ROOT/build/bin}
export ZLB_SOURCE_DIR=${ZLB_SOURCE_DIR:-$ROOT}
for b in zlb-server zlb-client zlb-broker zlb-bare-echo-server zlb-bare-echo-client zlb-bare-fetch; do
  [[ -x $ZLB_BIN_DIR/$b ]] || die "$ZLB_BIN_DIR/$b missing (build: scripts/setup.sh)"
done
for tool in /usr/bin/python3 /usr/bin/time factor nginx; do
  command -v "$tool" >/dev/null || die "$tool missing (install: scripts/setup.sh)"
done

# 10,000 fetches in flight need more than 1024 descriptors: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$ROOT/bench/run.py" "$MODE" --command "bench/run.sh $MODE${ARGS[*]+ ${ARGS[*]}}" ${ARGS[@]+"${ARGS[@]}"}
