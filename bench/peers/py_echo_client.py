#!/usr/bin/python3
"""The book's echo client (Python Unlocked, ch. 8): a DEALER socket connected to every server,
on a tornado IOLoop through ZMQStream; libzmq spreads the requests round-robin.

    py_echo_client.py [--window W] [--size B] [--duration S] [--warmup S] ENDPOINT...

The book sends one request a second; here the client keeps W requests in flight (closed loop):
each reply sends the next request. Requests are [seq, payload] as in the book; the payload's
first 16 bytes carry the send time, so no per-request state is kept. Requests are issued for
--duration seconds in all; those sent in the first --warmup seconds are left out.
Output, one key=value per line: requests elapsed_s throughput_rps p50_us p99_us p999_us
"""
import argparse
import math
import struct
import time

import zmq
from tornado.ioloop import IOLoop
from zmq.eventloop.zmqstream import ZMQStream

STAMP = struct.Struct("<dQ")


class Cli:
    def __init__(self, addresses, window, size, duration, warmup):
        self.loop = IOLoop.current()
        self.ctx = zmq.Context.instance()
        self.skt = self.ctx.socket(zmq.DEALER)
        self.skt.setsockopt(zmq.LINGER, 0)
        for address in addresses:
            self.skt.connect(address)
        self.stream = ZMQStream(self.skt)
        self.stream.on_recv(self.handle_reply)
        self.pad = b"x" * (size - STAMP.size)
        self.req_no = 0
        self.inflight = 0
        self.window = window
        self.start = time.perf_counter()
        self.measure_from = self.start + warmup
        self.stop_issuing = self.start + duration
        self.latencies = []
        self.first = self.last = None
        self.loop.add_callback(self.fill)

    def send_request(self):
        now = time.perf_counter()
        self.stream.send_multipart([self.req_no.to_bytes(8, "little"),
                                    STAMP.pack(now, self.req_no) + self.pad])
        self.req_no += 1
        self.inflight += 1

    def fill(self):
        for _ in range(self.window):
            self.send_request()

    def handle_reply(self, msg):
        now = time.perf_counter()
        self.inflight -= 1
        sent, _ = STAMP.unpack_from(msg[1])
        if self.measure_from <= sent < self.stop_issuing:
            if self.first is None:
                self.first = sent
            self.latencies.append(now - sent)
            self.last = now
        if now < self.stop_issuing:
            self.send_request()
        elif self.inflight == 0:
            self.loop.stop()


def rank(values, p):
    if not values:
        return 0.0
    k = min(max(math.ceil(p * len(values)), 1), len(values))
    return values[k - 1] * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=int, default=1)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("endpoints", nargs="+")
    a = ap.parse_args()
    cli = Cli(a.endpoints, a.window, max(a.size, STAMP.size), a.duration, a.warmup)
    IOLoop.current().start()
    lat = sorted(cli.latencies)
    elapsed = (cli.last - cli.first) if lat else 0.0
    print(f"requests={len(lat)}\nelapsed_s={elapsed:.6f}\n"
          f"throughput_rps={len(lat) / elapsed if elapsed else 0:.1f}\n"
          f"p50_us={rank(lat, 0.5):.1f}\np99_us={rank(lat, 0.99):.1f}\n"
          f"p999_us={rank(lat, 0.999):.1f}")


if __name__ == "__main__":
    main()
