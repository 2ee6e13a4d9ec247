"""Deadlines hold while factoring runs: a batch of hard 128-bit semiprimes (two random 64-bit
primes each) is stopped at its deadline_ms, and at the server's --max-factor-ms cap with or
without one, and the server goes on serving normal requests afterwards."""
import random
import subprocess
import time

import msgpack
import zmq

from zlbtest import SERVER, Server, main
from zlbutil import random_prime

CTX = zmq.Context.instance()
CAP_MS = 1000
# Numbers per hard batch: at about 7 ms of SIQS each on one core, about 4 s of work, well
# past CAP_MS and the 500 ms deadline below even on a faster machine (128 once sufficed,
# until the sieve got faster than 8 ms a number).
HARD = 600
# One worker thread each: a request that pinned it would starve everything after it. `server`
# keeps the default cap (10 s), so that work within its deadline finishes even on a loaded
# machine; `capped` has a short one.
server = Server("--threads", "1")
capped = Server("--threads", "1", "--max-factor-ms", str(CAP_MS))
# The shortest cap there is: counted from the start of the work, not from receipt, so it
# cuts into one number's factorization whatever the queueing on a loaded machine.
tight = Server("--threads", "1", "--max-factor-ms", "1")


def hard_batch(count, seed):
    """count semiprimes p*q of two random 64-bit primes, as protocol decimal strings."""
    rng = random.Random(seed)
    return [str(random_prime(64, rng) * random_prime(64, rng)) for _ in range(count)]


def dealer(to=server):
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(to.endpoint)
    return s


def send(sock, body):
    sock.send_multipart([b"", msgpack.packb(body)])


def receive(sock, timeout_s):
    assert sock.poll(int(timeout_s * 1000)), f"no reply within {timeout_s} s"
    frames = sock.recv_multipart()
    assert len(frames) == 2 and frames[0] == b"", frames
    return msgpack.unpackb(frames[1], raw=False)


def timed(body, timeout_s=30, to=server):
    """Sends body on a fresh socket; returns (reply, seconds until the reply)."""
    s = dealer(to)
    start = time.monotonic()
    send(s, body)
    reply = receive(s, timeout_s)
    elapsed = time.monotonic() - start
    s.close()
    return reply, elapsed


def assert_deadline_exceeded(reply, rid, words):
    assert reply["ok"] is False and reply["id"] == rid, reply
    assert reply["error"]["code"] == "deadline_exceeded", reply
    assert words in reply["error"]["message"], reply


def assert_still_serves(to=server):
    """A normal factor request that goes to the worker pool (above 2^32) is answered right."""
    p, q = 4294967291, 4294967279
    big = 18446744073709551557 * 18446744073709551533
    reply, _ = timed({"v": 1, "id": 7, "op": "factor", "ns": [p * q, str(big), 97]}, 10, to)
    assert reply["ok"] and reply["id"] == 7, reply
    assert reply["factors"] == [[q, p], [18446744073709551533, 18446744073709551557], [97]], reply


def test_hard_batch_stops_at_its_deadline():
    reply, elapsed = timed({"v": 1, "id": 1, "op": "factor", "ns": hard_batch(HARD, 1),
                            "deadline_ms": 500})
    print(f"  {HARD} hard semiprimes, deadline_ms 500: deadline_exceeded after {elapsed:.3f} s "
          f"(service_us {reply.get('service_us')})")
    assert_deadline_exceeded(reply, 1, "while factoring")
    assert reply["service_us"] >= 500_000, reply
    assert elapsed < 2.0, elapsed
    assert_still_serves()


# 13633485911247841631 * 15827925615132301519: a balanced 128-bit semiprime, about 7 ms of
# SIQS on one core (a second of ECM before SIQS).
SLOW = "215789800878185060060091466698252737489"


