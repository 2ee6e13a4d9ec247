#!/usr/bin/env bash
# Builds everything with clang++ in build-clang/ (Release, warnings as errors through CMake's
# CMAKE_COMPILE_WARNING_AS_ERROR) and runs the unit tests there: CI's second compiler. setup.sh
# installs clang when it is missing (it does for any CXX=clang++ build).
#
# Usage: scripts/clang-build.sh [extra ctest args]
# Env: ZLB_CLANG_BUILD_DIR (default build-clang), ZLB_TEST_JOBS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${ZLB_CLANG_BUILD_DIR:-build-clang}
# The compiler is fixed here: CMake remembers it in BUILD_DIR.
CC=clang CXX=clang++ ZLB_BUILD_DIR="$BUILD_DIR" ZLB_BUILD_TYPE=Release \
  ZLB_CMAKE_ARGS="-DZLB_BUILD_TESTS=ON -DCMAKE_COMPILE_WARNING_AS_ERROR=ON" scripts/setup.sh
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${ZLB_TEST_JOBS:-2}" -L unit "$@"
