"""Across real hosts: three server hosts and a client host, each its own network namespace,
joined by veth links to a bridge in a private "switch" namespace (10.77.0.0/24). Mid-run one
server host's link goes down: no FIN, no RST, its packets just stop. Only the client's
heartbeats and per-attempt timeouts can notice, and the run must still finish with every
request ok and every id exactly once.

Nothing is created in the host's own network namespace: the bridge and every veth end live in
namespaces made here, named with this process's pid and a random suffix so parallel runs don't
collide, and all of them are deleted at exit (on failure too). Without the rights to make
namespaces (not root, no CAP_NET_ADMIN, no `ip`), the test prints 'SKIP: <reason>' and exits 77,
which tests/CMakeLists.txt declares as ctest's SKIP_RETURN_CODE: ctest reports it as skipped.
"""
import atexit
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

from zlbtest import CLIENT, SERVER, main, rows_done, tmpdir, wait_for

TAG = f"zlb{os.getpid()}{secrets.token_hex(2)}"
SWITCH = f"{TAG}-sw"
SUBNET_PREFIX = "10.77.0"
PORT = 5555
SKIP_EXIT = 77  # ctest's SKIP_RETURN_CODE for the integration tests (tests/CMakeLists.txt)
# name -> (namespace, address); the client host is the fourth.
SERVER_HOSTS = {f"host{i}": (f"{TAG}-h{i}", f"{SUBNET_PREFIX}.1{i}") for i in (1, 2, 3)}
CLIENT_NS, CLIENT_ADDR = f"{TAG}-cl", f"{SUBNET_PREFIX}.100"
# Factoring random 64-bit semiprimes: a few seconds on 2 cores, each reply a few ms.
REQUESTS = 40_000
WORKLOAD = ["--op", "factor", "--random", str(REQUESTS), "--bits", "64", "--semiprimes",
            "--window", "32"]

_namespaces = []  # created here, deleted at exit
_procs = []       # started here (inside the namespaces), killed at exit


