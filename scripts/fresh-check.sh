#!/usr/bin/env bash
# Fresh-machine check: the README's two commands on a minimal Debian 12 root, as a new user runs
# them. Makes a root with `debootstrap --variant=minbase bookworm` from the Debian mirror the
# host's apt uses, clones the committed HEAD of this checkout into it (/root/zlb; uncommitted
# changes are not part of it, as in CI), and runs `scripts/test.sh`, then `scripts/demo.sh`,
# there under chroot as root with a clean environment (PATH, HOME, LANG=C.UTF-8, CI=true). The
# root gets the host's Debian apt sources and resolv.conf, nothing else: every package comes from
# scripts/setup.sh. It lists the ctest tests skipped there, with their reasons, and exits non-zero
# if either command failed.
#
# Each command runs in private mount and PID namespaces (unshare): /proc, /sys, /dev and a tmpfs
# /run are mounted for it there, and when it ends the kernel kills whatever it left running and
# drops the mounts, even if this script is killed. Daemons are not started by package installs
# (policy-rc.d). On exit, also on failure or Ctrl-C, the work directory is removed, unless
# --keep; nothing is removed while anything is still mounted below it.
#
# Usage: scripts/fresh-check.sh [--keep] [--dir PARENT] [--mirror URL]
#        scripts/fresh-check.sh --enter ROOT [COMMAND...]   a shell (or COMMAND) in a kept root
#   --keep        keep the work directory (the root, logs) for debugging; --enter opens it
#   --dir PARENT  where the work directory goes (default: $TMPDIR or /tmp; needs 4 GiB free)
#   --mirror URL  Debian mirror (default: the host's apt source for bookworm)
# Needs root, debootstrap and git (installed with apt-get when missing) and the mirror.
set -euo pipefail

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
PROG=fresh-check
SUITE=bookworm
CHROOT_SRC=/root/zlb
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
NEED_KB=$((4 * 1024 * 1024))

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF"; }
log() { echo "$PROG: $*" >&2; }
die() { log "$*"; exit 1; }
bad_usage() { echo "$PROG: $* (see --help)" >&2; exit 2; }

# ---- inside the namespaces (as PID 1 of a new PID namespace, with a private mount namespace)

# in_namespace ROOT COMMAND...: mount what a booted machine has, run COMMAND chrooted in ROOT.
# Everything mounted here belongs to this mount namespace and goes away with it.
in_namespace() {
  local root=$1
  shift
  # The root a mount point of its own, as / is on a machine: `ip netns` makes / a slave mount.
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"  # ip netns makes /run/netns
  # A clean environment, and every signal at its default: a background job here has INT and
  # QUIT ignored, and tests that signal servers would inherit that.
  local rc=0
  chroot "$root" /usr/bin/env -i --default-signal PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 \
    CI=true "$@" || rc=$?
  return "$rc"
}

# Fresh mount and PID namespaces for a command. PID 1 there is unshare's child, killed when
# unshare dies; its end takes everything else in the namespace with it, and all the mounts.
NAMESPACES=(unshare --mount --propagation private --pid --fork --kill-child=KILL --)

# ---- on the host

# host_mirror: the first URI of the host's apt sources that serves $SUITE (deb822 or one-line).
host_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    if [[ $f == *.sources ]]; then
      awk -v suite="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
        { types = uris = suites = ""; enabled = "yes"
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^#/ || $i !~ /:/) continue
            key = tolower(substr($i, 1, index($i, ":") - 1)); val = substr($i, index($i, ":") + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", val)
            if (key == "types") types = val; else if (key == "uris") uris = val
            else if (key == "suites") suites = val; else if (key == "enabled") enabled = tolower(val)
          }
          if (enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ (" " suite " ")) {
            split(uris, u, " "); print u[1]; exit
          } }' "$f"
    else
      awk -v suite="$SUITE" '$1 == "deb" { i = 2
          if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
          if ($(i + 1) == suite) { print $i; exit } }' "$f"
    fi
  done | head -n1
}

