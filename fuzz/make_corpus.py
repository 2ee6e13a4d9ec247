#!/usr/bin/python3
"""Writes the fuzzers' seed corpora: tests/fuzz_corpus/request/ and tests/fuzz_corpus/reply/.

One small binary file per seed, named after what it holds. Requests: every op (batches and
128-bit decimal strings included), the edge cases of each field, framing-layout selectors
and garbage. Replies: every kind a server sends, plus broken ones. The files are committed;
run this again (Debian's python3 with python3-msgpack) after changing the seeds below.

Usage: fuzz/make_corpus.py [OUT_DIR]   (default: tests/fuzz_corpus beside this script's repo)
"""
import os
import shutil
import sys

import msgpack


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def req(op, rid=1, **fields):
    return pack({"v": 1, "id": rid, "op": op, **fields})


U64_MAX = 2**64 - 1
U128_MAX = 2**128 - 1
P64 = 18446744073709551557           # largest prime below 2^64
P128 = 340282366920938463463374607431768211297  # largest prime below 2^128
SEMI64 = 4294967291 * 4294967279     # two 32-bit primes
SEMI96 = 281474976710597 * 281474976710677  # two 48-bit primes
SEMI128_SMALL = P64 * 3              # a 64-bit prime times a tiny one, above 2^64

REQUESTS = {
    # echo
    "echo_bin": req("echo", data=b"\x00\x01hello"),
    "echo_str": req("echo", data="text"),
    "echo_empty": req("echo", data=b""),
    "echo_deadline": req("echo", rid=2, data=b"x", deadline_ms=1000),
    "echo_deadline_zero": req("echo", rid=3, data=b"x", deadline_ms=0),
    "echo_big_id": req("echo", rid=U64_MAX, data=b"id"),
    # zlb's own layout with a deadline (read by the echo pattern): deadline before data.
    "echo_layout_deadline": pack({"v": 1, "id": 300, "op": "echo", "deadline_ms": 70000,
                                  "data": b"x" * 40}),
    "echo_unknown_key": req("echo", data=b"x", extra={"nested": [1, 2, 3]}),
    "echo_no_data": req("echo"),
    "echo_data_int": req("echo", data=7),
    # factor, one number
    "factor_1": req("factor", n=1),
    "factor_12": req("factor", n=12),
    "factor_prime32": req("factor", n=4294967291),
    "factor_semi64": req("factor", n=SEMI64),
    "factor_u64_max": req("factor", n=U64_MAX),
    "factor_p64": req("factor", n=P64),
    "factor_str_small": req("factor", n="97"),
    "factor_str_u128_max": req("factor", n=str(U128_MAX)),
    "factor_str_p128": req("factor", n=str(P128)),
    "factor_str_2_64": req("factor", n=str(2**64)),
    "factor_str_semi96": req("factor", n=str(SEMI96)),
    "factor_str_p64x3": req("factor", n=str(SEMI128_SMALL)),
    "factor_str_2_128": req("factor", n=str(2**128)),
    "factor_str_leading_zeros": req("factor", n="000000000000000000000000000000000000000000015"),
    "factor_str_bad": req("factor", n="12abc"),
    "factor_str_empty": req("factor", n=""),
    "factor_str_sign": req("factor", n="+15"),
    "factor_bin": req("factor", n=b"15"),
    "factor_0": req("factor", n=0),
    "factor_negative": req("factor", n=-3),
    "factor_float": req("factor", n=1.5),
    "factor_deadline": req("factor", n=str(U128_MAX), deadline_ms=5000),
    "factor_deadline_zero": req("factor", n=15, deadline_ms=0),
    "factor_no_n": req("factor"),
    # factor, batches
    "batch_small": req("factor", ns=[6, 97, 1, 2**31 - 1]),
    "batch_mixed": req("factor", ns=[6, str(P128), 97, str(U128_MAX)]),
    "batch_empty": req("factor", ns=[]),
    "batch_one": req("factor", ns=[1]),
    "batch_17_small": req("factor", ns=list(range(2, 19))),
    "batch_large64": req("factor", ns=[U64_MAX, P64, SEMI64]),
    "batch_bad_item": req("factor", ns=[6, "x"]),
    "batch_zero_item": req("factor", ns=[6, 0]),
    "batch_not_array": req("factor", ns=6),
    "batch_4097": req("factor", ns=[1] * 4097),
    "batch_n_and_ns": req("factor", n=10, ns=[2, 3]),
    # fetch (the fuzzed server runs --mode cpu: unsupported_op, never a request on the wire)
    "fetch_full": req("fetch", url="http://127.0.0.1:1/x", method="HEAD", timeout_ms=100,
                      max_bytes=1000, want_body=True, deadline_ms=50),
    "fetch_get": req("fetch", url="https://127.0.0.1:1/"),
    "fetch_file_url": req("fetch", url="file:///etc/passwd"),
    "fetch_url_int": req("fetch", url=12),
    "fetch_method_bad": req("fetch", url="http://127.0.0.1:1/", method="POST"),
    "fetch_timeout_zero": req("fetch", url="http://127.0.0.1:1/", timeout_ms=0),
    "fetch_want_body_int": req("fetch", url="http://127.0.0.1:1/", want_body=1),
    # status (newer servers answer it; older ones unsupported_op)
    "status": req("status"),
    # header errors
    "unknown_op": req("launch"),
    "op_int": req(3),
    "version_2": pack({"v": 2, "id": 3, "op": "echo", "data": b"x"}),
    "no_version": pack({"id": 4, "op": "echo", "data": b"x"}),
    "no_id": pack({"v": 1, "op": "echo", "data": b"x"}),
    "id_negative": pack({"v": 1, "id": -3, "op": "echo", "data": b"x"}),
    "id_str": pack({"v": 1, "id": "7", "op": "echo", "data": b"x"}),
    "only_v_id": pack({"v": 1, "id": 5}),
    "deadline_str": req("echo", data=b"x", deadline_ms="1"),
    "deadline_over_u32": req("echo", data=b"x", deadline_ms=2**32),
    "duplicate_keys": b"\x84\xa1v\x01\xa2id\x01\xa2id\x02\xa2op\xa4echo",
    "int_keys": pack({1: 1, 2: 2}),
    # not a request map
    "empty": b"",
    "nil": pack(None),
    "array": pack([1, 2, 3]),
    "string": pack("hello"),
    "map_empty": pack({}),
    "truncated": req("echo", data=b"truncated")[:-4],
    "trailing_bytes": req("echo", data=b"x") + b"\x00",
    "deep_nesting": b"\x91" * 40 + b"\xc0",
    "huge_array_header": b"\xdd\xff\xff\xff\xff",
    "huge_str_header": b"\xdb\x7f\xff\xff\xff",
    "huge_map_header": b"\xdf\x00\x01\x00\x00",
    "ext": pack(msgpack.ExtType(5, b"abcd")),
    "reserved_c1": b"\xc1\xc1 not msgpack",
    "garbage": bytes(range(256)),
    # the first byte's low nibble picks the frame layout: 13 no delimiter, 14 extra frame,
    # 15 a routing frame in front (0xde, 0xdf are map16 and map32 headers)
    "layout_no_delimiter": b"\x0d" + b"x",
    "layout_extra_frame_map16": b"\xde\x00\x03\xa1v\x01\xa2id\x09\xa2op\xa4echo",
    "layout_routed_map32": b"\xdf\x00\x00\x00\x04\xa1v\x01\xa2id\x0a\xa2op\xa4echo\xa4data\xa1r",
    "layout_no_delimiter_fixmap13": pack({"v": 1, "id": 11, "op": "echo", "data": b"x",
                                          **{f"k{i}": i for i in range(9)}}),
}


