"""The operator scripts, for real: start-servers/stop-servers, and supervisord bringing a
killed server back."""
import os
import signal
import socket
import subprocess
import time

from zlbtest import BIN_DIR, SOURCE_DIR, free_port, main, run_client, tmpdir, wait_for

SCRIPTS = os.path.join(SOURCE_DIR, "scripts")


def free_range(count):
    """A base port with `count` free consecutive ports after it."""
    for _ in range(50):
        base = free_port()
        if base + count < 65535 and all(_free(base + i) for i in range(count)):
            return base
    raise AssertionError("no free port range")


def _free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def script_env(run_dir):
    return dict(os.environ, ZLB_RUN_DIR=run_dir, ZLB_BIN_DIR=os.path.abspath(BIN_DIR))


def test_start_and_stop_servers():
    run_dir = tmpdir()
    base = free_range(3)
    env = script_env(run_dir)
    out = subprocess.run([os.path.join(SCRIPTS, "start-servers.sh"), "3", str(base), "cpu", "--",
                          "--threads", "1"], env=env, capture_output=True, text=True, timeout=60)
    try:
        assert out.returncode == 0, out.stderr
        endpoints = out.stdout.split()
        assert endpoints == [f"tcp://127.0.0.1:{base + i}" for i in range(3)], out.stdout
        pids = [int(open(os.path.join(run_dir, "servers", f"{base + i}.pid")).read()) for i in range(3)]
        ep_file = os.path.join(tmpdir(), "endpoints.txt")
        with open(ep_file, "w") as f:
            f.write(out.stdout)
        _, _, _, rep = run_client("--endpoints-file", ep_file, "--op", "factor", "--random", "300",
                                  "--bits", "48", check=0)
        assert len(rep["servers"]) == 3, rep
        # A second start on the same ports must refuse rather than double up.
        again = subprocess.run([os.path.join(SCRIPTS, "start-servers.sh"), "1", str(base)],
                               env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode != 0 and again.stderr.strip(), again
    finally:
        stop = subprocess.run([os.path.join(SCRIPTS, "stop-servers.sh")], env=env,
                              capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0, stop.stderr
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


def supervisorctl(conf, *args):
    return subprocess.run(["supervisorctl", "-c", conf, *args], capture_output=True, text=True,
                          timeout=30)


def server_pids(conf):
    """{process name: pid} of the RUNNING servers."""
    out = supervisorctl(conf, "status").stdout
    pids = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
            pids[parts[0]] = int(parts[3].rstrip(","))
    return pids


def test_supervisord_restarts_a_killed_server():
    run_dir = tmpdir()
    base = free_range(3)
    sup = subprocess.Popen([os.path.join(SCRIPTS, "supervise.sh"), "--servers", "3", "--base-port",
                            str(base), "--mode", "cpu", "--dir", run_dir, "--", "--threads", "1"],
                           env=script_env(run_dir), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    conf = os.path.join(run_dir, "supervisord.conf")
    try:
        pids = wait_for(lambda: (p := server_pids(conf)) and len(p) == 3 and p, 30,
                        "3 supervised servers")
        assert sorted(pids) == [f"zlb-server:zlb-server_0{i}" for i in range(3)], pids
        victim = "zlb-server:zlb-server_01"
        killed_at = time.monotonic()
        os.kill(pids[victim], signal.SIGKILL)
        wait_for(lambda: server_pids(conf).get(victim, pids[victim]) != pids[victim], 10,
                 "supervisord to restart the killed server")
        assert time.monotonic() - killed_at < 3.0, "restart took 3 s or more"
        # The restarted server serves on its own port again.
        _, _, _, rep = run_client("--connect", f"tcp://127.0.0.1:{base + 1}", "--count", "100",
                                  check=0)
        assert rep["ok"] == 100
        stop = supervisorctl(conf, "stop", "all")
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert not server_pids(conf)
    finally:
        os.killpg(sup.pid, signal.SIGTERM)
        sup.wait(timeout=60)


if __name__ == "__main__":
    main([test_start_and_stop_servers, test_supervisord_restarts_a_killed_server])
