#!/usr/bin/env bash
# zlb benchmark suite.
#
# Usage: bench/run.sh [quick|full] [--no-build] [--only 1,3] [--runs N] [--out DIR]
#   quick   every scenario once, small (under 2 minutes; the ctest smoke test `bench_quick`)
#   full    every scenario, at least 3 runs per implementation, alternating zlb and peers (default)
#   --no-build  use the binaries in ZLB_BIN_DIR (or build/bin) as they are
#   --only      run just these scenarios (1 messaging, 2 cpu, 3 io, 4 stats, 5 memory,
#               6 open loop, 7 broker)
# Writes bench/results/<date>-<host>.md and .json (quick: <date>-<host>-quick.*; --out elsewhere).
# Builds first (scripts/setup.sh, which also installs missing Debian packages) unless --no-build.
# Env: ZLB_BIN_DIR (binaries, default build/bin), ZLB_BUILD_DIR (for setup.sh, default build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=full
BUILD=1
ARGS=()
while (($#)); do
  case $1 in
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    quick|full) MODE=$1 ;;
    --no-build) BUILD=0 ;;
    --only|--runs|--out) (($# >= 2)) || { echo "run.sh: $1 needs a value" >&2; exit 2; }
                          ARGS+=("$1" "$2"); shift ;;
    *) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((BUILD)); then
  "$ROOT/scripts/setup.sh" >&2
  export ZLB_BIN_DIR=${ZLB_BIN_DIR:-$ROOT/${ZLB_BUILD_DIR:-build}/bin}
fi
export ZLB_BIN_DIR=${ZLB_BIN_DIR:-$ROOT/build/bin}
export ZLB_SOURCE_DIR=${ZLB_SOURCE_DIR:-$ROOT}
for b in zlb-server zlb-client zlb-broker zlb-bare-echo-server zlb-bare-echo-client; do
  [[ -x $ZLB_BIN_DIR/$b ]] || { echo "run.sh: $ZLB_BIN_DIR/$b missing (build: scripts/setup.sh)" >&2; exit 1; }
done
for tool in /usr/bin/python3 /usr/bin/time factor nginx; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool missing (install: scripts/setup.sh)" >&2; exit 1; }
done

# 10,000 fetches in flight need more than 1024 descriptors: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$ROOT/bench/run.py" "$MODE" --command "bench/run.sh $MODE${ARGS[*]+ ${ARGS[*]}}" ${ARGS[@]+"${ARGS[@]}"}
