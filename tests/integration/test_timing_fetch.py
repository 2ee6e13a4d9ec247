"""Wall-clock timing of fetches (ctest label `timing`, which the sanitizer run leaves out): a
fetch's timeout_ms ends it on time, and 200 fetches of 1 s run at once, not one after another.
Their outcomes are tested in test_fetch.py."""
import time

import msgpack
import zmq

from zlbtest import HttpTarget, Server, main

http = HttpTarget()
server = Server("--mode", "io")


def dealer():
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(server.endpoint)
    return s


def send_fetch(s, rid, url, **params):
    s.send_multipart([b"", msgpack.packb({"v": 1, "id": rid, "op": "fetch", "url": url,
                                          **params})])


def reply(s, wait_ms):
    assert s.poll(wait_ms), "no reply"
    return msgpack.unpackb(s.recv_multipart()[1], raw=False)


def test_short_timeout_ends_the_fetch_on_time():
    s = dealer()
    start = time.monotonic()
    send_fetch(s, 1, f"{http.base}/delay/2/slow", timeout_ms=300)
    r = reply(s, 15000)
    assert r["error"]["code"] == "timeout", r
    assert time.monotonic() - start < 1.5, f"{time.monotonic() - start:.2f} s"


def test_concurrent_fetches_overlap():
    s = dealer()
    n = 200
    start = time.monotonic()
    for i in range(n):
        send_fetch(s, i, f"{http.base}/delay/1/{i}")
    for _ in range(n):
        assert reply(s, 10000)["ok"]
    took = time.monotonic() - start
    assert took < 3.5, f"{n} fetches of 1 s took {took:.1f} s: they did not run concurrently"


if __name__ == "__main__":
    main([test_short_timeout_ends_the_fetch_on_time, test_concurrent_fetches_overlap])
