"""Hosts as network namespaces, for the tests that need several machines: every host its own
namespace with 'eth0' on a veth whose other end ('p-<host>') is a port of a bridge in a private
"switch" namespace. Nothing is created in the host's own network namespace, names carry this
process's pid and a random suffix so parallel runs don't collide, and every namespace made here
(and everything still running in it) goes away at exit, on failure or ctest's SIGTERM too.

A test that can't make namespaces (not root, no CAP_NET_ADMIN, no `ip`) prints 'SKIP: <reason>'
and exits SKIP_EXIT (77), which tests/CMakeLists.txt declares as ctest's SKIP_RETURN_CODE.
"""
import atexit
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

from zlbtest import CLIENT, SERVER, tmpdir, wait_for

SKIP_EXIT = 77  # ctest's SKIP_RETURN_CODE for the integration tests (tests/CMakeLists.txt)

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


def root_links():
    return sorted(line.split(":")[1].strip().split("@")[0]
                  for line in ip("-o", "link", "show").stdout.splitlines())


class Network:
    """A switch and hosts on SUBNET_PREFIX.0/24: host(name, octet) names one before build()."""

    def __init__(self, subnet_prefix):
        self.tag = f"zlb{os.getpid()}{secrets.token_hex(2)}"
        self.switch = f"{self.tag}-sw"
        self.prefix = subnet_prefix
        self.hosts = {}  # name -> (namespace, address)

    def host(self, name, octet):
        self.hosts[name] = (f"{self.tag}-{name}", f"{self.prefix}.{octet}")
        return self.hosts[name]

    def _netns_add(self, name):
        ip("netns", "add", name)
        _namespaces.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def build(self):
        self._netns_add(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for name, (ns, addr) in self.hosts.items():
            self._netns_add(ns)
            port = f"p-{name}"
            # Both ends are made directly in their namespaces: nothing passes through the host's.
            ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0",
               "netns", ns)
            ip("-n", self.switch, "link", "set", port, "master", "br0")
            ip("-n", self.switch, "link", "set", port, "up")
            ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")

    def skip_reason(self):
        """Why namespaces can't be made here, or None once the network is built."""
        if not shutil.which("ip"):
            return "iproute2's ip command not found"
        before = root_links()
        try:
            self.build()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            return f"cannot build network namespaces (needs root / CAP_NET_ADMIN): {e}"
        assert root_links() == before, "the topology leaked an interface into the host's namespace"
        return None

    def popen(self, host, argv, **kwargs):
        """Runs argv on a host (`ip netns exec` execs it: the pid is the program's)."""
        p = subprocess.Popen(["ip", "netns", "exec", self.hosts[host][0], *argv], **kwargs)
        _procs.append(p)
        return p

    def link_down(self, host):
        """Pulls the host's cable: its only interface goes down, nothing is sent to anybody."""
        ip("-n", self.hosts[host][0], "link", "set", "eth0", "down")

    def link_up(self, host):
        ip("-n", self.hosts[host][0], "link", "set", "eth0", "up")


class NsProcess:
    """A program on a host of a Network, its output in a log file; started once `ready` is in
    the log (it must not have exited first)."""

    def __init__(self, net, host, argv, ready):
        self.host = host
        self.log_path = os.path.join(tmpdir(), f"{host}.log")
        with open(self.log_path, "wb") as log:
            self.proc = net.popen(host, argv, stdout=log, stderr=log)
        wait_for(lambda: ready in self.log_text() or self.proc.poll() is not None, 10,
                 f"{host} to start")
        assert self.proc.poll() is None, f"{host} exited early:\n{self.log_text()}"

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        self.proc.terminate()
        return self.proc.wait(timeout=30)


class NsServer(NsProcess):
    """A zlb-server on a host of a Network, bound to its address and port."""

    def __init__(self, net, name, port, *args):
        self.name = name
        self.ns, self.addr = net.hosts[name]
        self.endpoint = f"tcp://{self.addr}:{port}"
        super().__init__(net, name, [SERVER, "--bind", self.endpoint, "--name", name, *args],
                         "listening on")


def clients_start(net, hosts, connect, rate, duration_s, *args):
    """An open-loop zlb-client on each host, factoring random 48-bit numbers (replies of a few
    hundred us to a few ms) at `rate` for `duration_s`, all starting together 2 s from now
    (--start-at: time for every one to connect first), each with its own seed and its own
    --hlog, --results and --json files. Returns [(host, process, {"hlog"|"csv"|"json": path})]."""
    start_at = str(int(time.time() * 1000) + 2000)
    d = tmpdir()
    clients = []
    for i, host in enumerate(hosts):
        paths = {k: os.path.join(d, f"{host}.{k}") for k in ("hlog", "csv", "json")}
        proc = net.popen(host, [CLIENT, *connect, "--op", "factor", "--random", "100000",
                                "--bits", "48", "--seed", str(i + 1), "--rate", str(rate),
                                "--duration", str(duration_s), "--start-at", start_at, *args,
                                "--hlog", paths["hlog"], "--results", paths["csv"],
                                "--json", paths["json"], "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        clients.append((host, proc, paths))
    return clients


def main_or_skip(net, tests):
    """Builds the network, or skips (exit 77) with the reason; then runs the tests."""
    from zlbtest import main
    reason = net.skip_reason()
    if reason:
        print(f"SKIP: {reason}", flush=True)
        sys.exit(SKIP_EXIT)
    main(tests)
