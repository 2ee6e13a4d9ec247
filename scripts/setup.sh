#!/usr/bin/env bash
# Installs the Debian packages zlb needs (only the missing ones) and builds build/ in Release.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config
  cppzmq-dev libzmq3-dev libmsgpack-cxx-dev libcurl4-openssl-dev libcli11-dev doctest-dev
  nginx libnginx-mod-http-echo supervisor iproute2 procps coreutils
  time  # /usr/bin/time -v: peak RSS in bench/run.sh
  python3 python3-zmq python3-tornado python3-aiohttp python3-msgpack
  librsvg2-bin fonts-dejavu-core  # rsvg-convert renders zlb-client --plot SVGs in the tests
)

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
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${ZLB_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
