#!/usr/bin/env bash
# Builds everything with g++ under AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/
# (-DZLB_SANITIZE=ON, RelWithDebInfo, which that build makes -O1 -g1) and runs the whole ctest
# suite there. The integration tests start the sanitized zlb-server/zlb-client binaries from
# build-asan/bin (ZLB_BIN_DIR), which inherit the options below: any report, a leak at exit
# included, aborts the process, and the tests treat a server or client that died or exited
# non-zero as a failure.
#
# Tests labelled `timing` (assertions on wall-clock speed, which sanitizers slow down several
# times), `limits` (peak-memory bounds, which ASan's quarantine inflates, and a process at
# its descriptor limit, where the sanitizer runtimes need descriptors too) or `bench` (the
# benchmark smoke run: numbers, not checks, and 3 min under ASan; the Release run has it)
# are left out; everything else runs.
#
# Usage: scripts/sanitize.sh [extra ctest args]    e.g. scripts/sanitize.sh -L unit
# Env: ZLB_ASAN_BUILD_DIR (default build-asan), ZLB_TEST_JOBS (default 2),
#      ZLB_ASAN_EXCLUDE_LABELS (ctest -LE regex, default timing|limits|bench; empty: run every test)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${ZLB_ASAN_BUILD_DIR:-build-asan}

# setup.sh installs any missing package, then configures and builds BUILD_DIR. The compiler
# is fixed here: CMake remembers it, and the sanitizer flags are g++'s.
CC=gcc CXX=g++ ZLB_BUILD_DIR="$BUILD_DIR" ZLB_BUILD_TYPE=RelWithDebInfo \
  ZLB_CMAKE_ARGS="-DZLB_SANITIZE=ON -DZLB_BUILD_TESTS=ON" scripts/setup.sh

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
EXCLUDE=${ZLB_ASAN_EXCLUDE_LABELS-timing|limits|bench|slow}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${ZLB_TEST_JOBS:-2}" \
  ${EXCLUDE:+-LE "$EXCLUDE"} "$@"
