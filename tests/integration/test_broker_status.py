"""zlb-broker --status against bad endpoints and fake brokers that answer garbage.

Every case must end with one line on stderr, a non-zero exit, and within a bounded
time: never an abort, a hang or a traceback. A real broker still answers afterwards.
"""
import os
import subprocess
import sys
import threading
import time

import zmq

sys.path.insert(0, os.path.dirname(__file__))
import zlbtest  # noqa: E402

BOUND_S = 10  # --status waits 5 s for a reply; anything past this is a hang


def status(endpoint):
    start = time.monotonic()
    p = subprocess.run([zlbtest.BROKER, "--status", endpoint], capture_output=True, text=True,
                       timeout=BOUND_S + 5)
    return p, time.monotonic() - start


def check_one_line_failure(p, took, code, words):
    assert p.returncode == code, f"exit {p.returncode}, wanted {code}: {p.stderr!r}"
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, f"wanted one line on stderr, got: {p.stderr!r}"
    assert words in lines[0], f"{words!r} not in {lines[0]!r}"
    assert p.stdout == "", f"nothing on stdout, got {p.stdout!r}"
    assert took < BOUND_S, f"took {took:.1f} s"


def test_invalid_endpoints():
    for endpoint in ["nonsense://x", "tcp://", "tcp://127.0.0.1:notaport", ""]:
        p, took = status(endpoint)
        check_one_line_failure(p, took, 2, "cannot connect to")


def test_server_and_broker_refuse_bad_endpoints():
    """A port past 65535 would wrap (99999 is 34463); a bad name fails later, puzzlingly."""
    bad = ["tcp://127.0.0.1:99999", "tcp://127.0.0.1:0x10", "tcp://no host:1", "udp://1.2.3.4:5"]
    for ep in bad:
        for cmd in ([zlbtest.SERVER, "--bind", ep], [zlbtest.SERVER, "--broker", ep],
                    [zlbtest.BROKER, "--frontend", ep, "--backend", "tcp://127.0.0.1:*"],
                    [zlbtest.BROKER, "--frontend", "tcp://127.0.0.1:*", "--backend", ep]):
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            assert p.returncode == 2, (cmd, p.returncode, p.stderr)
            assert ep in p.stderr and "bad endpoint" in p.stderr, (cmd, p.stderr)
    for binary in (zlbtest.SERVER, zlbtest.BROKER, zlbtest.CLIENT):
        p = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        assert p.returncode == 0 and p.stdout.startswith("zlb-"), p


class FakeBroker:
    """A ROUTER on a free port that answers every request with `reply_frames`."""

    def __init__(self, reply_frames):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.reply_frames = reply_frames
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self.stop.is_set():
            if poller.poll(50):
                frames = self.sock.recv_multipart()
                if self.reply_frames is not None:
                    self.sock.send_multipart([frames[0], *self.reply_frames])

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()
        self.ctx.term()


def test_garbage_replies():
    cases = [
        ("bad msgpack", [b"", b"\xc1\xc1\xc1"], "not msgpack"),
        ("huge array header", [b"", b"\xdd\xff\xff\xff\xff"], "not msgpack"),
        ("huge map header", [b"", b"\xdf\xff\xff\xff\xff"], "not msgpack"),
        ("a deep nest", [b"", b"\x91" * 100000], "not msgpack"),
        ("one frame", [b"\x80"], "not [empty delimiter, body]"),
        ("three frames", [b"", b"\x80", b"x"], "not [empty delimiter, body]"),
        ("not a map", [b"", b"\x93\x01\x02\x03"], "not a msgpack map"),
        ("no ok", [b"", b"\x81\xa1a\x01"], "without ok"),
        ("an error", [b"", b"\x81\xa2ok\xc2"], "an error reply"),
    ]
    for what, frames, words in cases:
        fake = FakeBroker(frames)
        try:
            p, took = status(fake.endpoint)
            try:
                check_one_line_failure(p, took, 1, words)
            except AssertionError as e:
                raise AssertionError(f"{what}: {e}") from None
        finally:
            fake.close()


def test_silent_broker_times_out():
    fake = FakeBroker(None)
    try:
        p, took = status(fake.endpoint)
        check_one_line_failure(p, took, 1, "no status reply")
        assert took >= 4, f"gave up after {took:.1f} s, before its 5 s"
    finally:
        fake.close()


def test_real_broker_answers():
    broker = zlbtest.Broker()
    table = broker.status()
    assert table["ok"] is True and table["queued"] == 0 and table["workers"] == []
    broker.stop()


if __name__ == "__main__":
    zlbtest.main([test_invalid_endpoints, test_server_and_broker_refuse_bad_endpoints, test_garbage_replies, test_silent_broker_times_out,
                  test_real_broker_answers])
