"""A whole deployment on one machine: 2 broker hosts, 3 worker hosts and 2 client hosts, each
its own network namespace (netns.py). Every worker joins both brokers, both clients connect to
both brokers. Mid-run one broker host's cable is pulled (no FIN, no RST: only heartbeats can
tell), then plugged back in. Nothing may be lost: every request of both clients ends ok exactly
once, the cut broker serves again once its link is back, and the two clients' interval logs
merge into one report whose count is the sum of theirs and whose percentiles are those of every
request's latency. Without the rights to make namespaces the test exits 77 (skipped)."""
import json
import subprocess
import time

from netns import Network, NsProcess, clients_start, main_or_skip
from reportutil import assert_percentiles, csv_latencies, merge_json
from zlbtest import BROKER, SERVER, finish_client, rows_done, wait_for

FRONTEND, BACKEND = 5555, 5556
HB_MS = "200"           # every hop: a silent peer is dropped after 3 intervals
RATE, DURATION_S = 1000, 8  # each client, open loop
net = Network("10.79.0")
BROKER_HOSTS = ["brk1", "brk2"]
WORKER_HOSTS = ["wrk1", "wrk2", "wrk3"]
CLIENT_HOSTS = ["cli1", "cli2"]
for octet, name in enumerate(BROKER_HOSTS + WORKER_HOSTS + CLIENT_HOSTS, 10):
    net.host(name, octet)


def addr(host):
    return net.hosts[host][1]


def broker_status(from_host, broker_host):
    """A broker's status, asked from another host (the cut one can't be asked)."""
    p = net.popen(from_host, [BROKER, "--status", f"tcp://{addr(broker_host)}:{FRONTEND}"],
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=15)
    return json.loads(out) if p.returncode == 0 else None


def workers_at(broker_host):
    st = broker_status("cli1", broker_host)
    return sorted(w["name"] for w in st["workers"]) if st else None


def test_two_brokers_one_cut_nothing_lost_one_report():
    brokers = [NsProcess(net, h, [BROKER, "--frontend", f"tcp://{addr(h)}:{FRONTEND}", "--backend",
                             f"tcp://{addr(h)}:{BACKEND}", "--heartbeat-ms", HB_MS, "--name", h],
                         "backend listening") for h in BROKER_HOSTS]
    links = [a for h in BROKER_HOSTS for a in ("--broker", f"tcp://{addr(h)}:{BACKEND}")]
    workers = [NsProcess(net, h, [SERVER, *links, "--mode", "cpu", "--threads", "1", "--heartbeat-ms",
                             HB_MS, "--name", h], "joining broker") for h in WORKER_HOSTS]
    for b in BROKER_HOSTS:
        wait_for(lambda: workers_at(b) == WORKER_HOSTS, 15, f"every worker at {b}")

    connect = [a for h in BROKER_HOSTS for a in ("--connect", f"tcp://{addr(h)}:{FRONTEND}")]
    clients = clients_start(net, CLIENT_HOSTS, connect, RATE, DURATION_S, "--heartbeat-ms", HB_MS,
                            "--interval", "250ms")

    # Cut brk1 a quarter into the run, plug it back in 2 s later.
    wait_for(lambda: rows_done(clients[0][2]["csv"]) > RATE * DURATION_S // 4, 60,
             "a quarter of the run")
    net.link_down("brk1")
    cut_at = time.monotonic()
    time.sleep(2)  # the outage itself: a span of time, not a synchronisation
    net.link_up("brk1")
    wait_for(lambda: workers_at("brk1") == WORKER_HOSTS, 15, "every worker back at brk1")
    back_in_s = time.monotonic() - cut_at

    reps = []
    for host, proc, paths in clients:
        finish_client(proc, paths["csv"], RATE * DURATION_S)
        with open(paths["json"]) as f:
            reps.append(json.load(f))
    for (host, _, _), rep in zip(clients, reps):
        assert rep["retried"] > 0, f"{host} resent nothing: nothing was in flight at brk1"
    # brk1 served again after its link came back (its counters live on: it never restarted).
    late = broker_status("cli2", "brk1")
    assert late and late["replied"] > 0, late

    m, text = merge_json(*(paths["hlog"] for _, _, paths in clients))
    print(text, flush=True)
    exact = csv_latencies(*(paths["csv"] for _, _, paths in clients))
    assert m["requests"] == sum(r["requests"] for r in reps) == len(exact) == 2 * RATE * DURATION_S
    assert_percentiles(m["latency_us"], exact)
    dip = [(i["t_s"], i["rps"], i["p99_us"]) for i in reps[0]["intervals"]]
    print(f"  cli1 intervals (t_s, rps, p99_us): {dip}", flush=True)
    print(f"  brk1 cut for 2 s; every worker back at it {back_in_s:.1f} s after the cut", flush=True)
    for p in workers + brokers:
        assert p.stop() == 0, p.log_text()[-2000:]


if __name__ == "__main__":
    main_or_skip(net, [test_two_brokers_one_cut_nothing_lost_one_report])