def test_one_hard_number_stops_inside_its_factorization():
    # No boundary between numbers to stop at: only the checks inside the sieve can.
    reply, elapsed = timed({"v": 1, "id": 2, "op": "factor", "n": SLOW}, to=tight)
    print(f"  one 128-bit semiprime, --max-factor-ms 1: deadline_exceeded after {elapsed:.3f} s "
          f"(service_us {reply.get('service_us')})")
    assert_deadline_exceeded(reply, 2, "--max-factor-ms 1")
    # It still serves what fits in its cap: a small number, factored in microseconds.
    reply, _ = timed({"v": 1, "id": 4, "op": "factor", "n": 1000003 * 999983}, 10, tight)
    assert reply["ok"] and reply["factors"] == [999983, 1000003], reply
    reply, _ = timed({"v": 1, "id": 3, "op": "factor", "n": SLOW}, 30)
    assert reply["ok"], reply
    assert reply["factors"] == [13633485911247841631, 15827925615132301519], reply


def test_hard_work_within_its_deadline_is_answered():
    rng = random.Random(3)
    pairs = [(random_prime(64, rng), random_prime(64, rng)) for _ in range(3)]
    reply, _ = timed({"v": 1, "id": 3, "op": "factor", "ns": [str(p * q) for p, q in pairs],
                      "deadline_ms": 60_000})
    assert reply["ok"], reply
    assert [[int(f) for f in fs] for fs in reply["factors"]] == [sorted(pq) for pq in pairs], reply


def test_request_without_deadline_is_capped():
    reply, elapsed = timed({"v": 1, "id": 4, "op": "factor", "ns": hard_batch(HARD, 4)}, to=capped)
    print(f"  {HARD} hard semiprimes, no deadline, --max-factor-ms {CAP_MS}: answered after "
          f"{elapsed:.3f} s")
    assert_deadline_exceeded(reply, 4, f"--max-factor-ms {CAP_MS}")
    assert CAP_MS / 1000 <= elapsed < CAP_MS / 1000 + 1.5, elapsed
    assert_still_serves(capped)


def test_a_long_deadline_does_not_lift_the_cap():
    reply, elapsed = timed({"v": 1, "id": 5, "op": "factor", "ns": hard_batch(HARD, 5),
                            "deadline_ms": 3_600_000}, to=capped)
    assert_deadline_exceeded(reply, 5, f"--max-factor-ms {CAP_MS}")
    assert elapsed < CAP_MS / 1000 + 1.5, elapsed


def test_queued_request_is_not_pinned_behind_a_hard_one():
    # The only worker takes the hard batch first; the normal request waits behind it for at
    # most the cap, and the cap counts from the start of each job, not from receipt.
    hog, normal = dealer(capped), dealer(capped)
    start = time.monotonic()
    send(hog, {"v": 1, "id": 6, "op": "factor", "ns": hard_batch(HARD, 6)})
    send(normal, {"v": 1, "id": 8, "op": "factor", "n": 4294967291 * 4294967279})
    r = receive(normal, 10)
    elapsed = time.monotonic() - start
    assert r["ok"] and r["factors"] == [4294967279, 4294967291], r
    assert elapsed < CAP_MS / 1000 + 1.5, elapsed
    assert_deadline_exceeded(receive(hog, 10), 6, "--max-factor-ms")
    hog.close()
    normal.close()


def test_default_cap_is_documented():
    out = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=10).stdout
    line = next(l for l in out.splitlines() if "--max-factor-ms" in l)
    assert "10000" in line, line


def test_servers_exit_cleanly():
    for s in (server, capped):
        assert_still_serves(s)
        s.stop()
    tight.stop()


if __name__ == "__main__":
    main([test_hard_batch_stops_at_its_deadline,
          test_one_hard_number_stops_inside_its_factorization,
          test_hard_work_within_its_deadline_is_answered,
          test_request_without_deadline_is_capped,
          test_a_long_deadline_does_not_lift_the_cap,
          test_queued_request_is_not_pinned_behind_a_hard_one,
          test_default_cap_is_documented,
          test_servers_exit_cleanly])
