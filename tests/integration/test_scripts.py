"""The operator scripts, for real: start-servers/stop-servers (on given ports and on 'auto'
ones), supervisord bringing a killed server back (also in the middle of a client run), and
`supervisorctl stop` draining a server that has work in flight. How fast supervisord restarts
is timed in test_timing_scripts.py."""
import atexit
import contextlib
import datetime
import json
import os
import re
import signal
import subprocess
import time

from zlbtest import (BIN_DIR, CLIENT, SOURCE_DIR, HttpTarget, finish_client, free_range, main,
                     rows_done, run_client, tmpdir, wait_for)
from zlbutil import ephemeral_range

SCRIPTS = os.path.join(SOURCE_DIR, "scripts")


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


def outside_ephemeral(port):
    lo, hi = ephemeral_range()
    return not lo <= port <= hi


def loses_first_race(directory, program, real):
    """A stand-in for PROGRAM in DIRECTORY that fails once the way a lost race for a port does
    (another process bound it first), then is the real program REAL."""
    marker = os.path.join(directory, f"{program}.lost")
    path = os.path.join(directory, program)
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nif [ ! -e {marker} ]; then : >{marker}\n"
                f"  echo '{program}: cannot bind: Address already in use' >&2; exit 1\nfi\n"
                f"exec {real} \"$@\"\n")
    os.chmod(path, 0o755)
    return marker


