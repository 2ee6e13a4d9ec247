"""zlb-broker with real workers: load balancing, joins and deaths mid-run, credit, garbage,
restarts. (The mixed slow/fast workload, broker against direct round-robin, is a benchmark:
bench/scenarios/s7_broker.py.)"""
import json
import os
import random
import signal
import subprocess

import msgpack
import zmq

from zlbtest import (BIN_DIR, BROKER, CLIENT, SOURCE_DIR, Broker, Server, finish_client,
                     free_range, main, run_client, tmpdir, wait_for)
from zlbutil import random_prime

CTX = zmq.Context.instance()
HB = ("--heartbeat-ms", "200")


def worker(broker, *args, bind=False, name=None):
    return Server("--broker", broker.backend, *HB, *args, bind=bind, name=name)


def request(endpoint, body, timeout_ms=5000):
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    s.send_multipart(body if isinstance(body, list) else [b"", msgpack.packb(body)])
    assert s.poll(timeout_ms), f"no reply from {endpoint}"
    reply = s.recv_multipart()
    s.close()
    return msgpack.unpackb(reply[-1], raw=False)


def wait_workers(broker, n):
    wait_for(lambda: len([w for w in broker.status()["workers"] if not w["leaving"]]) == n, 15,
             f"{n} workers registered")


