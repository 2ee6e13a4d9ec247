"""Attacks on the fetch op, against the real binaries on loopback: proxies from the
environment, IPv4 hidden in IPv6, unspecified addresses, --deny-private, huge max_bytes
and timeout_ms, and a symlink planted where zlb-client --save-dir writes. After each
attack the server must still answer a normal echo and fetch."""
import contextlib
import http.server
import os
import re
import resource
import socket
import socketserver
import threading
import time

import msgpack
import zmq

from zlbtest import HttpTarget, Server, main, run_client, tmpdir, wait_for

CTX = zmq.Context.instance()
target = HttpTarget()
MiB = 1 << 20
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
METADATA = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"


def dealer(endpoint):
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s


def request(endpoint, req, wait_ms=15000):
    s = dealer(endpoint)
    try:
        s.send_multipart([b"", msgpack.packb({"v": 1, "id": 1, **req})])
        assert s.poll(wait_ms), f"no reply to {req}"
        return msgpack.unpackb(s.recv_multipart()[1], raw=False)
    finally:
        s.close()


def fetch(server, url, **params):
    return request(server.endpoint, {"op": "fetch", "url": url, **params})


def refused(server, url, **params):
    r = fetch(server, url, **params)
    assert r["ok"] is False and r["error"]["code"] == "fetch_failed", (url, r)
    assert "policy" in r["error"]["message"], (url, r)


def brief(r):
    """A reply fit for an assertion message: a body shown by its length."""
    return {**r, "body": len(r["body"])} if "body" in r else r


def still_serves(server, url=None, size=100):
    """The attacked server answers an echo and a normal fetch."""
    assert server.proc.poll() is None, f"server died:\n{server.log_text()[-2000:]}"
    r = request(server.endpoint, {"op": "echo", "data": b"still here"})
    assert r["ok"] and r["data"] == b"still here", r
    r = fetch(server, url or f"{target.base}/bytes/100", want_body=True)
    assert r["ok"] and r["status"] == 200 and r["bytes"] == size, r


