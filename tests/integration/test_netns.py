"""Across real hosts: three server hosts and a client host, each its own network namespace,
joined by veth links to a bridge in a private "switch" namespace (10.77.0.0/24). Mid-run one
server host's link goes down: no FIN, no RST, its packets just stop. Only the client's
heartbeats and per-attempt timeouts can notice, and the run must still finish with every
request ok and every id exactly once.

The namespaces come from netns.py: nothing in the host's own network namespace, all of them
deleted at exit, and without the rights to make them the test exits 77 (skipped).
"""
import csv
import json
import os
import subprocess
import time

from netns import Network, NsServer, main_or_skip
from zlbtest import CLIENT, rows_done, tmpdir, wait_for

PORT = 5555
net = Network("10.77.0")
SERVER_HOSTS = [f"host{i}" for i in (1, 2, 3)]
for i, name in enumerate(SERVER_HOSTS, 1):
    net.host(name, 10 + i)
net.host("client", 100)
# Factoring random 64-bit semiprimes: a few seconds on 2 cores, each reply a few ms.
REQUESTS = 40_000
WORKLOAD = ["--op", "factor", "--random", str(REQUESTS), "--bits", "64", "--semiprimes",
            "--window", "32"]


def test_link_cut_mid_run_loses_nothing():
    servers = [NsServer(net, name, PORT, "--mode", "cpu", "--threads", "1")
               for name in SERVER_HOSTS]
    victim = servers[1]
    results = os.path.join(tmpdir(), "results.csv")
    report = os.path.join(tmpdir(), "report.json")
    connect = [a for s in servers for a in ("--connect", s.endpoint)]
    started = time.monotonic()
    client = net.popen(
        "client", [CLIENT, *connect, *WORKLOAD, "--timeout-ms", "1000", "--heartbeat-ms", "300",
                   "--retries", "3", "--results", results, "--json", report, "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Cut only once the victim has demonstrably been serving: a quarter of the run is done.
    wait_for(lambda: rows_done(results) > REQUESTS // 4 or client.poll() is not None, 60,
             "the run to get going")
    assert client.poll() is None, "the run ended before the cut:\n" + client.communicate()[1]
    done_at_cut = rows_done(results)
    net.link_down(victim.name)
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
    main_or_skip(net, [test_link_cut_mid_run_loses_nothing])
