"""A broker that a bad worker cannot capture, attacked with real processes.

- A black hole (joins with huge credit, heartbeats, never answers) beside one real
  worker: a 2,000-request run ends 2,000 of 2,000 ok, and the broker's status shows the
  black hole's credit capped and the hole quarantined.
- A worker name with a newline and terminal escapes is stored printable.
- An unregistered peer sending a huge frame to the backend costs the broker no memory
  beyond its --max-reply-bytes, and the broker goes on serving.
"""
import os
import threading

import msgpack
import zmq

from zlbtest import Broker, Server, main, run_client, wait_for


class BlackHole:
    """A worker that registers, heartbeats and never answers anything."""

    def __init__(self, backend, name, credit):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(backend)
        ready = {"v": 2, "name": name, "ops": ["echo", "factor", "fetch", "status"], "credit": credit}
        self.sock.send_multipart([b"ZLB1READY", msgpack.packb(ready)])
        self.swallowed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self.stop.is_set():
            if poller.poll(200):
                while True:
                    try:
                        frames = self.sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if frames[0].startswith(b"ZLB2REQ"):
                        self.swallowed += 1
            self.sock.send(b"ZLB1HB")

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()
        self.ctx.term()


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_black_hole_beside_a_real_worker():
    # A long quarantine: the hole is still in it when the run ends, however slow the machine.
    broker = Broker("--worker-timeout-ms", "300", "--quarantine-ms", "60000", "--max-credit", "64")
    hole = BlackHole(broker.backend, "hole", 1_000_000)
    wait_for(lambda: [w["name"] for w in broker.status()["workers"]] == ["hole"], 10,
             "the black hole to join")
    real = Server("--broker", broker.backend, "--mode", "all", name="real", bind=False)
    wait_for(lambda: len(broker.status()["workers"]) == 2, 10, "the real worker to join")
    try:
        _, _, _, rep = run_client("--connect", broker.frontend, "--count", "2000", "--window", "32",
                                  "--timeout-ms", "10000", check=0)
        assert rep["ok"] == 2000, rep
        assert hole.swallowed > 0, "the black hole never got a request: nothing was tested"
        status = {w["name"]: w for w in broker.status()["workers"]}
        assert status["hole"]["credit"] == 64, status["hole"]
        assert status["hole"]["strikes"] == 1, status["hole"]  # all it held: one strike
        assert status["hole"]["quarantined_ms"] > 0, status["hole"]
        assert status["real"]["served"] >= 2000 - 0, status["real"]
        assert broker.status()["taken_back"] >= hole.swallowed - status["hole"]["inflight"]
        print(f"black hole swallowed {hole.swallowed}, quarantined "
              f"{status['hole']['quarantined_ms']} ms after {status['hole']['strikes']} strikes")
    finally:
        hole.close()
        real.stop()
        broker.stop()


def test_worker_names_are_printable():
    broker = Broker()
    hole = BlackHole(broker.backend, "evil\n2026-12-01T00:00:00Z info forged\x1b[2J" + "x" * 500, 1)
    try:
        wait_for(lambda: broker.status()["workers"], 10, "the worker to join")
        name = broker.status()["workers"][0]["name"]
        assert all(0x20 <= ord(c) < 0x7f for c in name), repr(name)
        assert len(name) <= 67, len(name)
        assert "\n" not in broker.log_text().split("joined")[0].split("worker ", 1)[-1]
    finally:
        hole.close()
        broker.stop()


def test_huge_frame_on_the_backend_costs_no_memory():
    broker = Broker("--max-reply-bytes", str(16 << 20))
    real = Server("--broker", broker.backend, "--mode", "cpu", name="real", bind=False)
    wait_for(lambda: len(broker.status()["workers"]) == 1, 10, "the worker to join")
    idle = rss_kib(broker.proc.pid)
    ctx = zmq.Context()
    intruder = ctx.socket(zmq.DEALER)
    intruder.linger = 0
    intruder.sndtimeo = 20000
    intruder.connect(broker.backend)
    blob = b"\0" * (256 << 20)
    for _ in range(3):  # each connection is dropped at the first oversized frame
        intruder.send_multipart([b"ZLB1READY", blob])
        intruder.close()
        intruder = ctx.socket(zmq.DEALER)
        intruder.linger = 0
        intruder.sndtimeo = 20000
        intruder.connect(broker.backend)
    intruder.send_multipart([b"ZLB1HB"])  # a small message still gets through: flushed
    del blob
    _, _, _, rep = run_client("--connect", broker.frontend, "--count", "200", check=0)
    assert rep["ok"] == 200, rep
    grew_mib = (rss_kib(broker.proc.pid) - idle) / 1024
    print(f"broker RSS grew {grew_mib:.1f} MiB under three 256 MiB frames")
    assert grew_mib < 48, f"broker grew {grew_mib:.1f} MiB"
    intruder.close()
    ctx.term()
    real.stop()
    broker.stop()


if __name__ == "__main__":
    main([test_black_hole_beside_a_real_worker, test_worker_names_are_printable,
          test_huge_frame_on_the_backend_costs_no_memory])
