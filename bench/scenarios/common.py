"""Shared helpers for the benchmark scenarios: processes on free loopback ports, the zlb
client, the HTTP target, medians, nearest-rank percentiles and result rows. Ports, waiting and
primes come from tests/integration/zlbutil.py, shared with the integration tests.

Every process started here is killed when the suite exits, even on failure or Ctrl-C.
"""
import atexit
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                "integration"))
from zlbutil import (ADDR_IN_USE, free_port, free_range, kill_all, random_prime,  # noqa: E402,F401
                     wait_for)

_procs = []
_cleanups = []


def _cleanup():
    for fn in reversed(_cleanups):
        try:
            fn()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    _cleanups.clear()
    kill_all(_procs)
    _procs.clear()


atexit.register(_cleanup)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, lambda *_: sys.exit(128 + 15))


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Ctx:
    """What every scenario gets: paths, mode, run count, a scratch directory."""

    def __init__(self, mode, bin_dir, source_dir, runs=None):
        self.mode = mode
        self.quick = mode == "quick"
        self.runs = runs or (1 if self.quick else 3)
        self.bin = bin_dir
        self.root = source_dir
        self.python = "/usr/bin/python3"
        self.tmp = tempfile.mkdtemp(prefix="zlb-bench-")

        def remove_tmp():
            _cleanup()  # processes and targets first: nginx needs its directory to stop
            shutil.rmtree(self.tmp, ignore_errors=True)
        atexit.register(remove_tmp)
        self.peers_dir = os.path.join(source_dir, "bench", "peers")
        self.busy_before_runs = []  # others' CPU use (%) just before each run of a scenario

    def exe(self, name):
        return os.path.join(self.bin, name)

    def peer(self, name):
        return os.path.join(self.peers_dir, name)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def pick(self, quick, full):
        return quick if self.quick else full


# ---------------------------------------------------------------- ports and processes

class Proc:
    """A background process whose stdout+stderr go to a log file; ready when `ready` is logged."""

    def __init__(self, ctx, cmd, ready=None, name="proc", timeout_s=15):
        self.cmd = [str(c) for c in cmd]
        self.log_path = os.path.join(ctx.tmp, f"{name}-{len(_procs)}.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _procs.append(self.proc)
        self.pid = self.proc.pid
        if ready:
            wait_for(lambda: ready in self.text() or self.proc.poll() is not None, timeout_s,
                     f"{name}: '{ready}'")
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited early: {' '.join(self.cmd)}\n{self.text()}")

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, timeout_s=30):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode


def stop_all(procs):
    for p in procs:
        if p.proc.poll() is None:
            os.kill(p.pid, signal.SIGCONT)
            p.proc.terminate()
    for p in procs:
        try:
            p.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.proc.kill()
            p.proc.wait()


# zlb's echo of 16 B on the wire, as the bench runs it: the request {v, id, op, data} with an
# id past 65,535 (a 5-byte uint32); the reply adds ok, service_us and the server name
# "bench-PORT" (PROTOCOL.md). Both are past libzmq's 33 B inline message size. The bare pair
# at these sizes (scenario 1, callgrind.py's bare-sized) is the floor for zlb's messages.
ZLB_REQUEST_BYTES, ZLB_REPLY_BYTES = 43, 70


def zlb_servers(ctx, count, *args, name="zlb-server"):
    """COUNT zlb-servers on free loopback ports; each has .endpoint. One that another program
    took the port of before it could bind is started again on a new port."""
    def start():
        port = free_port()
        p = Proc(ctx, [ctx.exe("zlb-server"), "--bind", f"tcp://127.0.0.1:{port}", "--name",
                       f"bench-{port}", "--log-level", "warn", *args], ready=None, name=name)
        p.endpoint, p.port = f"tcp://127.0.0.1:{port}", port
        return p
    out = [start() for _ in range(count)]
    for i in range(count):
        for attempt in range(5):
            try:
                wait_port(out[i], out[i].port)
                break
            except RuntimeError:
                if attempt == 4 or ADDR_IN_USE not in out[i].text():
                    raise
                out[i] = start()
    return out


def wait_port(p, port, timeout_s=15):
    def up():
        if p.proc.poll() is not None:
            raise RuntimeError(f"{p.cmd[0]} exited early:\n{p.text()}")
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0
    wait_for(up, timeout_s, f"port {port}")


def run(cmd, timeout_s=600, env=None, check=True):
    cmd = [str(c) for c in cmd]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    if check and p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {' '.join(cmd)}\n{p.stdout[-2000:]}\n"
                           f"{p.stderr[-2000:]}")
    return p


