"""What the integration tests (zlbtest.py) and the benchmarks (bench/scenarios/common.py)
share: free loopback ports, polling with a deadline, primes. Standard library only.

Ports. A port this module hands out lies outside the kernel's ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range): there, any outgoing connection may take a port between
the moment it is picked and the moment a server binds it, or while a server restarts on it.
Ports come in blocks of PORT_BLOCK (block b is b * PORT_BLOCK .. + PORT_BLOCK - 1, from
PORT_LOW up); a process picks only from blocks it holds an exclusive flock(2) on, in
$TMPDIR/zlb-ports-UID/block-b.lock, so that tests running in parallel (ctest -j) and the scripts
(scripts/lib.sh, pick_ports: the same rules) never get the same port. The locks last as long as
the process. Another program can still bind a port first: a server that loses that race exits
with ADDR_IN_USE in its log, and the caller starts it again on a new port.
"""
import fcntl
import os
import random
import signal
import socket
import subprocess
import threading
import time

PORT_BLOCK = 128
PORT_LOW = 10000
ADDR_IN_USE = "Address already in use"


def ephemeral_range():
    """The kernel's ephemeral port range (lo, hi), read each time."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def port_free(port):
    """Nothing holds PORT on 127.0.0.1: no listener, and no connection has it as its local port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class _PortPool:
    """Hands out distinct free ports from the blocks this process has locked."""

    def __init__(self):
        self._mutex = threading.Lock()
        self._locks = []   # open lock files: closing one (or exiting) releases its block
        self._next = None  # next port to try in the current block
        self._end = None   # end of the current block (exclusive)

    def _lock_block(self):
        lo, hi = ephemeral_range()
        blocks = [b for b in range(-(-PORT_LOW // PORT_BLOCK), 65536 // PORT_BLOCK)
                  if b * PORT_BLOCK + PORT_BLOCK - 1 < lo or b * PORT_BLOCK > hi]
        if not blocks:
            raise RuntimeError(f"no ports between {PORT_LOW} and 65535 lie outside the "
                               f"ephemeral range {lo}..{hi}")
        directory = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"zlb-ports-{os.getuid()}")
        os.makedirs(directory, mode=0o700, exist_ok=True)
        start = random.randrange(len(blocks))
        for b in blocks[start:] + blocks[:start]:
            f = open(os.path.join(directory, f"block-{b}.lock"), "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                continue
            self._locks.append(f)
            self._next, self._end = b * PORT_BLOCK, (b + 1) * PORT_BLOCK
            return
        raise RuntimeError("every block of ports is locked by other zlb processes")

    def take(self, count):
        """The first of COUNT consecutive free ports, none handed out before."""
        assert 1 <= count <= PORT_BLOCK, count
        with self._mutex:
            for _ in range(1000):
                if self._next is None or self._next + count > self._end:
                    self._lock_block()
                base = self._next
                busy = next((p for p in range(base, base + count) if not port_free(p)), None)
                self._next = base + count if busy is None else busy + 1
                if busy is None:
                    return base
            raise RuntimeError(f"no {count} consecutive free ports found")


_pool = _PortPool()


def free_port():
    """A free TCP port on 127.0.0.1 outside the ephemeral range, reserved for this process."""
    return _pool.take(1)


def free_range(count):
    """The first of COUNT free consecutive ports (COUNT <= PORT_BLOCK), as free_port."""
    return _pool.take(count)


def kill_all(procs):
    """SIGKILLs every subprocess.Popen in PROCS still running (SIGCONT first: a stopped one
    could not die) and reaps it."""
    for p in procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
                p.kill()
                p.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def wait_for(condition, timeout_s, what):
    """Polls condition() until it returns something true, and returns that; raises
    TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")


_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def is_prime(n):
    """Deterministic Miller-Rabin for n < 3.1e23 (the first 12 primes as bases; enough for
    64-bit primes and the tests' Carmichael factors)."""
    if n < 2:
        return False
    for p in _BASES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in _BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def random_prime(bits, rng):
    """A random prime of exactly BITS bits (top bit set), drawn from rng (random.Random)."""
    while True:
        n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
        if is_prime(n):
            return n