def reply(ok, rid=1, **fields):
    return pack({"v": 1, "id": rid, "ok": ok, "server": "host:8004", "service_us": 3, **fields})


def error(code, message="why", rid=1):
    return reply(False, rid=rid, error={"code": code, "message": message})


REPLIES = {
    "echo_bin": reply(True, data=b"\x00\x01hello"),
    "echo_str": reply(True, data="text"),
    "echo_long_server": pack({"v": 1, "id": 70000, "ok": True, "server": "s" * 40,
                              "service_us": 2**33, "data": b"d" * 300}),
    "factor_empty": reply(True, factors=[]),
    "factor_ints": reply(True, factors=[2, 2, 3]),
    "factor_str": reply(True, factors=[3, 5, 17, 257, 641, 65537, 274177, 6700417, 67280421310721]),
    "factor_p128": reply(True, factors=[str(P128)]),
    "factor_batch": reply(True, factors=[[2, 3], [str(P128)], [], [97]]),
    "factor_batch_empty": reply(True, factors=[[]]),
    "factor_bad_item": reply(True, factors=[2, "x"]),
    "factor_batch_ragged": reply(True, factors=[[2], 3]),
    "factor_not_array": reply(True, factors=6),
    "fetch": reply(True, status=200, bytes=5000, elapsed_us=1234, content_type="text/plain"),
    "fetch_body": reply(True, status=404, bytes=6, elapsed_us=99, content_type="",
                        body=b"hello\n"),
    "fetch_status_negative": reply(True, status=-1, bytes=0, elapsed_us=0, content_type=""),
    "fetch_status_str": reply(True, status="200"),
    "id_nil": error("bad_request", "request must be a msgpack map", rid=None),
    "unknown_code": error("brand_new_code"),
    "error_no_message": reply(False, error={"code": "internal"}),
    "error_no_map": reply(False, error="internal"),
    "error_code_int": reply(False, error={"code": 3, "message": "x"}),
    "no_ok": pack({"v": 1, "id": 1}),
    "version_2": pack({"v": 2, "id": 1, "ok": True}),
    "not_map": pack([1, 2]),
    "empty": b"",
    "truncated": reply(True, data=b"truncated")[:-3],
    "garbage": bytes(range(255, -1, -1)),
}
for code in ("bad_request", "unsupported_op", "unsupported_version", "too_large",
             "deadline_exceeded", "overloaded", "fetch_failed", "timeout", "internal"):
    REPLIES[f"error_{code}"] = error(code, f"{code} happened")


def write(directory, seeds):
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
    print(f"{directory}: {len(seeds)} seeds")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fuzz_corpus")
    write(os.path.join(out, "request"), REQUESTS)
    write(os.path.join(out, "reply"), REPLIES)


if __name__ == "__main__":
    main()
