#!/usr/bin/python3
"""A zlb client in a few lines of Python (Debian: python3-zmq, python3-msgpack).

    python_client.py tcp://127.0.0.1:8004 factor 8051 1234567
    python_client.py tcp://127.0.0.1:8004 fetch http://127.0.0.1:8080/status/200 [--body]
    python_client.py tcp://127.0.0.1:8004 echo hello

Sends every request at once on a DEALER socket (the wire protocol is in
proto/PROTOCOL.md), then prints one line per reply, in the order the requests were given.
Exit code: 0 when every reply is ok, 1 when any is an error or missing, 2 on bad usage.
"""
import argparse
import sys

import msgpack
import zmq

U64_MAX = 2**64 - 1


def request(op, item, req_id, body):
    req = {"v": 1, "id": req_id, "op": op}
    if op == "factor":
        n = int(item)
        req["n"] = n if n <= U64_MAX else str(n)  # above 2^64-1 the protocol wants a string
    elif op == "fetch":
        req.update(url=item, want_body=body)
    else:
        req["data"] = item
    return req


def describe(op, item, reply):
    where = f"[{reply.get('server', '?')}, {reply.get('service_us', '?')} us]"
    if not reply.get("ok"):
        err = reply.get("error") or {}
        return f"{op} {item}: error {err.get('code', '?')}: {err.get('message', '')}  {where}"
    if op == "factor":
        factors = [str(f) for f in reply.get("factors", [])]  # big ones arrive as strings
        return f"{item} = {' * '.join(factors) or '1'}  {where}"
    if op == "fetch":
        line = (f"{item} -> {reply['status']}, {reply.get('bytes', 0)} bytes, "
                f"{reply.get('content_type') or '-'}  {where}")
        if "body" in reply:
            line += "\n" + reply["body"].decode(errors="replace")
        return line
    data = reply.get("data")
    return f"echo {data.decode(errors='replace') if isinstance(data, bytes) else data}  {where}"


def main():
    parser = argparse.ArgumentParser(description="Send zlb requests and print the replies.")
    parser.add_argument("endpoint", help="a zlb server, e.g. tcp://127.0.0.1:8004")
    parser.add_argument("op", choices=["factor", "fetch", "echo"])
    parser.add_argument("items", nargs="+", help="numbers, URLs or echo payloads")
    parser.add_argument("--body", action="store_true", help="fetch: print the body too")
    parser.add_argument("--timeout-ms", type=int, default=10_000,
                        help="give up on replies after this long")
    args = parser.parse_args()
    numbers_ok = all(i.isdigit() and 0 < int(i) < 2**128 for i in args.items)
    if args.op == "factor" and not numbers_ok:
        parser.error("factor takes numbers from 1 to 2^128-1")

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.endpoint)
    # Ids are positions, so replies can be printed in request order whatever order they come in.
    for req_id, item in enumerate(args.items, 1):
        body = msgpack.packb(request(args.op, item, req_id, args.body))
        sock.send_multipart([b"", body])
    replies = {}
    while len(replies) < len(args.items) and sock.poll(args.timeout_ms):
        frames = sock.recv_multipart()
        reply = msgpack.unpackb(frames[-1], raw=False)
        replies[reply.get("id")] = reply

    all_ok = True
    for req_id, item in enumerate(args.items, 1):
        reply = replies.get(req_id)
        if reply is None:
            print(f"{args.op} {item}: no reply within {args.timeout_ms} ms")
            all_ok = False
            continue
        all_ok &= bool(reply.get("ok"))
        print(describe(args.op, item, reply))
    ctx.destroy(linger=0)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