def ip(*args, check=True):
    p = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {p.stderr.strip() or p.returncode}")
    return p


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    for ns in reversed(_namespaces):
        # Anything still alive in a namespace made here was started by this test.
        for pid in ip("netns", "pids", ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        ip("netns", "del", ns, check=False)


atexit.register(_cleanup)
# ctest's timeout sends SIGTERM: exit through atexit so the namespaces still go away.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def netns_add(name):
    ip("netns", "add", name)
    _namespaces.append(name)
    ip("-n", name, "link", "set", "lo", "up")


def root_links():
    return sorted(line.split(":")[1].strip().split("@")[0]
                  for line in ip("-o", "link", "show").stdout.splitlines())


def topology_build():
    """The switch namespace with a bridge, and one namespace per host, each with 'eth0' on a veth
    whose other end ('p-<host>') is a bridge port in the switch namespace."""
    netns_add(SWITCH)
    ip("-n", SWITCH, "link", "add", "br0", "type", "bridge")
    ip("-n", SWITCH, "link", "set", "br0", "up")
    hosts = [(ns, addr, name) for name, (ns, addr) in SERVER_HOSTS.items()]
    hosts.append((CLIENT_NS, CLIENT_ADDR, "client"))
    for ns, addr, name in hosts:
        netns_add(ns)
        port = f"p-{name}"
        # Both ends are made directly in their namespaces: nothing passes through the host's.
        ip("-n", SWITCH, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        ip("-n", SWITCH, "link", "set", port, "master", "br0")
        ip("-n", SWITCH, "link", "set", port, "up")
        ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")


def skip_reason():
    """Why namespaces can't be made here, or None once the topology is built."""
    if not shutil.which("ip"):
        return "iproute2's ip command not found"
    before = root_links()
    try:
        topology_build()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        return f"cannot build network namespaces (needs root / CAP_NET_ADMIN): {e}"
    assert root_links() == before, "the topology leaked an interface into the host's namespace"
    return None


class NsServer:
    """A zlb-server in a host namespace (`ip netns exec` execs it: the pid is the server's)."""

    def __init__(self, name):
        self.name = name
        self.ns, self.addr = SERVER_HOSTS[name]
        self.endpoint = f"tcp://{self.addr}:{PORT}"
        self.log_path = os.path.join(tmpdir(), f"{name}.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, SERVER, "--bind", self.endpoint, "--mode", "cpu",
                 "--threads", "1", "--name", name], stdout=log, stderr=log)
        _procs.append(self.proc)
        wait_for(lambda: "listening on" in self.log_text() or self.proc.poll() is not None, 10,
                 f"{name} to listen")
        assert self.proc.poll() is None, f"{name} exited early:\n{self.log_text()}"

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def link_down(self):
        """Pulls the host's cable: its only interface goes down, nothing is sent to anybody."""
        ip("-n", self.ns, "link", "set", "eth0", "down")

    def stop(self):
        self.proc.terminate()
        return self.proc.wait(timeout=30)


def test_link_cut_mid_run_loses_nothing():
    servers = [NsServer(name) for name in SERVER_HOSTS]
    victim = servers[1]
    results = os.path.join(tmpdir(), "results.csv")
    report = os.path.join(tmpdir(), "report.json")
    connect = [a for s in servers for a in ("--connect", s.endpoint)]
    started = time.monotonic()
    client = subprocess.Popen(
        ["ip", "netns", "exec", CLIENT_NS, CLIENT, *connect, *WORKLOAD, "--timeout-ms", "1000",
         "--heartbeat-ms", "300", "--retries", "3", "--results", results, "--json", report, "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _procs.append(client)
    # Cut only once the victim has demonstrably been serving: a quarter of the run is done.
    wait_for(lambda: rows_done(results) > REQUESTS // 4 or client.poll() is not None, 60,
             "the run to get going")
    assert client.poll() is None, "the run ended before the cut:\n" + client.communicate()[1]
    done_at_cut = rows_done(results)
    victim.link_down()
    cut_at = time.monotonic()
    out, err = client.communicate(timeout=60)
    ended = time.monotonic()
    assert client.returncode == 0, f"client exited {client.returncode}\n{out}\n{err}"
    print(f"  {REQUESTS} requests in {ended - started:.1f} s; {victim.name} cut at "
          f"{cut_at - started:.1f} s after {done_at_cut} replies; run ended {ended - cut_at:.1f} s "
          "after the cut", flush=True)
    assert done_at_cut < REQUESTS * 3 // 4, f"the cut came too late: {done_at_cut} done"

    rows = list(csv.DictReader(open(results)))
    ids = [r["id"] for r in rows]
    assert len(rows) == REQUESTS, f"{len(rows)} outcomes for {REQUESTS} requests"
    assert len(set(ids)) == REQUESTS, "an id was reported twice"
    assert all(r["ok"] == "1" for r in rows), [r for r in rows if r["ok"] != "1"][:5]
    retried = [r for r in rows if int(r["attempts"]) > 1]
    assert retried, "no request was resent: nothing was in flight on the cut host"
    served = {}
    for r in rows:
        served[r["server"]] = served.get(r["server"], 0) + 1
    assert set(served) == set(SERVER_HOSTS), f"not every host served: {served}"
    # The link cut was noticed as a silent peer (heartbeats), not by a closed connection.
    assert f"lost {victim.endpoint}" in err, f"the client never dropped {victim.endpoint}:\n{err}"
    with open(report) as f:
        rep = json.load(f)
    assert rep["ok"] == REQUESTS and rep["retried"] >= len(retried), rep
    print(f"  served {served}; {len(retried)} requests resent", flush=True)

    # Every host shuts down cleanly, the cut one too (its own heartbeats dropped the client).
    for s in servers:
        assert s.stop() == 0, s.log_text()
        assert "drained" in s.log_text(), s.log_text()


if __name__ == "__main__":
    reason = skip_reason()
    if reason:
        print(f"SKIP: {reason}", flush=True)
        sys.exit(SKIP_EXIT)
    main([test_link_cut_mid_run_loses_nothing])
