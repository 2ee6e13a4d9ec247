#!/usr/bin/env bash
# Installs the Debian packages zlb needs (only the missing ones) and builds build/ in Release.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every command the scripts, tests and benchmarks run comes from one of these (or from an
# Essential package: bash, coreutils, grep, sed, mawk, util-linux's setsid).
PACKAGES=(
  build-essential cmake pkg-config
  cppzmq-dev libzmq3-dev libmsgpack-cxx-dev libcurl4-openssl-dev libcli11-dev doctest-dev
  nginx libnginx-mod-http-echo  # the loopback HTTP target (scripts/http-target.sh)
  curl                          # http-target.sh polls nginx until it answers
  supervisor                    # supervisord, supervisorctl (scripts/supervise.sh)
  iproute2                      # ss (free ports), ip netns (tests/integration/test_netns.py)
  procps                        # ps (start-servers.sh)
  coreutils                     # factor: the GNU baseline in bench/
  time                          # /usr/bin/time -v: peak RSS in bench/run.sh
  git                           # bench/run.py records the commit it measured
  shellcheck                    # lints scripts/*.sh
  ca-certificates               # zlb-server's https fetches verify peers against it
  python3 python3-zmq python3-msgpack  # integration tests, examples/python_client.py
  python3-tornado python3-aiohttp      # the Python peers in bench/peers/
  tmux                          # the client's live view, read at 60 columns in a test
  lintian file help2man         # the .deb cpack builds: its checks and its manual pages (test_package.py)
  librsvg2-bin fonts-dejavu-core  # rsvg-convert renders zlb-client --plot SVGs in the tests
  zlib1g-dev                    # zlib: the V2 compressed histograms of --hlog interval logs (stats/)
  default-jre-headless libhdrhistogram-java  # Java's HdrHistogram reads --hlog files (tests/integration/test_hlog.py)
)
# A clang build (CXX=clang++, scripts/clang-build.sh, scripts/fuzz.sh) also needs clang and its
# runtime libraries (sanitizers, libFuzzer).
if [[ ${CXX:-} == *clang* ]]; then PACKAGES+=(clang libclang-rt-dev); fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

BUILD_DIR=${ZLB_BUILD_DIR:-build}
BUILD_TYPE=${ZLB_BUILD_TYPE:-Release}
read -ra cmake_args <<<"${ZLB_CMAKE_ARGS:-}"  # several flags, split on blanks
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${cmake_args[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