def test_through_broker_with_joins_and_a_kill():
    broker = Broker(*HB)
    workers = [worker(broker, "--mode", "cpu", "--threads", "1", name=f"w{i}") for i in range(2)]
    wait_workers(broker, 2)
    results = os.path.join(tmpdir(), "results.csv")
    # --retries 0: nothing may be rescued by the client; the broker must re-dispatch.
    proc = subprocess.Popen([CLIENT, "--connect", broker.frontend, "--op", "factor", "--random",
                             "20000", "--bits", "60", "--semiprimes", "--window", "32",
                             "--retries", "0", "--timeout-ms", "20000", "--results", results, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    size = lambda: os.path.getsize(results) if os.path.exists(results) else 0
    wait_for(lambda: size() > 60_000, 60, "the run to get going")
    late = worker(broker, "--mode", "cpu", "--threads", "1", name="late-joiner")
    wait_for(lambda: size() > 200_000, 60, "more progress")
    workers[0].signal(signal.SIGKILL)
    rows, _ = finish_client(proc, results, 20000)
    served = {}
    for r in rows:
        served[r["server"]] = served.get(r["server"], 0) + 1
    assert served.get("late-joiner", 0) > 500, served
    assert "re-dispatching" in broker.log_text()
    for w in (workers[1], late):
        assert w.stop() == 0
    assert broker.stop() == 0


def server_status(endpoint):
    return request(endpoint, {"v": 1, "id": 1, "op": "status"})["counters"]


def test_credit_is_respected():
    broker = Broker(*HB)
    one = worker(broker, "--mode", "cpu", "--threads", "2", "--credit", "1", bind=True)
    two = worker(broker, "--mode", "cpu", "--threads", "2", "--credit", "2", bind=True)
    wait_workers(broker, 2)
    run_client("--connect", broker.frontend, "--op", "factor", "--random", "3000", "--bits", "62",
               "--semiprimes", "--window", "16", check=0)
    assert server_status(one.endpoint)["inflight_max"] == 1
    assert server_status(two.endpoint)["inflight_max"] == 2  # the measure can see more
    for w in (one, two):
        w.stop()
    broker.stop()


def test_garbage_on_both_sockets():
    broker = Broker(*HB)
    w = worker(broker, "--mode", "cpu")
    wait_workers(broker, 1)
    r = request(broker.frontend, [b"", b"\xc1garbage"])
    assert r["ok"] is False and r["error"]["code"] == "bad_request", r
    r = request(broker.frontend, [b"no delimiter"])
    assert r["error"]["code"] == "bad_request", r
    r = request(broker.frontend, {"v": 1, "id": 4, "op": "fly"})
    assert r["error"]["code"] == "unsupported_op" and r["id"] == 4, r
    junk = CTX.socket(zmq.DEALER)
    junk.setsockopt(zmq.LINGER, 0)
    junk.connect(broker.backend)
    for frames in ([b"ZLB1READY", b"\x00\x01"], [b"ZLB1REQ", b"short", b"", b"x"], [b"?"],
                   [b"ZLB1HB"], [b"ZLB1READY", msgpack.packb({"v": 1, "name": "x", "ops": 3})]):
        junk.send_multipart(frames)
    wait_for(lambda: "dropped" in broker.log_text(), 10, "the broker to log dropped garbage")
    _, _, _, rep = run_client("--connect", broker.frontend, "--op", "factor", "--random", "500",
                              "--bits", "40", check=0)
    assert rep["ok"] == 500
    # A worker of worker protocol v1 (token in a frame of its own) is refused at READY,
    # with a log line that says why, and never gets a request.
    old = CTX.socket(zmq.DEALER)
    old.setsockopt(zmq.LINGER, 0)
    old.connect(broker.backend)
    old.send_multipart([b"ZLB1READY", msgpack.packb({"v": 1, "name": "old-worker",
                                                     "ops": ["factor"], "credit": 8})])
    wait_for(lambda: "worker protocol v2" in broker.log_text(), 10, "the v1 READY refused")
    assert all(x["name"] != "old-worker" for x in broker.status()["workers"])
    _, _, _, rep = run_client("--connect", broker.frontend, "--op", "factor", "--random", "200",
                              "--bits", "40", check=0)
    assert rep["ok"] == 200
    assert old.poll(0) == 0 or all(not f.startswith(b"ZLB2REQ") for f in old.recv_multipart())
    old.close()
    w.stop()
    broker.stop()


def test_queue_full_and_deadlines():
    # The worker is stopped (SIGSTOP) while the requests arrive, so what the broker holds is
    # exactly its credit (1) plus the queue (4), whatever the machine's speed: a worker that
    # factors faster than the client sends would otherwise drain the queue as it fills.
    # Heartbeats at 1 s keep a stopped worker registered for the half second it is stopped.
    hb = ("--heartbeat-ms", "1000")
    broker = Broker(*hb, "--queue-max", "4")
    w = Server("--broker", broker.backend, *hb, "--mode", "cpu", "--threads", "1",
               "--credit", "1", bind=False)
    wait_workers(broker, 1)
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(broker.frontend)
    rng = random.Random(3)
    big = str(random_prime(50, rng) * random_prime(50, rng))
    def send(i, deadline_ms, op="factor"):
        body = {"v": 1, "id": i, "op": op, "deadline_ms": deadline_ms}
        body.update({"n": big} if op == "factor" else {"url": "http://x/"})
        s.send_multipart([b"", msgpack.packb(body)])
    def recv():
        assert s.poll(20000), "no reply from the broker"
        r = msgpack.unpackb(s.recv_multipart()[1], raw=False)
        return r["id"], "ok" if r["ok"] else r["error"]["code"]
    w.signal(signal.SIGSTOP)
    try:
        for i in range(4):
            send(i, 20000)      # 0 is sent to the worker, 1-3 wait in the queue
        send(4, 300)            # queued too, and expires there
        for i in range(5, 10):
            send(i, 20000)      # the queue is full: refused at once
        send(99, 300, "fetch")  # no worker serves fetch: answered at once, not at its deadline
        early = dict(recv() for _ in range(7))
    finally:
        w.signal(signal.SIGCONT)
    assert early == {**{i: "overloaded" for i in range(5, 10)}, 99: "unsupported_op",
                     4: "deadline_exceeded"}, early
    late = dict(recv() for _ in range(4))
    assert late == {i: "ok" for i in range(4)}, late
    assert not s.poll(200), "a request was answered twice"
    w.stop()
    broker.stop()


def test_broker_restart_is_rejoined():
    broker = Broker(*HB)
    workers = [worker(broker, "--mode", "cpu") for _ in range(2)]
    wait_workers(broker, 2)
    fe, be = broker.frontend.rsplit(":", 1)[1], broker.backend.rsplit(":", 1)[1]
    broker.proc.kill()
    broker.proc.wait()
    reborn = Broker(*HB, frontend_port=int(fe), backend_port=int(be))
    wait_workers(reborn, 2)
    _, _, _, rep = run_client("--connect", reborn.frontend, "--count", "1000", check=0)
    assert len(rep["servers"]) == 2, rep
    for w in workers:
        w.stop()
    reborn.stop()


def test_supervised_broker():
    run_dir = tmpdir()
    base = free_range(2)
    broker_port = free_range(2)  # frontend and backend; free_range never hands out a port twice
    env = dict(os.environ, ZLB_BIN_DIR=os.path.abspath(BIN_DIR))
    sup = subprocess.Popen([os.path.join(SOURCE_DIR, "scripts", "supervise.sh"), "--servers", "2",
                            "--base-port", str(base), "--broker", str(broker_port), "--mode", "cpu",
                            "--dir", run_dir, "--", "--threads", "1"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        frontend = f"tcp://127.0.0.1:{broker_port}"
        def registered():
            p = subprocess.run([BROKER, "--status", frontend], capture_output=True, text=True)
            return p.returncode == 0 and len(json.loads(p.stdout)["workers"]) == 2
        try:
            wait_for(registered, 30, "2 supervised workers at the supervised broker")
        except TimeoutError:
            for log in sorted(os.listdir(run_dir)):
                if log.endswith(".log"):
                    print(f"--- {log}\n" + open(os.path.join(run_dir, log)).read()[-1500:])
            raise
        _, _, _, rep = run_client("--connect", frontend, "--op", "factor", "--random", "1000",
                                  "--bits", "50", check=0)
        assert len(rep["servers"]) == 2, rep
    finally:
        os.killpg(sup.pid, signal.SIGTERM)
        sup.wait(timeout=60)


if __name__ == "__main__":
    main([test_through_broker_with_joins_and_a_kill, test_credit_is_respected, test_garbage_on_both_sockets, test_queue_full_and_deadlines,
          test_broker_restart_is_rejoined, test_supervised_broker])
