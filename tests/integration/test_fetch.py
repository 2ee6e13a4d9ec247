"""Fetches against the real loopback nginx target: statuses, bodies, limits, timeouts,
and SIGTERM draining in-flight fetches. How long timeouts and concurrent fetches take on the
wall clock is test_timing_fetch.py's part."""
import os
import signal
import socket
import threading
import time

import msgpack
import zmq

from zlbtest import HttpTarget, Server, free_port, main

CTX = zmq.Context.instance()
http = HttpTarget()
server = Server("--mode", "io")


def dealer(endpoint=None):
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint or server.endpoint)
    return s


def fetch(url, sock=None, wait_ms=15000, **params):
    s = sock or dealer()
    s.send_multipart([b"", msgpack.packb({"v": 1, "id": 1, "op": "fetch", "url": url, **params})])
    assert s.poll(wait_ms), f"no reply for {url}"
    return msgpack.unpackb(s.recv_multipart()[1], raw=False)


def test_status_codes_are_ok_replies():
    for code in (200, 404, 500):
        r = fetch(f"{http.base}/status/{code}")
        assert r["ok"] is True and r["status"] == code, r
        assert r["elapsed_us"] > 0 and "body" not in r


def test_body_and_bytes():
    r = fetch(f"{http.base}/delay/0/hello", want_body=True)
    assert r["ok"] and r["status"] == 200, r
    assert r["body"] == b"hello\n" or r["body"] == b"hello", r
    assert r["bytes"] == len(r["body"])
    assert r["content_type"].startswith("text/plain"), r
    r = fetch(f"{http.base}/bytes/5000")
    assert r["bytes"] == 5000 and "body" not in r, r


def test_head_has_no_body():
    r = fetch(f"{http.base}/bytes/5000", method="HEAD", want_body=True)
    assert r["ok"] and r["status"] == 200 and r["bytes"] == 0, r


def test_max_bytes_gives_too_large():
    r = fetch(f"{http.base}/bytes/5000", max_bytes=1000)
    assert r["ok"] is False and r["error"]["code"] == "too_large", r


def test_redirects_are_followed():
    r = fetch(f"{http.base}/redirect/3")
    assert r["ok"] and r["status"] == 200, r


def test_too_many_redirects_fail():
    r = fetch(f"{http.base}/redirect/5")
    assert r["ok"] and r["status"] == 200, r
    r = fetch(f"{http.base}/redirect/6")
    assert r["ok"] is False and r["error"]["code"] == "fetch_failed", r


def test_short_timeout_gives_timeout():
    r = fetch(f"{http.base}/delay/2/slow", timeout_ms=300)
    assert r["ok"] is False and r["error"]["code"] == "timeout", r


def test_deadline_shorter_than_timeout_gives_deadline_exceeded():
    r = fetch(f"{http.base}/delay/2/slow", deadline_ms=300)
    assert r["ok"] is False and r["error"]["code"] == "deadline_exceeded", r


def test_refused_connection_is_fetch_failed():
    r = fetch(f"http://127.0.0.1:{free_port()}/")
    assert r["ok"] is False and r["error"]["code"] == "fetch_failed", r


def test_policy_refuses_metadata_and_denied_ranges():
    r = fetch("http://169.254.169.254/latest/meta-data/")
    assert r["ok"] is False and r["error"]["code"] == "fetch_failed", r
    assert "policy" in r["error"]["message"], r
    strict = Server("--mode", "io", "--deny-cidr", "127.0.0.0/8")
    r = fetch(f"{http.base}/status/200", dealer(strict.endpoint))
    assert r["ok"] is False and "policy" in r["error"]["message"], r
    assert strict.stop() == 0
    exempt = Server("--mode", "io", "--deny-cidr", "127.0.0.0/8", "--allow-host", "127.0.0.1")
    r = fetch(f"{http.base}/status/200", dealer(exempt.endpoint))
    assert r["ok"] and r["status"] == 200, r
    assert exempt.stop() == 0


def test_many_fetches_in_flight_all_answered():
    s = dealer()
    n = 600  # many fetcher shards (64 slots each) in flight at once
    for i in range(n):
        s.send_multipart([b"", msgpack.packb({"v": 1, "id": i, "op": "fetch",
                                              "url": f"{http.base}/delay/1/{i}"})])
    ids = set()
    for _ in range(n):
        assert s.poll(10000)
        r = msgpack.unpackb(s.recv_multipart()[1], raw=False)
        assert r["ok"] and r["status"] == 200, r
        ids.add(r["id"])
    assert ids == set(range(n))


