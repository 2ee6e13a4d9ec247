"""zlb-server against raw ZeroMQ peers: every routable message gets exactly one reply,
malformed input included, and the server keeps serving."""
import signal

import msgpack
import zmq

from zlbtest import Server, main, run_client

CTX = zmq.Context.instance()
server = Server("--threads", "2", "--max-msg-bytes", "65536")


def dealer():
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(server.endpoint)
    return s


def exchange(frames, sock=None, timeout_ms=5000):
    """Sends raw frames, returns the decoded reply map (the frame after the delimiter)."""
    s = sock or dealer()
    s.send_multipart(frames)
    assert s.poll(timeout_ms), f"no reply to {frames!r:.80}"
    reply = s.recv_multipart()
    assert reply[0] == b"", f"reply lacks the delimiter: {reply!r:.80}"
    assert len(reply) == 2, reply
    return msgpack.unpackb(reply[1], raw=False)


def request(body, **kw):
    return exchange([b"", msgpack.packb(body)], **kw)


def assert_error(reply, code, rid=None):
    assert reply["v"] == 1 and reply["ok"] is False, reply
    assert reply["error"]["code"] == code, reply
    assert reply["error"]["message"], reply
    assert reply["id"] == rid, reply
    assert reply["server"] == server.name
    assert isinstance(reply["service_us"], int)


def test_echo_roundtrip():
    r = request({"v": 1, "id": 1, "op": "echo", "data": b"\x00\x01hello"})
    assert r["ok"] and r["id"] == 1 and r["data"] == b"\x00\x01hello", r
    r = request({"v": 1, "id": 2, "op": "echo", "data": "text"})
    assert r["data"] == "text", r


def test_garbage_frames_get_bad_request():
    assert_error(exchange([b"", b"\xc1\xc1 not msgpack"]), "bad_request")
    assert_error(exchange([b"", b""]), "bad_request")
    assert_error(exchange([b"no delimiter at all"]), "bad_request")
    assert_error(exchange([b"", b"a", b"b"]), "bad_request")
    assert_error(exchange([b"", msgpack.packb([1, 2, 3])]), "bad_request")
    assert_error(exchange([b"", msgpack.packb({"v": 1, "id": 5})]), "bad_request", 5)


def test_wrong_fields_get_the_right_codes():
    assert_error(request({"v": 1, "op": "echo", "data": b"x"}), "bad_request")
    assert_error(request({"v": 1, "id": -3, "op": "echo", "data": b"x"}), "bad_request")
    assert_error(request({"v": 1, "id": "7", "op": "echo", "data": b"x"}), "bad_request")
    assert_error(request({"v": 2, "id": 3, "op": "echo", "data": b"x"}), "unsupported_version", 3)
    assert_error(request({"v": 1, "id": 4, "op": "launch"}), "unsupported_op", 4)
    assert_error(request({"v": 1, "id": 5, "op": "factor", "n": 0}), "bad_request", 5)
    assert_error(request({"v": 1, "id": 6, "op": "factor", "n": "12abc"}), "bad_request", 6)
    assert_error(request({"v": 1, "id": 7, "op": "factor", "n": 1.5}), "bad_request", 7)
    assert_error(request({"v": 1, "id": 8, "op": "fetch", "url": "file:///etc/passwd"}),
                 "bad_request", 8)
    assert_error(request({"v": 1, "id": 9, "op": "fetch", "url": 12}), "bad_request", 9)
    assert_error(request({"v": 1, "id": 10, "op": "echo", "data": b"x", "deadline_ms": 0}),
                 "deadline_exceeded", 10)


def test_oversized_request_gets_too_large():
    r = request({"v": 1, "id": 11, "op": "echo", "data": b"x" * 100_000})
    assert_error(r, "too_large", 11)  # the id is read even from a request refused as too large


def test_client_sees_too_large_at_once():
    """An echo over the limit: the client reports too_large at once, not a timeout."""
    code, _, _, rep = run_client("--connect", server.endpoint, "--count", "2", "--size", "100000",
                                 "--retries", "2", "--timeout-ms", "30000")
    assert code == 1, rep
    assert rep["errors"] == {"too_large": 2}, rep
    assert rep["timeouts"] == 0 and rep["invalid_replies"] == 0 and rep["retried"] == 0, rep