def keyvals(text):
    """key=value lines into a dict of floats (or strings)."""
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            try:
                out[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() else float(v)
            except ValueError:
                out[k.strip()] = v.strip()
    return out


def zlb_client(ctx, *args, timeout_s=600, allow_fail=False, json_name="client.json"):
    """Runs zlb-client -q with --json; returns the parsed summary (plus 'wall_s')."""
    report = ctx.path(json_name)
    if os.path.exists(report):
        os.unlink(report)
    cmd = [ctx.exe("zlb-client"), *[str(a) for a in args], "--json", report, "-q"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    wall = time.perf_counter() - t0
    if p.returncode != 0 and not allow_fail:
        raise RuntimeError(f"zlb-client exit {p.returncode}: {' '.join(cmd)}\n"
                           f"{p.stdout[-3000:]}\n{p.stderr[-2000:]}")
    with open(report) as f:
        data = json.load(f)
    data["wall_s"] = wall
    data["exit_code"] = p.returncode
    return data


class HttpTarget:
    """scripts/http-target.sh on a port it picks (--port auto), in a private directory."""

    def __init__(self, ctx):
        self.dir = tempfile.mkdtemp(prefix="http-target-", dir=ctx.tmp)
        self.script = os.path.join(ctx.root, "scripts", "http-target.sh")
        self.base = run([self.script, "start", "--port", "auto", "--dir", self.dir],
                        timeout_s=60).stdout.strip()
        self.port = int(self.base.rsplit(":", 1)[1])
        self._stopped = False
        _cleanups.append(self.stop)

    def stop(self):
        if not self._stopped:
            self._stopped = True
            subprocess.run([self.script, "stop", "--dir", self.dir], capture_output=True,
                           timeout=60)


def write_lines(path, items):
    with open(path, "w") as f:
        for it in items:
            f.write(f"{it}\n")
    return path


# ---------------------------------------------------------------- statistics

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def nearest_rank(sorted_values, p):
    """Nearest-rank percentile: the smallest value with at least p of the values at or below."""
    if not sorted_values:
        return None
    k = min(max(math.ceil(p * len(sorted_values)), 1), len(sorted_values))
    return sorted_values[k - 1]


def alternate(ctx, impls):
    """Runs each (name, fn) in turn, ctx.runs rounds: a, b, c, a, b, c, ...
    Returns {name: [result, ...]}."""
    out = {name: [] for name, _ in impls}
    for i in range(ctx.runs):
        for name, fn in impls:
            if not ctx.quick:  # start each run on a machine other work leaves alone, if it can
                busy, _ = wait_quiet(60, busy_below_pct=25.0, seconds=0.5)
                ctx.busy_before_runs.append(busy)
            log(f"  {name} (run {i + 1}/{ctx.runs})")
            out[name].append(fn())
    return out


def med(results, key):
    return median([r.get(key) if isinstance(r, dict) else None for r in results])


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def row(metric, unit, zlb, peer, peer_value, target=None, met=None, better="higher",
        ratio_value=None, note=None):
    """One line of the results table: zlb's median, the peer's, their ratio zlb/peer."""
    return {"metric": metric, "unit": unit, "zlb": zlb, "peer": peer, "peer_value": peer_value,
            "ratio": ratio_value if ratio_value is not None else ratio(zlb, peer_value),
            "better": better, "target": target, "met": met, "note": note}


def load():
    return [round(x, 2) for x in os.getloadavg()]


def vm_kb(pid, field):
    """A /proc/PID/status field in kB (VmRSS, VmHWM), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def cpu_busy_pct(seconds=2.0):
    """Share of all cores busy over SECONDS (from /proc/stat): between scenarios, when none of
    the suite's processes run, this is what the rest of the machine is doing."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v), idle
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return round(100.0 * (1 - (i1 - i0) / max(t1 - t0, 1)), 1)


def wait_quiet(max_wait_s, busy_below_pct=15.0, seconds=2.0):
    """Waits up to MAX_WAIT_S for the machine's CPU use (by others) to drop below the threshold.
    Returns (busy percent at the last check, seconds waited)."""
    start = time.monotonic()
    busy = cpu_busy_pct(seconds)
    while busy >= busy_below_pct and time.monotonic() - start < max_wait_s:
        log(f"machine busy ({busy}% of all cores used by other processes); waiting")
        time.sleep(5)
        busy = cpu_busy_pct(seconds)
    return busy, round(time.monotonic() - start, 1)
