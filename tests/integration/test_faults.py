"""Servers that die, stall or come back mid-run: the client must finish with every
request ok and every id accounted for exactly once."""
import os
import signal
import subprocess
import time

from zlbtest import CLIENT, HttpTarget, Server, finish_client, main, rows_done, tmpdir, wait_for

http = HttpTarget()
REQUESTS = 10_000


def urls_file(n):
    path = os.path.join(tmpdir(), "urls.txt")
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"{http.base}/delay/0.05/{i}\n")
    return path


URLS = urls_file(REQUESTS)


def start_run(servers, *extra):
    """Starts a 10,000-fetch client run in the background; returns (process, results path)."""
    results = os.path.join(tmpdir(), "results.csv")
    connect = [a for s in servers for a in ("--connect", s.endpoint)]
    proc = subprocess.Popen([CLIENT, *connect, "--op", "fetch", "--input", URLS, "--window", "150",
                             "--timeout-ms", "1000", "--retries", "3", "--heartbeat-ms", "300",
                             "--results", results, "-q", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, results


def io_servers(n):
    return [Server("--mode", "io", name=f"io-{i}-{time.monotonic_ns()}") for i in range(n)]


def test_kill_9_mid_run_loses_nothing():
    servers = io_servers(3)
    proc, results = start_run(servers)
    wait_for(lambda: rows_done(results) > 1500, 60, "the run to get going")
    servers[1].signal(signal.SIGKILL)
    rows, _ = finish_client(proc, results, REQUESTS)
    assert any(int(r["attempts"]) > 1 for r in rows), "nothing was in flight on the killed server"
    for s in (servers[0], servers[2]):
        s.stop()


def test_sigstop_5s_mid_run_loses_nothing():
    servers = io_servers(3)
    proc, results = start_run(servers)
    wait_for(lambda: rows_done(results) > 1500, 60, "the run to get going")
    servers[2].signal(signal.SIGSTOP)
    stopped_at = time.monotonic()
    # The stall itself is the fault under test: it lasts 5 s whatever the client does.
    wait_for(lambda: time.monotonic() - stopped_at >= 5 or proc.poll() is not None, 10, "5 s")
    servers[2].signal(signal.SIGCONT)
    rows, _ = finish_client(proc, results, REQUESTS)
    assert any(int(r["attempts"]) > 1 for r in rows), "nothing was stuck on the stopped server"
    for s in servers:
        s.stop()


def test_restarted_server_serves_again():
    servers = io_servers(2)
    victim = Server("--mode", "io", name="victim-first")
    proc, results = start_run(servers + [victim])
    wait_for(lambda: rows_done(results) > 1500, 60, "the run to get going")
    victim.signal(signal.SIGKILL)
    victim.proc.wait()
    reborn = Server("--mode", "io", name="victim-reborn", port=victim.port)
    rows, _ = finish_client(proc, results, REQUESTS)
    served_by_reborn = sum(1 for r in rows if r["server"] == "victim-reborn")
    assert served_by_reborn > 100, f"the restarted server answered only {served_by_reborn}"
    for s in servers + [reborn]:
        s.stop()


if __name__ == "__main__":
    main([test_kill_9_mid_run_loses_nothing, test_sigstop_5s_mid_run_loses_nothing,
          test_restarted_server_serves_again])
