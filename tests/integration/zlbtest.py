"""Shared helpers for zlb's integration tests: real processes on free loopback ports.

Every process started here is killed when the test process exits, even on failure.
Waiting is always a poll with a deadline, never a bare sleep. Ports come from zlbutil: outside
the kernel's ephemeral range, never the same for two tests running at once; a server or broker
that loses its port to another program anyway is started again on a new one.
"""
import atexit
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from zlbutil import ADDR_IN_USE, free_port, free_range, kill_all, wait_for  # noqa: F401 - for tests

BIN_DIR = os.environ.get("ZLB_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE_DIR = os.environ.get("ZLB_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
SERVER = os.path.join(BIN_DIR, "zlb-server")
CLIENT = os.path.join(BIN_DIR, "zlb-client")
BROKER = os.path.join(BIN_DIR, "zlb-broker")

_procs = []
_tmpdirs = []


def _cleanup():
    kill_all(_procs)
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def tmpdir():
    d = tempfile.mkdtemp(prefix="zlb-test-")
    _tmpdirs.append(d)
    return d


def lost_port(proc, log_text):
    """The process exited because another program had taken its port."""
    return proc.poll() is not None and ADDR_IN_USE in log_text


# Generous: a sanitized binary on a loaded 2-core machine can take seconds to start, and
# the wait ends as soon as the process says it is ready (or exits).
START_TIMEOUT_S = 30


def start_wait(proc, log_text, ready, what):
    """Waits until log_text() holds ready or proc exits. On a timeout the error carries
    the log and, per thread, the system call it is blocked in, so a hang in CI can be
    told from a slow machine."""
    try:
        wait_for(lambda: ready in log_text() or proc.poll() is not None, START_TIMEOUT_S,
                 f"{what} to start")
    except TimeoutError as e:
        raise AssertionError(f"{e}\n{thread_states(proc.pid)}\nlog:\n{log_text()[-3000:]}") from None


def thread_states(pid):
    """One line per thread: its name, state and the system call it is in (from /proc)."""
    lines = []
    task_dir = f"/proc/{pid}/task"
    try:
        tids = sorted(os.listdir(task_dir), key=int)
    except OSError as e:
        return f"no threads to show: {e}"
    for tid in tids:
        fields = []
        for name in ("comm", "wchan", "syscall"):
            try:
                with open(f"{task_dir}/{tid}/{name}") as f:
                    fields.append(f.read().strip())
            except OSError:
                fields.append("?")
        lines.append(f"thread {tid} {fields[0]}: in {fields[1]}, syscall {fields[2].split(' ')[0]}")
    return "\n".join(lines)


class Server:
    """A zlb-server on a free loopback port; its stderr goes to a log file."""

    def __init__(self, *args, name=None, port=None, bind=True):
        self.fixed_port = port is not None  # a restart on a given port: no new port if it's taken
        self.port = port or free_port()
        self.name = name
        self.log_path = os.path.join(tmpdir(), "server.log")
        self.args = list(args)
        self.bind = bind
        self.start()

    def start(self):
        ready = "listening on" if self.bind else "joining broker"
        for attempt in range(5):
            self.endpoint = f"tcp://127.0.0.1:{self.port}"
            name = self.name or f"test-{self.port}"
            self.log = open(self.log_path, "wb")
            bind = ["--bind", self.endpoint] if self.bind else []
            self.proc = subprocess.Popen([SERVER, *bind, "--name", name, *self.args],
                                         stdout=self.log, stderr=self.log)
            _procs.append(self.proc)
            start_wait(self.proc, self.log_text, ready, f"server {name}")
            if not (self.bind and not self.fixed_port and lost_port(self.proc, self.log_text())):
                break
            self.port = free_port()
        self.name = name
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited early:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, timeout_s=30):
        """SIGTERM, wait; a drained server exits 0 (a sanitizer report at exit does not)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
        code = self.proc.wait(timeout=timeout_s)
        if code != 0:
            raise AssertionError(f"server {self.name} exited {code}:\n{self.log_text()[-3000:]}")
        return code


class Broker:
    """A zlb-broker with frontend and backend on free loopback ports."""

    def __init__(self, *args, frontend_port=None, backend_port=None):
        self.fixed_ports = frontend_port is not None or backend_port is not None
        self.frontend_port = frontend_port or free_port()
        self.backend_port = backend_port or free_port()
        self.log_path = os.path.join(tmpdir(), "broker.log")
        self.args = list(args)
        self.start()

    def start(self):
        for attempt in range(5):
            self.frontend = f"tcp://127.0.0.1:{self.frontend_port}"
            self.backend = f"tcp://127.0.0.1:{self.backend_port}"
            self.log = open(self.log_path, "wb")
            self.proc = subprocess.Popen([BROKER, "--frontend", self.frontend, "--backend",
                                          self.backend, *self.args],
                                         stdout=self.log, stderr=self.log)
            _procs.append(self.proc)
            start_wait(self.proc, self.log_text, "backend listening", "broker")
            if self.fixed_ports or not lost_port(self.proc, self.log_text()):
                break
            self.frontend_port, self.backend_port = free_port(), free_port()
        if self.proc.poll() is not None:
            raise AssertionError(f"broker exited early:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def status(self):
        out = subprocess.run([BROKER, "--status", self.frontend], capture_output=True, text=True,
                             timeout=10, check=True).stdout
        return json.loads(out)

    def stop(self, timeout_s=30):
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(timeout=timeout_s)
        if code != 0:
            raise AssertionError(f"broker exited {code}:\n{self.log_text()[-3000:]}")
        return code


def run_client(*args, timeout_s=120, json_out=True, check=None):
    """Runs zlb-client; returns (exit code, stdout, stderr, parsed --json or None)."""
    report = os.path.join(tmpdir(), "report.json") if json_out else None
    cmd = [CLIENT, *args] + (["--json", report] if report else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    data = None
    if report and os.path.exists(report):
        with open(report) as f:
            data = json.load(f)
    if check is not None and p.returncode != check:
        raise AssertionError(f"zlb-client exited {p.returncode}, wanted {check}\n"
                             f"cmd: {' '.join(cmd)}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p.returncode, p.stdout, p.stderr, data


def rows_done(path):
    """Rows a running zlb-client has written to its --results CSV so far."""
    try:
        with open(path, "rb") as f:
            return max(f.read().count(b"\n") - 1, 0)
    except FileNotFoundError:
        return 0


def finish_client(proc, results, requests):
    """Waits for a background zlb-client run (a Popen with text pipes) and asserts it exited 0
    with every request ok, each id exactly once, in its --results CSV. Returns (rows, stdout)."""
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"client exited {proc.returncode}\n{out}\n{err}"
    with open(results) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == requests, f"{len(rows)} outcomes for {requests} requests"
    assert len({r["id"] for r in rows}) == requests, "an id was reported twice"
    assert all(r["ok"] == "1" for r in rows), [r for r in rows if r["ok"] != "1"][:5]
    return rows, out


class HttpTarget:
    """The loopback nginx target from scripts/http-target.sh, on a port it picks (--port auto)."""

    def __init__(self):
        self.dir = tmpdir()
        self.script = os.path.join(SOURCE_DIR, "scripts", "http-target.sh")
        self.base = subprocess.run([self.script, "start", "--port", "auto", "--dir", self.dir],
                                   check=True, capture_output=True, text=True,
                                   timeout=60).stdout.strip()
        self.port = int(self.base.rsplit(":", 1)[1])
        atexit.register(self.stop)

    def stop(self):
        subprocess.run([self.script, "stop", "--dir", self.dir], capture_output=True, timeout=30)


def main(tests):
    """Runs each test function in order; prints 'N passed, N failed' and exits non-zero on failure."""
    passed = failed = 0
    for test in tests:
        start = time.monotonic()
        try:
            test()
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - start:.1f} s)", flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failed += 1
            import traceback
            print(f"FAIL {test.__name__}", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