@contextlib.contextmanager
def environment(**values):
    """os.environ changed for the processes started inside (a Server inherits it)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class RecordingProxy:
    """A loopback stand-in for an HTTP proxy: records every request line it is sent.
    GET .../redir answers a redirect to the metadata address; CONNECT is refused; any
    other GET answers 200 "via-proxy"."""

    def __init__(self):
        self.lines = []
        self.connections = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                with proxy.lock:
                    proxy.connections += 1
                data = b""
                while True:
                    while b"\r\n\r\n" not in data:
                        chunk = self.request.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    head, data = data.split(b"\r\n\r\n", 1)
                    line = head.split(b"\r\n", 1)[0].decode(errors="replace")
                    with proxy.lock:
                        proxy.lines.append(line)
                    if line.startswith("CONNECT"):
                        self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    elif "/redir" in line:
                        self.request.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + METADATA.encode() +
                                             b"\r\nContent-Length: 0\r\n\r\n")
                    else:
                        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nvia-proxy")

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def seen(self):
        with self.lock:
            return list(self.lines), self.connections


def proxy_env(url):
    return {k: url for k in PROXY_VARS} | {"no_proxy": None, "NO_PROXY": None}


def test_proxy_variables_are_ignored():
    proxy = RecordingProxy()
    with environment(**proxy_env(proxy.url)):
        server = Server("--mode", "io")
    refused(server, METADATA)
    refused(server, "https://169.254.169.254/latest/meta-data/")
    r = fetch(server, f"{target.base}/delay/0/direct", want_body=True)
    assert r["ok"] and r["status"] == 200 and r["body"].strip() == b"direct", r
    still_serves(server)
    assert proxy.seen() == ([], 0), f"the environment's proxy was used: {proxy.seen()}"
    assert server.stop() == 0


def test_explicit_proxy_checks_the_requested_host():
    proxy, env_proxy = RecordingProxy(), RecordingProxy()
    with environment(**proxy_env(env_proxy.url)):
        server = Server("--mode", "io", "--fetch-proxy", proxy.url)
    for url in (METADATA, "https://169.254.169.254/latest/meta-data/",
                "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a9fe:a9fe]/"):
        refused(server, url)
    assert proxy.seen() == ([], 0), f"a refused host reached the proxy: {proxy.seen()}"
    # An allowed host goes through the proxy...
    r = fetch(server, "http://127.0.0.1:9/hello", want_body=True)
    assert r["ok"] and r["status"] == 200 and r["body"] == b"via-proxy", r
    # ... and a redirect to a refused host is stopped before the proxy is asked for it.
    refused(server, "http://127.0.0.1:9/redir")
    lines, _ = proxy.seen()
    assert lines == ["GET http://127.0.0.1:9/hello HTTP/1.1", "GET http://127.0.0.1:9/redir HTTP/1.1"], lines
    assert env_proxy.seen() == ([], 0)
    still_serves(server, "http://127.0.0.1:9/ok", size=9)
    assert server.stop() == 0

    # Names are resolved for the check: localhost is loopback, refused by --deny-private.
    strict = Server("--mode", "io", "--fetch-proxy", proxy.url, "--deny-private",
                    "--allow-host", "127.0.0.2")
    before = len(proxy.seen()[0])
    refused(strict, "http://127.0.0.1:9/x")
    refused(strict, "http://localhost:9/x")
    refused(strict, "http://[::1]:9/x")
    assert len(proxy.seen()[0]) == before, proxy.seen()
    r = fetch(strict, "http://127.0.0.2:9/exempt", want_body=True)
    assert r["ok"] and r["body"] == b"via-proxy", r
    still_serves(strict, "http://127.0.0.2:9/ok", size=9)
    assert strict.stop() == 0


def test_ipv4_embedded_in_ipv6_is_refused():
    server = Server("--mode", "io")
    for url in ("http://[::ffff:169.254.169.254]/", "http://[::ffff:a9fe:a9fe]/",
                "http://[::a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]/",
                "http://[2002:a9fe:a9fe::]/", "http://[fe80::1]/", "http://[fd00:ec2::254]/"):
        refused(server, url)
    still_serves(server)
    assert server.stop() == 0


def test_unspecified_and_mapped_loopback_under_deny_cidr():
    port = target.base.rsplit(":", 1)[1]
    for cidr in ("127.0.0.0/8", "::ffff:127.0.0.0/104"):
        server = Server("--mode", "io", "--deny-cidr", cidr, "--allow-host", "localhost")
        for host in ("127.0.0.1", "127.0.0.2", "0.0.0.0", "[::ffff:127.0.0.1]", "[::127.0.0.1]",
                     "[::ffff:0.0.0.0]"):
            refused(server, f"http://{host}:{port}/status/200")
        still_serves(server, f"http://localhost:{port}/bytes/100")
        assert server.stop() == 0
    server = Server("--mode", "io", "--deny-cidr", "::1/128")
    refused(server, f"http://[::]:{port}/status/200")
    refused(server, f"http://[::1]:{port}/status/200")
    still_serves(server)
    assert server.stop() == 0


class V6Target:
    """A tiny HTTP server on [::1]."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"v6")

            def log_message(self, *args):
                pass

        class V6Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6

        self.server = V6Server(("::1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_deny_private_and_allow_host_ipv6():
    v6 = V6Target()
    port = target.base.rsplit(":", 1)[1]
    for spelling in ("::1", "[::1]"):
        server = Server("--mode", "io", "--deny-private", "--allow-host", spelling,
                        "--allow-host", "localhost")
        for host in ("127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "192.168.1.1",
                     "100.64.0.1", "169.254.169.254", "0.0.0.0", "[::]", "[fc00::1]",
                     "[fd12:3456::1]", "[fe80::1]", "[::ffff:10.0.0.1]", "[::ffff:127.0.0.1]"):
            refused(server, f"http://{host}:{port}/status/200")
        r = fetch(server, f"http://[::1]:{v6.port}/", want_body=True)
        assert r["ok"] and r["body"] == b"v6", (spelling, r)
        r = fetch(server, f"http://[0:0::1]:{v6.port}/", want_body=True)
        assert r["ok"] and r["body"] == b"v6", (spelling, r)
        still_serves(server, f"http://localhost:{port}/bytes/100")
        assert server.stop() == 0


class BigBodies:
    """Loopback HTTP server: /stream/N sends N bytes with no length (read to close),
    /sized/N sends N bytes with a Content-Length."""

    def __init__(self):
        block = b"z" * MiB

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):
                m = re.match(r"^/(stream|sized)/(\d+)$", self.path)
                if not m:
                    self.send_error(404)
                    return
                n = int(m.group(2))
                self.send_response(200)
                if m.group(1) == "sized":
                    self.send_header("Content-Length", str(n))
                self.end_headers()
                try:
                    while n > 0:
                        k = min(n, len(block))
                        self.wfile.write(block[:k])
                        n -= k
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def vm_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} for {pid}")


