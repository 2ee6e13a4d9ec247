"""Shared helpers for zlb's integration tests: real processes on free loopback ports.

Every process started here is killed when the test process exits, even on failure.
Waiting is always a poll with a deadline, never a bare sleep.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN_DIR = os.environ.get("ZLB_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")
SOURCE_DIR = os.environ.get("ZLB_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
SERVER = os.path.join(BIN_DIR, "zlb-server")
CLIENT = os.path.join(BIN_DIR, "zlb-client")
BROKER = os.path.join(BIN_DIR, "zlb-broker")

_procs = []
_tmpdirs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
                p.kill()
                p.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def tmpdir():
    d = tempfile.mkdtemp(prefix="zlb-test-")
    _tmpdirs.append(d)
    return d


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_range(count):
    """A base port with `count` free consecutive ports from it."""
    for _ in range(100):
        base = free_port()
        if base + count < 65535 and all(port_free(base + i) for i in range(count)):
            return base
    raise AssertionError(f"no {count} free ports in a row")


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


class Server:
    """A zlb-server on a free loopback port; its stderr goes to a log file."""

    def __init__(self, *args, name=None, port=None, bind=True):
        self.port = port or free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.name = name or f"test-{self.port}"
        self.log_path = os.path.join(tmpdir(), "server.log")
        self.args = list(args)
        self.bind = bind
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        bind = ["--bind", self.endpoint] if self.bind else []
        self.proc = subprocess.Popen([SERVER, *bind, "--name", self.name, *self.args],
                                     stdout=self.log, stderr=self.log)
        _procs.append(self.proc)
        ready = "listening on" if self.bind else "joining broker"
        wait_for(lambda: ready in self.log_text() or self.proc.poll() is not None,
                 10, f"server {self.name} to start")
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
        self.frontend = f"tcp://127.0.0.1:{frontend_port or free_port()}"
        self.backend = f"tcp://127.0.0.1:{backend_port or free_port()}"
        self.log_path = os.path.join(tmpdir(), "broker.log")
        self.args = list(args)
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BROKER, "--frontend", self.frontend, "--backend",
                                      self.backend, *self.args], stdout=self.log, stderr=self.log)
        _procs.append(self.proc)
        wait_for(lambda: "backend listening" in self.log_text() or self.proc.poll() is not None,
                 10, "broker to listen")
        if self.proc.poll() is not None:
            raise AssertionError(f"broker exited early:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

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


class HttpTarget:
    """The loopback nginx target from scripts/http-target.sh, on a free port."""

    def __init__(self):
        self.port = free_port()
        self.dir = tmpdir()
        self.script = os.path.join(SOURCE_DIR, "scripts", "http-target.sh")
        subprocess.run([self.script, "start", "--port", str(self.port), "--dir", self.dir],
                       check=True, capture_output=True, timeout=30)
        self.base = f"http://127.0.0.1:{self.port}"
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
