"""Several brokers, no single point of failure: three workers joined to two brokers, a
client connected to both; one broker is killed with SIGKILL mid-run (and, in the second
run, started again on its ports). Every request must end ok exactly once with the default
--retries, and the restarted broker must get traffic again."""
import json
import os
import signal
import subprocess
import time

from zlbtest import (CLIENT, Broker, Server, finish_client, main, rows_done, tmpdir, wait_for)

HB = ("--heartbeat-ms", "200")
RATE, REQUESTS = 2000, 16000  # an 8 s open-loop run: long enough to kill and restart inside it


def deployment():
    brokers = [Broker(*HB) for _ in range(2)]
    links = [arg for b in brokers for arg in ("--broker", b.backend)]
    workers = [Server(*links, *HB, "--mode", "cpu", "--threads", "1", bind=False, name=f"w{i}")
               for i in range(3)]
    for b in brokers:
        wait_for(lambda: len(b.status()["workers"]) == 3, 15, "3 workers at each broker")
    return brokers, workers


def client_start(brokers, report):
    results = os.path.join(tmpdir(), "results.csv")
    connects = [arg for b in brokers for arg in ("--connect", b.frontend)]
    proc = subprocess.Popen([CLIENT, *connects, "--op", "factor", "--random", str(REQUESTS),
                             "--bits", "56", "--semiprimes", "--rate", str(RATE), "--window", "256",
                             "--heartbeat-ms", "200", "--interval", "250ms", "--json", report,
                             "--results", results, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, results


def failover_note(report, killed_at_s):
    """Prints throughput around the kill from the client's intervals (for the README/note)."""
    with open(report) as f:
        intervals = json.load(f).get("intervals", [])
    around = [i for i in intervals if abs(i.get("t_s", 0) - killed_at_s) < 2]
    print("intervals around the kill:", json.dumps(around)[:2000])


def test_kill_one_broker_mid_run():
    brokers, workers = deployment()
    report = os.path.join(tmpdir(), "report.json")
    started = time.monotonic()
    proc, results = client_start(brokers, report)
    wait_for(lambda: rows_done(results) > REQUESTS // 4, 60, "a quarter of the run")
    brokers[0].signal(signal.SIGKILL)
    killed_at_s = time.monotonic() - started
    finish_client(proc, results, REQUESTS)
    failover_note(report, killed_at_s)
    # The survivor took the dead broker's share, resent by the client.
    assert brokers[1].status()["replied"] > REQUESTS // 2
    for w in workers:
        w.stop()
    brokers[1].stop()


def test_restarted_broker_gets_traffic_again():
    brokers, workers = deployment()
    report = os.path.join(tmpdir(), "report.json")
    proc, results = client_start(brokers, report)
    wait_for(lambda: rows_done(results) > REQUESTS // 5, 60, "a fifth of the run")
    brokers[0].signal(signal.SIGKILL)
    brokers[0].proc.wait()
    at_kill = rows_done(results)
    wait_for(lambda: rows_done(results) > at_kill + RATE // 2, 60, "progress on one broker")
    brokers[0].start()  # the same ports: the client and the workers find it again
    wait_for(lambda: len(brokers[0].status()["workers"]) == 3, 15, "the workers to rejoin")
    finish_client(proc, results, REQUESTS)
    assert brokers[0].status()["replied"] > 0, "the restarted broker got no traffic"
    for w in workers:
        w.stop()
    for b in brokers:
        b.stop()


if __name__ == "__main__":
    main([test_kill_one_broker_mid_run, test_restarted_broker_gets_traffic_again])