def test_factor_results():
    cases = {
        1: [],
        2: [2],
        12: [2, 2, 3],
        2**64 - 1: [3, 5, 17, 257, 641, 65537, 6700417],
        18446744073709551557: [18446744073709551557],
        4294967291 * 4294967279: [4294967279, 4294967291],
        2**128 - 1: [3, 5, 17, 257, 641, 65537, 274177, 6700417, 67280421310721],
    }
    for i, (n, want) in enumerate(cases.items()):
        arg = str(n) if n >= 2**64 else n
        r = request({"v": 1, "id": 100 + i, "op": "factor", "n": arg})
        assert r["ok"] and r["id"] == 100 + i, r
        assert [int(f) for f in r["factors"]] == want, (n, r)
        assert all(isinstance(f, int) if f < 2**64 else isinstance(f, str) for f in want)
    r = request({"v": 1, "id": 200, "op": "factor", "ns": [6, "340282366920938463463374607431768211297", 97]})
    assert r["factors"] == [[2, 3], ["340282366920938463463374607431768211297"], [97]], r


def test_req_socket_works():
    s = CTX.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(server.endpoint)
    s.send(msgpack.packb({"v": 1, "id": 9, "op": "echo", "data": b"req"}))
    assert s.poll(5000)
    r = msgpack.unpackb(s.recv(), raw=False)
    assert r["ok"] and r["data"] == b"req", r


def test_every_request_answered_once_under_a_storm():
    s = dealer()
    bodies = []
    for i in range(2000):
        kind = i % 4
        if kind == 0:
            bodies.append([b"", msgpack.packb({"v": 1, "id": i, "op": "echo", "data": b"e"})])
        elif kind == 1:
            bodies.append([b"", msgpack.packb({"v": 1, "id": i, "op": "factor", "n": 2**61 - 1 + 2 * i})])
        elif kind == 2:
            bodies.append([b"", bytes([i % 256]) * (i % 7)])
        else:
            bodies.append([b"", msgpack.packb({"v": 1, "id": i, "op": "factor", "n": "x"})])
    for b in bodies:
        s.send_multipart(b)
    seen, anonymous = {}, 0
    for _ in bodies:
        assert s.poll(10000), f"only {len(seen) + anonymous} of {len(bodies)} answered"
        r = msgpack.unpackb(s.recv_multipart()[1], raw=False)
        if r["id"] is None:
            anonymous += 1
        else:
            seen[r["id"]] = seen.get(r["id"], 0) + 1
    assert not s.poll(200), "a request got more than one reply"
    assert all(v == 1 for v in seen.values())
    assert len(seen) + anonymous == len(bodies)
    assert server.proc.poll() is None


def test_modes_refuse_other_ops():
    cpu = Server("--mode", "cpu", "--threads", "1")
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(cpu.endpoint)
    r = exchange([b"", msgpack.packb({"v": 1, "id": 1, "op": "fetch", "url": "http://127.0.0.1:1/"})], s)
    assert r["error"]["code"] == "unsupported_op", r
    io = Server("--mode", "io")
    s2 = CTX.socket(zmq.DEALER)
    s2.setsockopt(zmq.LINGER, 0)
    s2.connect(io.endpoint)
    r = exchange([b"", msgpack.packb({"v": 1, "id": 2, "op": "factor", "n": 15})], s2)
    assert r["error"]["code"] == "unsupported_op", r
    assert cpu.stop() == 0 and io.stop() == 0


def test_still_serving_and_exits_cleanly():
    r = request({"v": 1, "id": 999, "op": "echo", "data": b"alive"})
    assert r["ok"], r
    assert server.stop() == 0
    assert "drained" in server.log_text()


if __name__ == "__main__":
    main([test_client_sees_too_large_at_once, test_echo_roundtrip, test_garbage_frames_get_bad_request,
          test_wrong_fields_get_the_right_codes, test_oversized_request_gets_too_large,
          test_factor_results, test_req_socket_works,
          test_every_request_answered_once_under_a_storm, test_modes_refuse_other_ops,
          test_still_serving_and_exits_cleanly])
