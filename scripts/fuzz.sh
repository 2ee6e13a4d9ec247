#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan+UBSan) in build-fuzz/ and runs each
# for SECONDS on a fresh copy of its seed corpus from tests/fuzz_corpus/: fuzz_request first
# (the request decoder plus a real server's dispatch), then fuzz_reply (the client's reply
# decoder). Any crash, sanitizer report, leak, timeout (one input over 10 s) or out-of-memory
# fails the script; the reproducer is left in build-fuzz/artifacts/ and the way to replay
# it is printed. Inputs the server took over 1 s to answer are listed (/tmp/zlb-fuzz-slow/),
# and so are NOTE lines (replies of ops newer than the harness that ReplyDecoder refuses).
#
# Usage: scripts/fuzz.sh [SECONDS]     SECONDS per target, default 60
# Needs the project's packages (scripts/setup.sh installs them); installs clang and the
# libFuzzer runtime itself when they are missing.
# Env: ZLB_FUZZ_BUILD_DIR (default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-60}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
BUILD_DIR=${ZLB_FUZZ_BUILD_DIR:-build-fuzz}
TARGETS=(request reply)

apt_install() {
  echo "fuzz: installing $*" >&2
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Can clang link a libFuzzer target? The runtime is a package of its own on Debian.
can_link_fuzzer() {
  local out
  out=$(mktemp)
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer,address,undefined - -o "$out" 2>/dev/null
  local rc=$?
  rm -f "$out"
  return $rc
}

command -v clang++ >/dev/null || apt_install clang
if ! can_link_fuzzer; then
  apt_install "libclang-rt-$(clang++ -dumpversion | cut -d. -f1)-dev"
  can_link_fuzzer || { echo "fuzz: clang++ still cannot link -fsanitize=fuzzer" >&2; exit 1; }
fi

if ! CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DZLB_FUZZ=ON -DZLB_BUILD_TESTS=OFF >/dev/null; then
  echo "fuzz: cmake failed; missing packages? scripts/setup.sh installs them" >&2
  exit 1
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" --target "${TARGETS[@]/#/fuzz_}"

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ARTIFACTS="$BUILD_DIR/artifacts"
mkdir -p "$ARTIFACTS"
failed=()
for target in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/bin/fuzz_$target"
  corpus="$BUILD_DIR/corpus/$target" # a copy: new units land here, never in the repo
  log="$BUILD_DIR/fuzz_$target.log"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp tests/fuzz_corpus/"$target"/* "$corpus"/
  seeds=("$corpus"/*)
  echo "fuzz: fuzz_$target for ${SECS} s on ${#seeds[@]} seeds (log: $log)"
  if "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$ARTIFACTS/fuzz_$target-" "$corpus" >"$log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" |
      sed 's/^/  /'
  else
    tail -n 80 "$log"
    echo "fuzz: fuzz_$target FAILED. Reproducer(s) in $ARTIFACTS/; replay one with: $bin FILE" >&2
    failed+=("fuzz_$target")
  fi
  grep -h -E 'SLOW:|NOTE:' "$log" | sed 's/^/  /' || true
done

if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} passed, 0 failed"
