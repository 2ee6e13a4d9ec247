#!/usr/bin/env bash
# Sets up (packages + Release build), runs shellcheck on every script and the whole test
# suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Every script passes shellcheck (setup.sh installs it); a finding fails the suite.
shellcheck scripts/*.sh bench/*.sh
echo "test: shellcheck passed on scripts/*.sh and bench/*.sh"
BUILD_DIR=${ZLB_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${ZLB_TEST_JOBS:-2}" "$@"