uri_host() { local h=${1#*://}; echo "${h%%/*}"; }

# copy_apt_sources ROOT MIRROR: the host's apt source files whose every URI is on the mirror's
# host go into ROOT (a third-party repository on the host stays out); they replace the
# sources.list debootstrap wrote, which only has $SUITE main.
copy_apt_sources() {
  local root=$1 host f uris u ok copied=0 keyring
  host=$(uri_host "$2")
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    if [[ $f == *.sources ]]; then
      uris=$(grep -iE '^URIs:' "$f" | cut -d: -f2- || true)
    else
      uris=$(awk '$1 == "deb" || $1 == "deb-src" { i = 2
        if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ } print $i }' "$f")
    fi
    [[ -n ${uris//[[:space:]]/} ]] || continue
    ok=1
    for u in $uris; do [[ $(uri_host "$u") == "$host" ]] || ok=0; done
    ((ok)) || { log "not copying $f into the root (not on $host)"; continue; }
    if ((copied == 0)); then rm -f "$root/etc/apt/sources.list"; fi
    cp "$f" "$root$f" || return 1
    copied=$((copied + 1))
    # A Signed-By keyring the root lacks comes from the host (Debian's is in the root already).
    while read -r keyring; do
      [[ -f $keyring && ! -e $root$keyring ]] || continue
      mkdir -p "$(dirname "$root$keyring")" && cp "$keyring" "$root$keyring" || return 1
    done < <(grep -ohiE 'signed-by[:=] *[^] ]+' "$f" | sed -E 's/^[^:=]*[:=] *//')
  done
  ((copied)) || log "no host apt source on $host; keeping debootstrap's sources.list"
}

# mounts_below DIR: mount points at or below DIR in this (the host's) mount namespace.
mounts_below() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

# pids_in DIR: processes whose root directory is DIR (a chroot there).
pids_in() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    [[ $r == "$1" ]] && echo "${p#/proc/}"
  done
  return 0
}

cleanup() {
  local rc=$? left
  trap - EXIT INT TERM
  set +e
  [[ -n ${WORK:-} && -d $WORK ]] || exit "$rc"
  # A step still running (signal): ending its unshare ends its namespaces and all in them.
  # KILL: unshare --fork blocks TERM and INT while it waits for its child.
  if [[ -n ${CHILD:-} ]]; then
    kill -KILL "$CHILD" 2>/dev/null
    wait "$CHILD" 2>/dev/null
  fi
  # Wait (bounded) until nothing runs chrooted in the root any more.
  local deadline=$((SECONDS + 20)) pids=()
  while mapfile -t pids < <(pids_in "$ROOT") && ((${#pids[@]})) && ((SECONDS < deadline)); do
    kill -KILL "${pids[@]}" 2>/dev/null
    sleep 0.1
  done
  # Nothing below WORK is mounted in this namespace; if something is (a hand-made mount, an old
  # util-linux), unmount it, lazily if need be, and never delete through a mount.
  left=$(mounts_below "$WORK")
  if [[ -n $left ]]; then
    log "unmounting what is still mounted below $WORK"
    umount -R "$WORK" 2>/dev/null || umount -R -l "$WORK" 2>/dev/null
    while read -r m; do umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null; done <<<"$left"
    left=$(mounts_below "$WORK")
  fi
  if [[ -n $left ]]; then
    log "NOT removing $WORK: still mounted: $(echo "$left" | tr '\n' ' ')"
    ((rc)) || rc=1
  elif [[ -n ${KEEP:-} ]]; then
    log "kept $WORK; a shell in the root: $SELF --enter $ROOT"
  else
    rm -rf --one-file-system "$WORK"
  fi
  exit "$rc"
}

# step NAME COMMAND...: run, time and record a step; never stops the script.
declare -A STEP_RC=() STEP_S=()
STEPS=()
step() {
  local name=$1 start=$SECONDS rc=0
  shift
  log "=== $name"
  "$@" || rc=$?
  STEPS+=("$name")
  STEP_RC[$name]=$rc
  STEP_S[$name]=$((SECONDS - start))
  log "=== $name: $( ((rc == 0)) && echo ok || echo "FAILED (exit $rc)") in ${STEP_S[$name]} s"
  return "$rc"
}

# Steps run in `step`, where errexit does not apply: each failure returns explicitly.
make_root() {
  local mirror=$1
  # debootstrap mounts /proc and /sys in the root while it works: in namespaces of its own.
  if ! run_logged "$WORK/debootstrap.log" --quiet \
      "${NAMESPACES[@]}" debootstrap --variant=minbase "$SUITE" "$ROOT" "$mirror"; then
    tail -n 30 "$WORK/debootstrap.log" >&2
    return 1
  fi
  copy_apt_sources "$ROOT" "$mirror" || return 1
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" || return 1
  # As in any chroot: package installs must not start services (nginx, supervisord) here.
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" &&
    chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
}

clone_repo() {
  local sha
  sha=$(git -C "$REPO" rev-parse HEAD) || return 1
  [[ -z $(git -C "$REPO" status --porcelain --untracked-files=no) ]] ||
    log "note: uncommitted changes in $REPO are not part of the check (it tests $sha)"
  git clone --quiet --no-hardlinks --no-checkout "$REPO" "$ROOT$CHROOT_SRC" &&
    git -C "$ROOT$CHROOT_SRC" checkout --quiet --detach "$sha" || return 1
  log "cloned $(git -C "$REPO" log -1 --format='%h %s' "$sha") to $CHROOT_SRC"
}

# run_logged LOG [--quiet] COMMAND...: COMMAND (a program, not a function: CHILD is its pid) in the background (so a signal reaches the traps at
# once, and cleanup can end it), its output to LOG and, unless --quiet, to the console.
CHILD=""
run_logged() {
  local out=$1 quiet="" fd tee_pid rc=0
  shift
  [[ $1 == --quiet ]] && { quiet=1; shift; }
  if [[ -n $quiet ]]; then
    "$@" >"$out" 2>&1 </dev/null &
    CHILD=$!
    wait "$CHILD" || rc=$?
  else
    exec {fd}> >(tee "$out")
    tee_pid=$!
    "$@" >&"$fd" 2>&1 </dev/null &
    CHILD=$!
    wait "$CHILD" || rc=$?
    exec {fd}>&-
    wait "$tee_pid" || true
  fi
  CHILD=""
  return "$rc"
}

# run_in_root LOG COMMAND: COMMAND (a shell line) in the root's checkout.
run_in_root() {
  run_logged "$1" "${NAMESPACES[@]}" "$SELF" --in-namespace "$ROOT" \
    /bin/bash -c "cd $CHROOT_SRC && $2"
}

# report_skips CONSOLE_LOG: the tests ctest skipped (or did not run), each with the reason its
# output gave (its SKIP line, else its last line), from ctest's LastTest.log.
report_skips() {
  local console=$1 lasttest="$ROOT$CHROOT_SRC/build/Testing/Temporary/LastTest.log" name why
  local -a names=()
  mapfile -t names < <(sed -nE 's/.*Test +#[0-9]+: ([^ ]+) .*\*\*\*(Skipped|Not Run).*/\1/p' "$console")
  if ((${#names[@]} == 0)); then
    echo "skipped tests: none"
    return 0
  fi
  echo "skipped tests: ${#names[@]}"
  for name in "${names[@]}"; do
    why=""
    [[ -f $lasttest ]] && why=$(awk -v t="$name" '
      $0 == "" { next }
      /^[0-9]+\/[0-9]+ Test: / { mine = ($NF == t); next }
      mine && /^Output:/ { out = 1; getline; next }
      mine && out && /^<end of output>/ { out = 0; print (skip != "" ? skip : last); exit }
      mine && out { last = $0; if ($0 ~ /^SKIP/ && skip == "") skip = $0 }' "$lasttest")
    echo "  $name: ${why:-(no reason printed)}"
  done
}

main() {
  KEEP="" PARENT=${TMPDIR:-/tmp} MIRROR=""
  while (($#)); do
    case $1 in
      -h|--help) usage; exit 0 ;;
      --in-namespace) shift; in_namespace "$@"; exit ;;
      --enter)
        (($# >= 2)) || bad_usage "--enter needs the root directory"
        [[ -x $2/bin/bash ]] || die "not a root: $2"
        local root=$2
        shift 2
        (($#)) || set -- /usr/bin/env TERM="${TERM:-dumb}" /bin/bash -l
        exec "${NAMESPACES[@]}" "$SELF" --in-namespace "$root" "$@" ;;
      --keep) KEEP=1 ;;
      --dir) (($# >= 2)) || bad_usage "--dir needs a value"; PARENT=$2; shift ;;
      --mirror) (($# >= 2)) || bad_usage "--mirror needs a value"; MIRROR=$2; shift ;;
      *) bad_usage "unknown argument: $1" ;;
    esac
    shift
  done
  [[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, mount, chroot)"
  local tools=() t
  for t in debootstrap git; do command -v "$t" >/dev/null || tools+=("$t"); done
  if ((${#tools[@]})); then
    log "installing ${tools[*]} on the host"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tools[@]}" >&2
  fi
  [[ -n $MIRROR ]] || MIRROR=$(host_mirror)
  [[ -n $MIRROR ]] || die "no apt source for $SUITE on the host; give one with --mirror URL"
  mkdir -p "$PARENT"
  PARENT=$(cd "$PARENT" && pwd)
  local free_kb
  free_kb=$(df -Pk "$PARENT" | awk 'NR == 2 { print $4 }')
  ((free_kb >= NEED_KB)) || die "$PARENT has $((free_kb / 1024)) MiB free, needs $((NEED_KB / 1024))"

  WORK=$(mktemp -d "$PARENT/zlb-fresh.XXXXXX")
  ROOT=$WORK/root
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  log "root $ROOT from $MIRROR"

  local start=$SECONDS failed=0
  step "debootstrap (minbase $SUITE)" make_root "$MIRROR" || exit 1
  step "clone" clone_repo || exit 1
  step "scripts/test.sh" run_in_root "$WORK/test.log" scripts/test.sh || failed=1
  step "scripts/demo.sh" run_in_root "$WORK/demo.log" scripts/demo.sh || failed=1

  echo
  echo "=== fresh-check summary ($(git -C "$ROOT$CHROOT_SRC" log -1 --format=%h), $SUITE minbase, $MIRROR)"
  local s
  for s in "${STEPS[@]}"; do
    printf '  %-32s %s in %d s\n' "$s" "$( ((STEP_RC[$s] == 0)) && echo ok || echo "FAILED (exit ${STEP_RC[$s]})")" "${STEP_S[$s]}"
  done
  echo "  total $((SECONDS - start)) s"
  report_skips "$WORK/test.log" | sed 's/^/  /'
  ((failed == 0)) || die "FAILED on a fresh $SUITE root"
  log "passed"
}

main "$@"