def test_one_slot_reused_keeps_no_options_of_the_last_fetch():
    # One slot, so every fetch runs on the same curl handle, which keeps its options
    # between fetches: what a fetch asked for must not leak into the next.
    one = Server("--mode", "io", "--max-inflight", "1")
    s = dealer(one.endpoint)
    r = fetch(f"{http.base}/bytes/5000", s, method="HEAD", want_body=True)
    assert r["ok"] and r["bytes"] == 0, r
    r = fetch(f"{http.base}/bytes/5000", s)
    assert r["ok"] and r["bytes"] == 5000, r  # GET again after HEAD
    r = fetch(f"{http.base}/bytes/5000", s, max_bytes=1000)
    assert r["ok"] is False and r["error"]["code"] == "too_large", r
    r = fetch(f"{http.base}/bytes/5000", s, want_body=True)
    assert r["ok"] and len(r["body"]) == 5000, r  # the cap was that fetch's only
    r = fetch(f"{http.base}/delay/1/x", s, timeout_ms=100)
    assert r["ok"] is False and r["error"]["code"] == "timeout", r
    r = fetch(f"{http.base}/delay/0.3/late", s, want_body=True)
    assert r["ok"] and r["body"] == b"late", r  # nor was the short timeout kept
    assert one.stop() == 0


class KeepAliveTarget:
    """A raw HTTP/1.1 server: answers every request on a connection kept alive, counts the
    connections it accepted, and closes them all when told (as an idle timeout would)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/x"
        self.conns = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        data = b""
        try:
            while chunk := c.recv(4096):
                data += chunk
                while b"\r\n\r\n" in data:
                    _, data = data.split(b"\r\n\r\n", 1)
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass

    def close_all(self):
        while self.conns:
            c = self.conns.pop()
            c.shutdown(socket.SHUT_RDWR)
            c.close()

    def stop(self):
        self.listener.close()
        self.close_all()


def cpu_s(pid):
    """Run time of all of a process's threads, in seconds (schedstat, to the nanosecond)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def test_kept_alive_connection_closed_while_idle():
    # Between fetches a kept-alive connection stays in the server's epoll set. When the
    # peer closes it there, the server must drop it from the set rather than be woken by
    # it every turn, and the next fetch must dial a new connection.
    target = KeepAliveTarget()
    one = Server("--mode", "io", "--max-inflight", "1")
    s = dealer(one.endpoint)
    for _ in range(3):
        r = fetch(target.url, s, want_body=True)
        assert r["ok"] and r["body"] == b"ok", r
    assert target.accepted == 1  # one connection, reused
    target.close_all()
    used = cpu_s(one.proc.pid)
    time.sleep(1.0)  # a measuring window, not a wait for anything
    busy_s = cpu_s(one.proc.pid) - used
    assert busy_s < 0.3, f"idle server used {busy_s:.2f} s of CPU in 1 s"
    r = fetch(target.url, s, want_body=True)
    assert r["ok"] and r["body"] == b"ok", r
    assert target.accepted == 2
    target.stop()
    assert one.stop() == 0


def test_overloaded_past_max_inflight():
    small = Server("--mode", "io", "--max-inflight", "2")
    s = dealer(small.endpoint)
    for i in range(5):
        s.send_multipart([b"", msgpack.packb({"v": 1, "id": i, "op": "fetch",
                                              "url": f"{http.base}/delay/0.5/{i}"})])
    codes = []
    for _ in range(5):
        assert s.poll(10000)
        r = msgpack.unpackb(s.recv_multipart()[1], raw=False)
        codes.append("ok" if r["ok"] else r["error"]["code"])
    assert codes.count("ok") == 2 and codes.count("overloaded") == 3, codes
    assert small.stop() == 0


def test_sigterm_drains_inflight_fetches():
    s = dealer()
    n = 50
    for i in range(n):
        s.send_multipart([b"", msgpack.packb({"v": 1, "id": i, "op": "fetch",
                                              "url": f"{http.base}/delay/1/{i}"})])
    # Requests on one connection are read in order: once this echo is answered the
    # server holds all the fetches above.
    s.send_multipart([b"", msgpack.packb({"v": 1, "id": 10_000, "op": "echo", "data": b"mark"})])
    answered = set()
    while 10_000 not in answered:
        assert s.poll(5000)
        answered.add(msgpack.unpackb(s.recv_multipart()[1], raw=False)["id"])
    server.signal(signal.SIGTERM)
    while len(answered) < n + 1:
        assert s.poll(5000), f"only {len(answered) - 1} of {n} fetches answered after SIGTERM"
        r = msgpack.unpackb(s.recv_multipart()[1], raw=False)
        assert r["ok"] and r["status"] == 200, r
        answered.add(r["id"])
    assert server.proc.wait(timeout=10) == 0
    assert "drained" in server.log_text()


if __name__ == "__main__":
    main([test_status_codes_are_ok_replies, test_body_and_bytes, test_head_has_no_body,
          test_max_bytes_gives_too_large, test_redirects_are_followed, test_too_many_redirects_fail,
          test_short_timeout_gives_timeout, test_deadline_shorter_than_timeout_gives_deadline_exceeded,
          test_refused_connection_is_fetch_failed, test_policy_refuses_metadata_and_denied_ranges,
          test_many_fetches_in_flight_all_answered, test_one_slot_reused_keeps_no_options_of_the_last_fetch,
          test_kept_alive_connection_closed_while_idle,
          test_overloaded_past_max_inflight, test_sigterm_drains_inflight_fetches])
