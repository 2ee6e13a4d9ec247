#!/usr/bin/env bash
# Sets up (packages + Release build) and runs the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${ZLB_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${ZLB_TEST_JOBS:-2}" "$@"
