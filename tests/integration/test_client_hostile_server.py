"""A hostile server can't grow the client: the real zlb-client against a ROUTER that names
itself anew in every reply (1 KB names full of terminal escapes) and answers fetches with
a 13-digit HTTP status. The client keeps at most 256 server names (the rest are counted
under "(other servers)"), prints them cleaned, and counts the bogus status as an invalid
reply. Without the bound each new name cost a pair of histograms (360 KB): these 5,000
replies would take 1.8 GB.
"""
import os
import resource
import threading

import msgpack
import zmq

from zlbtest import main, run_client, tmpdir

REPLIES = 5000


class HostileServer:
    """Answers every request on a thread until stopped; `reply(request, n)` makes the body."""

    def __init__(self, reply):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.linger = 0
        port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.reply = reply
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        n = 0
        while not self.stopping:
            if not self.sock.poll(100):
                continue
            frames = self.sock.recv_multipart()
            request = msgpack.unpackb(frames[-1], raw=False)
            self.sock.send_multipart(frames[:-1] + [msgpack.packb(self.reply(request, n))])
            n += 1

    def stop(self):
        self.stopping = True
        self.thread.join()
        self.sock.close()
        self.ctx.term()


def test_a_new_name_in_every_reply():
    def reply(req, n):
        name = f"\x1b[2J\x1b]0;owned\x07srv-{n}-" + "x" * 1000
        return {"v": 1, "id": req["id"], "ok": True, "server": name, "service_us": 1,
                "data": req["data"]}
    server = HostileServer(reply)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    code, out, err, rep = run_client("--connect", server.endpoint, "--count", str(REPLIES),
                                     "--window", "16")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    server.stop()
    assert code == 0, err
    assert rep["ok"] == REPLIES, rep
    names = list(rep["servers"])
    print(f"{len(names)} server names kept; client peak RSS {peak_kib / 1024:.0f} MiB "
          f"(before: {before / 1024:.0f})")
    assert len(names) <= 257, len(names)
    assert "(other servers)" in names
    assert sum(rep["servers"][n]["count"] for n in names) == REPLIES
    for n in names:
        assert len(n) <= 64 and all(0x20 <= ord(c) < 0x7f for c in n), repr(n)
    assert "\x1b" not in out and "\x07" not in out  # the table printed nothing raw
    assert peak_kib < 200 * 1024, f"client peak RSS {peak_kib / 1024:.0f} MiB"


def test_a_thirteen_digit_http_status_is_an_invalid_reply():
    def reply(req, n):
        return {"v": 1, "id": req["id"], "ok": True, "server": "s", "service_us": 1,
                "status": 10**12 + n, "bytes": 0, "elapsed_us": 1}
    server = HostileServer(reply)
    urls = os.path.join(tmpdir(), "urls.txt")
    with open(urls, "w") as f:
        f.write("http://127.0.0.1:9/x\n" * 20)  # never fetched: the hostile server answers
    code, _, err, rep = run_client("--connect", server.endpoint, "--op", "fetch", "--input", urls,
                                   "--timeout-ms", "300", "--retries", "0", "--window", "20")
    server.stop()
    assert code == 1, err
    assert rep["invalid_replies"] == 20, rep
    assert rep["timeouts"] == 20 and rep["ok"] == 0, rep
    assert rep["http_status"] == {}, rep["http_status"]  # nothing bogus became a key
    assert "bad status" in str(rep["error_messages"]), rep["error_messages"]


if __name__ == "__main__":
    main([test_a_new_name_in_every_reply, test_a_thirteen_digit_http_status_is_an_invalid_reply])