def test_auto_ports_survive_a_lost_race():
    """start-servers.sh COUNT auto and http-target.sh --port auto pick ports outside the
    ephemeral range, and start a server again on another port when the first one was taken."""
    run_dir, fake = tmpdir(), tmpdir()
    server_lost = loses_first_race(fake, "zlb-server", os.path.abspath(os.path.join(BIN_DIR,
                                                                                   "zlb-server")))
    nginx_lost = loses_first_race(fake, "nginx", "/usr/sbin/nginx")
    env = dict(script_env(run_dir), ZLB_BIN_DIR=fake, PATH=f"{fake}:{os.environ['PATH']}")
    out = subprocess.run([os.path.join(SCRIPTS, "start-servers.sh"), "2", "auto", "cpu", "--",
                          "--threads", "1"], env=env, capture_output=True, text=True, timeout=60)
    target = os.path.join(run_dir, "http-target")
    try:
        assert out.returncode == 0, out.stderr
        assert os.path.exists(server_lost) and "was taken" in out.stderr, out.stderr
        ports = [int(ep.rsplit(":", 1)[1]) for ep in out.stdout.split()]
        assert len(ports) == 2 and all(map(outside_ephemeral, ports)), out.stdout
        assert sorted(os.listdir(os.path.join(run_dir, "servers"))) == sorted(
            f"{p}.{ext}" for p in ports for ext in ("log", "pid")), os.listdir(run_dir)
        _, _, _, rep = run_client(*[a for ep in out.stdout.split() for a in ("--connect", ep)],
                                  "--count", "200", check=0)
        assert len(rep["servers"]) == 2, rep
        http = subprocess.run([os.path.join(SCRIPTS, "http-target.sh"), "start", "--port", "auto",
                               "--dir", target], env=env, capture_output=True, text=True,
                              timeout=60)
        assert http.returncode == 0 and os.path.exists(nginx_lost), http.stderr
        assert outside_ephemeral(int(http.stdout.strip().rsplit(":", 1)[1])), http.stdout
    finally:
        subprocess.run([os.path.join(SCRIPTS, "http-target.sh"), "stop", "--dir", target],
                       env=env, capture_output=True, timeout=60)
        stop = subprocess.run([os.path.join(SCRIPTS, "stop-servers.sh")], env=env,
                              capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0, stop.stderr


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
        os.kill(pids[victim], signal.SIGKILL)
        wait_for(lambda: server_pids(conf).get(victim, pids[victim]) != pids[victim], 10,
                 "supervisord to restart the killed server")
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


@contextlib.contextmanager
def supervised(count, mode, *server_flags, brokers=()):
    """supervise.sh running `count` servers (and a broker on each of the `brokers` port pairs);
    yields (conf, run_dir, base port, {name: pid}) once all of them are RUNNING. supervisord is
    stopped afterwards (TERM, so the servers drain)."""
    run_dir = tmpdir()
    base = free_range(count)
    broker_args = [arg for port in brokers for arg in ("--broker", str(port))]
    with open(os.path.join(run_dir, "supervise.out"), "wb") as out:
        sup = subprocess.Popen([os.path.join(SCRIPTS, "supervise.sh"), "--servers", str(count),
                                "--base-port", str(base), "--mode", mode, "--dir", run_dir,
                                *broker_args, "--", *server_flags],
                               env=script_env(run_dir), stdout=out, stderr=out,
                               start_new_session=True)
    conf = os.path.join(run_dir, "supervisord.conf")

    def all_running():
        if sup.poll() is not None or "FATAL" in supervisorctl(conf, "status").stdout:
            logs = [f"--- {f}\n" + open(os.path.join(run_dir, f)).read()[-500:]
                    for f in sorted(os.listdir(run_dir)) if f.endswith((".log", ".out"))]
            raise AssertionError("supervised servers failed to start:\n" + "\n".join(logs))
        return (p := server_pids(conf)) and len(p) == count + len(brokers) and p

    try:
        pids = wait_for(all_running, 30, f"{count} supervised servers")
        yield conf, run_dir, base, pids
    finally:
        os.killpg(sup.pid, signal.SIGTERM)
        try:
            sup.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(sup.pid, signal.SIGKILL)
            sup.wait(timeout=10)


def broker_workers(frontend_port):
    """Names of the workers a broker has registered (its --status), or None while it is down."""
    out = subprocess.run([os.path.join(BIN_DIR, "zlb-broker"), "--status",
                          f"tcp://127.0.0.1:{frontend_port}"],
                         capture_output=True, text=True, timeout=10)
    return sorted(w["name"] for w in json.loads(out.stdout)["workers"]) if out.returncode == 0 else None


def test_supervised_two_brokers():
    """Two supervised brokers with every server joined to both; a client connected to both
    loses nothing when one broker is killed, and the restarted broker has every worker back."""
    ports = [free_range(2), free_range(2)]
    with supervised(3, "cpu", "--threads", "1", "--heartbeat-ms", "200",
                    brokers=ports) as (conf, run_dir, base, pids):
        assert {"zlb-broker-1", "zlb-broker-2"} <= set(pids), pids
        for port in ports:
            wait_for(lambda: (w := broker_workers(port)) and len(w) == 3, 20,
                     f"3 workers at the broker on {port}")
        results = os.path.join(tmpdir(), "results.csv")
        requests = 12_000
        proc = subprocess.Popen([CLIENT, "--connect", f"tcp://127.0.0.1:{ports[0]}", "--connect",
                                 f"tcp://127.0.0.1:{ports[1]}", "--op", "factor", "--random",
                                 str(requests), "--bits", "56", "--semiprimes", "--rate", "2000",
                                 "--heartbeat-ms", "200", "--results", results, "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        atexit.register(lambda: proc.poll() is None and proc.kill())
        wait_for(lambda: rows_done(results) > 2000, 60, "the run to get going")
        os.kill(pids["zlb-broker-1"], signal.SIGKILL)
        wait_for(lambda: (p := server_pids(conf).get("zlb-broker-1")) and p != pids["zlb-broker-1"],
                 15, "supervisord to restart the killed broker")
        wait_for(lambda: (w := broker_workers(ports[0])) and len(w) == 3, 20,
                 "the workers to rejoin the restarted broker")
        finish_client(proc, results, requests)


_http = []


def http_target():
    """One loopback nginx target for the whole file, started on first use."""
    if not _http:
        _http.append(HttpTarget())
    return _http[0]


def urls_file(count, delay_s):
    path = os.path.join(tmpdir(), "urls.txt")
    base = http_target().base
    with open(path, "w") as f:
        for i in range(count):
            f.write(f"{base}/delay/{delay_s}/{i}\n")
    return path


def client_start(base, count, *args):
    """A background zlb-client run against the supervised servers on base..base+count-1;
    returns (process, results CSV path)."""
    results = os.path.join(tmpdir(), "results.csv")
    proc = subprocess.Popen([CLIENT, "--connect", f"tcp://127.0.0.1:{base}-{base + count - 1}",
                             *args, "--results", results, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    atexit.register(lambda: proc.poll() is None and proc.kill())  # a failed test leaves none
    return proc, results


def running_since(run_dir, process, after):
    """When supervisord's log first says `process` entered RUNNING at or after `after`."""
    with open(os.path.join(run_dir, "supervisord.log")) as f:
        for line in f:
            if f"success: {process} entered RUNNING" in line:
                at = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                if at >= after:
                    return at
    raise AssertionError(f"supervisord.log never says {process} entered RUNNING after {after}")


def test_supervisord_kill_spans_client_run():
    requests = 10_000
    urls = urls_file(requests, 0.05)  # 10,000 x 50 ms over a window of 100: 5 s at best
    with supervised(3, "io") as (conf, run_dir, base, pids):
        proc, results = client_start(base, 3, "--op", "fetch", "--input", urls, "--window", "100",
                                     "--timeout-ms", "1000", "--retries", "3",
                                     "--heartbeat-ms", "300")
        wait_for(lambda: rows_done(results) > 1500 or proc.poll() is not None, 60,
                 "the run to get going")
        assert proc.poll() is None, "the run ended before the kill"
        done_at_kill = rows_done(results)
        victim = "zlb-server:zlb-server_01"
        killed_at, killed_wall = time.monotonic(), datetime.datetime.now()
        os.kill(pids[victim], signal.SIGKILL)
        reborn = wait_for(lambda: (p := server_pids(conf).get(victim)) and p != pids[victim] and p,
                          10, "supervisord to restart the killed server")
        seen_after = time.monotonic() - killed_at
        assert proc.poll() is None, "the run ended before the killed server was back"
        # How soon it is back is asserted in test_timing_scripts.py; here it is only reported.
        back_after = (running_since(run_dir, "zlb-server_01", killed_wall) - killed_wall)
        back_after = back_after.total_seconds()
        rows, _ = finish_client(proc, results, requests)
        ended_after = time.monotonic() - killed_at
        resent = sum(1 for r in rows if int(r["attempts"]) > 1)
        assert resent, "nothing was in flight on the killed server"
        stop = supervisorctl(conf, "stop", "all")
        assert stop.returncode == 0, stop.stdout + stop.stderr
        # The killed instance never drained; the restarted one (pid `reborn`) did, and it had
        # taken requests from the same run: the client reconnected to it.
        log = open(os.path.join(run_dir, "zlb-server_01.log")).read()
        drained = re.findall(r"drained: (\d+) requests received", log)
        assert len(drained) == 1 and int(drained[0]) > 0, \
            f"restarted server (pid {reborn}) took no requests:\n{log[-2000:]}"
        print(f"  killed after {done_at_kill} replies, RUNNING again after {back_after:.1f} s "
              f"(seen {seen_after:.1f} s), run ended {ended_after:.1f} s after the kill; {resent} "
              f"resent, the restarted server took {drained[0]}", flush=True)


def latest_stats(log_path):
    """(received, fetches in flight) from a server log's last stats line, or None."""
    try:
        text = open(log_path).read()
    except FileNotFoundError:
        return None
    found = re.findall(r"received (\d+), .* fetches in flight (\d+)", text)
    return tuple(map(int, found[-1])) if found else None


def test_supervisorctl_stop_drains():
    requests = 60
    # Slow fetches, all sent at once (window = requests): the stop lands while they are in
    # flight. --retries 0: a request the stopping server dropped could not be hidden by a resend.
    # 2 s each rather than 1: supervisorctl alone takes ~0.3 s to start, more on a busy machine,
    # and the stop must reach the server before its fetches are done.
    urls = urls_file(requests, 2)
    with supervised(3, "io", "--stats-interval", "0.1") as (conf, run_dir, base, pids):
        logs = [os.path.join(run_dir, f"zlb-server_0{i}.log") for i in range(3)]
        proc, results = client_start(base, 3, "--op", "fetch", "--input", urls, "--window",
                                     str(requests), "--retries", "0", "--timeout-ms", "20000")

        # In flight: every request has reached a server (the stats lines' received counts add
        # up), so none can arrive at the stopping server and be turned away, and the victim is
        # still waiting on fetches of its own.
        def all_in_flight():
            stats = [latest_stats(p) for p in logs]
            return (all(stats) and sum(s[0] for s in stats) == requests and stats[1][1] > 0
                    and stats)
        stats = wait_for(all_in_flight, 30, "every request to be in flight on a server")
        victim = "zlb-server:zlb-server_01"
        stop_at = time.monotonic()
        stop = supervisorctl(conf, "stop", victim)
        stop_took = time.monotonic() - stop_at
        assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stdout + stop.stderr
        rows, _ = finish_client(proc, results, requests)
        assert all(r["attempts"] == "1" for r in rows), [r for r in rows if r["attempts"] != "1"]

        log = open(logs[1]).read()
        draining = re.search(r"draining: \d+ factor jobs and (\d+) fetches in flight", log)
        assert draining and int(draining.group(1)) > 0, f"not stopped mid-flight:\n{log[-2000:]}"
        assert re.search(r"drained: \d+ requests received", log), log[-2000:]
        # The draining server answered its own requests itself.
        by_victim = sum(1 for r in rows if r["server"].endswith(f":{base + 1}"))
        assert by_victim == stats[1][0], f"victim answered {by_victim} of its {stats[1][0]}"
        sup_log = open(os.path.join(run_dir, "supervisord.log")).read()
        assert "stopped: zlb-server_01 (exit status 0)" in sup_log, sup_log[-2000:]
        status = supervisorctl(conf, "status", victim).stdout
        assert "STOPPED" in status, status
        assert pids[victim] not in server_pids(conf).values()
        print(f"  stopped with {draining.group(1)} fetches in flight; supervisorctl stop took "
              f"{stop_took:.1f} s", flush=True)


if __name__ == "__main__":
    main([test_start_and_stop_servers, test_auto_ports_survive_a_lost_race,
          test_supervisord_restarts_a_killed_server, test_supervised_two_brokers,
          test_supervisord_kill_spans_client_run, test_supervisorctl_stop_drains])
