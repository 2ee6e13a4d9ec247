"""One report from many client hosts: two server hosts and three client hosts, each its own
network namespace (netns.py). The clients start their open-loop schedules together
(--start-at), each at a fixed rate, and write --hlog interval logs and --results CSVs.
`zlb-report merge` of the three logs must give a count equal to the sum of the three, a
throughput equal to the sum, and the percentiles of one exact histogram holding every
request's latency, built here from the three CSVs. Without the rights to make namespaces
the test exits 77 (skipped)."""
import json
import math

from netns import Network, NsServer, clients_start, main_or_skip
from reportutil import assert_percentiles, csv_latencies, exact_at, merge_json

PORT = 5555
RATE = 400         # requests per second, each client
DURATION_S = 4
net = Network("10.78.0")
SERVER_HOSTS = ["srv1", "srv2"]
CLIENT_HOSTS = ["cli1", "cli2", "cli3"]
for i, name in enumerate(SERVER_HOSTS, 1):
    net.host(name, 10 + i)
for i, name in enumerate(CLIENT_HOSTS, 1):
    net.host(name, 100 + i)


def test_three_client_hosts_merge_into_one_exact_report():
    servers = [NsServer(net, name, PORT, "--mode", "cpu", "--threads", "1") for name in SERVER_HOSTS]
    connect = [a for s in servers for a in ("--connect", s.endpoint)]
    clients = clients_start(net, CLIENT_HOSTS, connect, RATE, DURATION_S)
    reps = []
    for host, proc, paths in clients:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{host} exited {proc.returncode}\n{out}\n{err}"
        with open(paths["json"]) as f:
            reps.append(json.load(f))
    for (host, _, _), rep in zip(clients, reps):
        assert rep["requests"] == RATE * DURATION_S and rep["ok"] == rep["requests"], (host, rep)
        assert set(rep["servers"]) == set(SERVER_HOSTS), (host, rep["servers"].keys())

    m, text = merge_json(*(paths["hlog"] for _, _, paths in clients))
    print(text, flush=True)
    # Count: the sum of the three, and of the CSVs' rows.
    exact = csv_latencies(*(paths["csv"] for _, _, paths in clients))
    assert m["requests"] == sum(r["requests"] for r in reps) == len(exact), (m["requests"], len(exact))
    # Throughput: the sum of the three (they ran over the same seconds).
    total = sum(r["throughput_rps"] for r in reps)
    assert math.isclose(m["throughput_rps"], total, rel_tol=0.05), (m["throughput_rps"], total)
    starts = [l["start_s"] for l in m["logs"]]
    assert max(starts) - min(starts) < 0.5, f"the clients did not start together: {starts}"
    # Percentiles: those of the one exact histogram of every request, within 3 digits.
    assert_percentiles(m["latency_us"], exact)
    assert m["latency_us"]["min"] <= exact[0] + exact[0] / 1024 + 1
    # Averaging the clients' p99 is not what was done (and is not the union's p99 in general).
    mean_p99 = sum(r["latency_us"]["p99"] for r in reps) / len(reps)
    print(f"  merged p99 {m['latency_us']['p99']} us, exact {exact_at(exact, 99)} us; "
          f"the mean of the clients' p99s would say {mean_p99:.0f} us", flush=True)
    for s in servers:
        assert s.stop() == 0, s.log_text()


if __name__ == "__main__":
    main_or_skip(net, [test_three_client_hosts_merge_into_one_exact_report])