def test_huge_max_bytes_is_capped_and_memory_returns():
    big = BigBodies()
    server = Server("--mode", "io")
    pid = server.proc.pid
    still_serves(server)
    r = fetch(server, f"{big.base}/sized/{MiB}", want_body=True)
    assert r["ok"] and r["bytes"] == MiB, brief(r)
    idle = vm_kib(pid, "VmRSS")
    # 64 MiB bodies, asked for with max_bytes 2^64-1: cut at the 8 MiB cap.
    for path in (f"/stream/{64 * MiB}", f"/sized/{64 * MiB}"):
        for _ in range(3):
            r = fetch(server, big.base + path, want_body=True, max_bytes=2**64 - 1)
            assert r["ok"] is False and r["error"]["code"] == "too_large", (path, brief(r))
    if os.environ.get("ASAN_OPTIONS"):
        # AddressSanitizer keeps freed memory in quarantine: RSS says nothing here. The cap
        # itself (too_large above) and the server still serving are checked all the same.
        print("  (sanitizer build: the RSS bounds are left to the Release run)")
        still_serves(server)
        assert server.stop() == 0
        return
    # Nothing of the cut bodies stays: the job's buffer is released above 256 KiB.
    cut_bound_kib = 8 * 1024
    after_cut = wait_for(
        lambda: (lambda v: v if v - idle < cut_bound_kib else None)(vm_kib(pid, "VmRSS")),
        5, "the server's RSS to come back near idle after the cut bodies")
    # The largest body allowed, kept in full, then given back.
    r = fetch(server, f"{big.base}/stream/{8 * MiB}", want_body=True, max_bytes=2**64 - 1)
    assert r["ok"] and r["bytes"] == 8 * MiB and len(r["body"]) == 8 * MiB, brief(r)
    still_serves(server)
    bound_kib = 32 * 1024
    after = wait_for(lambda: (lambda v: v if v - idle < bound_kib else None)(vm_kib(pid, "VmRSS")),
                     5, "the server's RSS to come back near idle")
    peak = vm_kib(pid, "VmHWM")
    print(f"  RSS idle {idle} KiB; after six 64 MiB bodies cut at 8 MiB {after_cut} KiB "
          f"(+{after_cut - idle}, bound +{cut_bound_kib}); after an 8 MiB body kept {after} KiB "
          f"(+{after - idle}, bound +{bound_kib}); peak {peak} KiB (+{peak - idle}, bound +65536)")
    assert peak - idle < 64 * 1024, f"peak {peak} KiB, idle {idle} KiB"
    assert server.stop() == 0


def test_hanging_targets_end_within_the_timeout_cap():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    held = []

    def accept_forever():  # accepts every connection and never answers
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept_forever, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/never"
    cap_ms, n = 2000, 1000
    server = Server("--mode", "io", "--max-fetch-timeout-ms", str(cap_ms))
    s = dealer(server.endpoint)
    start = time.monotonic()
    for i in range(n):
        s.send_multipart([b"", msgpack.packb({"v": 1, "id": i, "op": "fetch", "url": url,
                                              "timeout_ms": 86_400_000})])
    codes = {}
    while sum(codes.values()) < n:
        assert s.poll(cap_ms + 10_000), f"stuck after {codes}"
        r = msgpack.unpackb(s.recv_multipart()[1], raw=False)
        code = "ok" if r["ok"] else r["error"]["code"]
        codes[code] = codes.get(code, 0) + 1
    elapsed = time.monotonic() - start
    print(f"  {n} fetches to a silent target, timeout_ms 86400000, cap {cap_ms} ms: "
          f"all ended in {elapsed:.2f} s ({codes}, {len(held)} connections accepted)")
    assert codes == {"timeout": n}, codes
    assert elapsed < cap_ms / 1000 + 4, elapsed
    status = request(server.endpoint, {"op": "status"})
    assert status["counters"]["fetch_inflight"] == 0, status
    still_serves(server)
    s.close()
    assert server.stop() == 0
    listener.close()
    for c in held:
        c.close()


def test_save_dir_does_not_follow_a_planted_symlink():
    server = Server("--mode", "io")
    outside = tmpdir()
    save = os.path.join(tmpdir(), "save")
    os.mkdir(save)
    victim = os.path.join(outside, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    missing = os.path.join(outside, "created-through-link")
    urls = [f"{target.base}/bytes/100", f"{target.base}/bytes/200"]
    names = ["0-" + re.sub(r"[^A-Za-z0-9.-]", "_", urls[0].split("://", 1)[1]),
             "1-" + re.sub(r"[^A-Za-z0-9.-]", "_", urls[1].split("://", 1)[1])]
    os.symlink(victim, os.path.join(save, names[0]))   # to an existing file
    os.symlink(missing, os.path.join(save, names[1]))  # dangling: would create a file
    inputs = os.path.join(tmpdir(), "urls.txt")
    with open(inputs, "w") as f:
        f.write("\n".join(urls) + "\n")
    run_client("--connect", server.endpoint, "--op", "fetch", "--input", inputs,
               "--save-dir", save, "-q", check=0)
    with open(victim) as f:
        assert f.read() == "precious\n", "the symlink's target was written"
    assert not os.path.exists(missing), "a file was created through a dangling symlink"
    for name, size in zip(names, (100, 200)):
        path = os.path.join(save, name)
        assert not os.path.islink(path) and os.path.getsize(path) == size, name
    assert sorted(os.listdir(save)) == sorted(names), os.listdir(save)  # no temporary left
    still_serves(server)
    assert server.stop() == 0


if __name__ == "__main__":
    main([test_proxy_variables_are_ignored, test_explicit_proxy_checks_the_requested_host,
          test_ipv4_embedded_in_ipv6_is_refused, test_unspecified_and_mapped_loopback_under_deny_cidr,
          test_deny_private_and_allow_host_ipv6, test_huge_max_bytes_is_capped_and_memory_returns,
          test_hanging_targets_end_within_the_timeout_cap,
          test_save_dir_does_not_follow_a_planted_symlink])
