"""Memory bounded in bytes: a client that sends 2,000 echoes of 1 MiB and never reads
its replies costs a server, or a broker, no more than its per-peer queue budget
(--peer-queue-bytes, 256 MiB by default), also with --max-msg-bytes raised to 2 MB.
Replies past the budget are dropped and counted; the attacked process serves a normal
client while the flood sits unread, and after it. A broker that answered 300,000
requests holds no more than it did before them.

Peak RSS is read from /proc (VmHWM against VmRSS at idle). Under AddressSanitizer the
allocator keeps freed memory in quarantine, so these figures are not meaningful there:
the sanitizer run leaves this test out by its label (`limits`).
"""
import os

import msgpack
import zmq

from zlbtest import Broker, Server, main, run_client, wait_for

MIB = 1 << 20
SERVER_BOUND_MIB = 320  # --peer-queue-bytes (256 MiB) of replies, the requests being read, slack
BROKER_BOUND_MIB = 576  # --held-max-bytes (256 MiB) of requests + --peer-queue-bytes of replies


def mem_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field}")


def status_counters(endpoint):
    """A server's own counters, through a DEALER of its own (the flood's is not read)."""
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.connect(endpoint)
    s.send_multipart([b"", msgpack.packb({"v": 1, "id": 1, "op": "status"})])
    try:
        if not s.poll(5000):
            return None
        return msgpack.unpackb(s.recv_multipart()[-1], raw=False)
    finally:
        s.close()


def flood(endpoint, count, size):
    """Sends count echoes of size bytes and never reads. Returns the socket (kept open)."""
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.sndhwm = 0  # the attacker queues everything on its own side
    s.connect(endpoint)
    payload = b"\x5a" * size
    for i in range(count):
        body = msgpack.packb({"v": 1, "id": i + 1, "op": "echo", "data": payload})
        s.send_multipart([b"", body], copy=False)
    return s


def check_server_flood(*flags, size):
    server = Server("--threads", "1", *flags)
    pid = server.proc.pid
    idle = mem_kib(pid, "VmRSS")
    attacker = flood(server.endpoint, 2000, size)
    wait_for(lambda: (status_counters(server.endpoint) or {}).get("counters", {})
             .get("received", 0) >= 2001, 120, "the server to read the whole flood")
    # A normal client is served while the flood's replies sit unread.
    _, _, _, rep = run_client("--connect", server.endpoint, "--count", "500", check=0)
    assert rep["ok"] == 500, rep
    grew_mib = (mem_kib(pid, "VmHWM") - idle) / 1024
    counters = status_counters(server.endpoint)["counters"]
    print(f"server {' '.join(flags) or '(defaults)'}: peak RSS +{grew_mib:.0f} MiB under "
          f"2000 x {size / MIB:.1f} MiB unread echoes; {counters['replies_dropped']} replies dropped")
    assert grew_mib < SERVER_BOUND_MIB, f"server grew {grew_mib:.0f} MiB"
    assert counters["replies_dropped"] > 0, counters
    attacker.close()
    _, _, _, rep = run_client("--connect", server.endpoint, "--count", "200", check=0)
    assert rep["ok"] == 200, rep
    server.stop()


def test_server_flood_defaults():
    check_server_flood(size=MIB - 512)


def test_server_flood_with_2mb_messages():
    check_server_flood("--max-msg-bytes", "2000000", size=MIB - 512)


def test_broker_flood():
    broker = Broker()
    worker = Server("--broker", broker.backend, "--mode", "cpu", "--threads", "1", name="w",
                    bind=False)
    wait_for(lambda: len(broker.status()["workers"]) == 1, 10, "the worker to join")
    pid = broker.proc.pid
    idle = mem_kib(pid, "VmRSS")
    attacker = flood(broker.frontend, 2000, MIB - 512)
    wait_for(lambda: (lambda s: s["received"] >= 2000 and s["held_bytes"] == 0)(broker.status()),
             120, "the broker to answer the whole flood")
    _, _, _, rep = run_client("--connect", broker.frontend, "--count", "500", check=0)
    assert rep["ok"] == 500, rep
    grew_mib = (mem_kib(pid, "VmHWM") - idle) / 1024
    st = broker.status()
    print(f"broker: peak RSS +{grew_mib:.0f} MiB under 2000 x 1 MiB unread echoes; "
          f"{st['replies_dropped']} replies dropped")
    assert st["replies_dropped"] > 0, st
    assert grew_mib < BROKER_BOUND_MIB, f"broker grew {grew_mib:.0f} MiB"
    attacker.close()
    worker.stop()
    broker.stop()


def test_broker_flat_over_answered_requests():
    """Answered requests leave nothing behind: the broker once kept a deadline entry per
    request for the whole --worker-timeout-ms (60 s), 24 bytes each, so 300,000 echoes
    grew it by 7 to 14 MiB and a client at full speed by 290 MB a minute."""
    broker = Broker()
    workers = [Server("--broker", broker.backend, "--credit", "256", name=f"w{i}", bind=False)
               for i in range(2)]
    wait_for(lambda: len(broker.status()["workers"]) == 2, 10, "the workers to join")
    pid = broker.proc.pid
    _, _, _, rep = run_client("--connect", broker.frontend, "--count", "2000", "--window", "256",
                              check=0)  # warm: the pending slab and zmq's pipes at full size
    idle = mem_kib(pid, "VmRSS")
    count = 300_000
    _, _, _, rep = run_client("--connect", broker.frontend, "--count", str(count), "--window",
                              "256", check=0, timeout_s=300)
    assert rep["ok"] == count, rep
    grew_mib = (mem_kib(pid, "VmHWM") - idle) / 1024
    print(f"broker: peak RSS +{grew_mib:.1f} MiB over {count} answered echoes")
    assert grew_mib < 4, f"broker grew {grew_mib:.1f} MiB over {count} answered requests"
    for w in workers:
        w.stop()
    broker.stop()


if __name__ == "__main__":
    main([test_server_flood_defaults, test_server_flood_with_2mb_messages, test_broker_flood,
          test_broker_flat_over_answered_requests])
