#!/usr/bin/python3
"""The book's echo server (Python Unlocked, ch. 8, "Scaling horizontally"): a ROUTER socket
on a tornado IOLoop through pyzmq's ZMQStream, each message sent straight back.

    py_echo_server.py NAME ENDPOINT

Differences from the book, all in its favour: no print() per message, and no
ioloop.install() (gone from pyzmq; tornado's asyncio loop is the default). Prints
"listening on ENDPOINT" on stderr once bound.
"""
import sys

import zmq
from tornado.ioloop import IOLoop
from zmq.eventloop.zmqstream import ZMQStream


class Serv:
    def __init__(self, name, address):
        self.address = address
        self.loop = IOLoop.current()
        self.ctx = zmq.Context.instance()
        self.name = bytes(name, encoding="ascii")
        self.skt = self.ctx.socket(zmq.ROUTER)
        self.skt.bind(self.address)
        self.stream = ZMQStream(self.skt)
        self.stream.on_recv(self.handle_request)

    def handle_request(self, msg):
        self.stream.send_multipart(msg)


if __name__ == "__main__":
    serv = Serv(sys.argv[1], sys.argv[2])
    print(f"listening on {sys.argv[2]}", file=sys.stderr, flush=True)
    IOLoop.current().start()
