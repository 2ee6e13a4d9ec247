"""--metrics on zlb-server and zlb-broker, checked with the real tools: promtool accepts what
/metrics serves, and a real Prometheus (started here on loopback, temporary storage) scrapes a
server and a broker and answers /api/v1/query with the request counts the client reported.
Also: connected peers and ZAP refusals from the server's socket monitor, and the bound on the
broker's worker-name labels (kWorkerNamesMax = 64, the rest under worker="_other")."""
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import msgpack
import zmq

from zlbtest import BIN_DIR, Broker, Server, _procs, free_port, main, run_client, tmpdir, wait_for

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
CTX = zmq.Context.instance()
HB = ("--heartbeat-ms", "200")


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain"), r.headers["Content-Type"]
        return r.read().decode()


def samples(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())))


def promtool_check(text):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, f"promtool check metrics failed:\n{p.stdout}{p.stderr}"


def metrics_server(*args, **kw):
    port = free_port()
    return Server("--metrics", str(port), *args, **kw), port


def metrics_broker(*args):
    port = free_port()
    return Broker("--metrics", f"127.0.0.1:{port}", *args), port


SERVER_FAMILIES = ["zlb_server_requests_total", "zlb_server_request_duration_seconds",
                   "zlb_server_factor_jobs", "zlb_server_fetches_in_flight",
                   "zlb_server_replies_dropped_total", "zlb_server_connected_peers",
                   "zlb_server_zap_refusals_total", "process_start_time_seconds", "zlb_build_info"]
BROKER_FAMILIES = ["zlb_broker_requests_total", "zlb_broker_queue_depth",
                   "zlb_broker_queue_wait_seconds", "zlb_broker_workers_up",
                   "zlb_broker_workers_quarantined", "zlb_broker_worker_credit",
                   "zlb_broker_worker_credit_in_use", "zlb_broker_redispatches_total",
                   "zlb_broker_requests_taken_back_total", "zlb_broker_heartbeat_misses_total",
                   "zlb_broker_messages_dropped_total", "zlb_broker_replies_dropped_total",
                   "zlb_broker_held_bytes", "process_start_time_seconds", "zlb_build_info"]


def families(text):
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


def test_promtool_accepts_server_and_broker_output():
    started = time.time()
    server, port = metrics_server("--mode", "cpu", "--threads", "1")
    ready = time.time()
    run_client("--connect", server.endpoint, "--count", "300", check=0)
    run_client("--connect", server.endpoint, "--op", "factor", "--random", "50", "--bits", "80",
               check=0)
    # A fetch to a cpu-only server: unsupported_op, counted under its code.
    s = CTX.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(server.endpoint)
    s.send_multipart([b"", msgpack.packb({"v": 1, "id": 7, "op": "fetch", "url": "http://127.0.0.1/"})])
    assert s.poll(5000) and msgpack.unpackb(s.recv_multipart()[-1])["error"]["code"] == "unsupported_op"
    s.close()
    text = scrape(port)
    promtool_check(text)
    assert set(SERVER_FAMILIES) <= families(text), set(SERVER_FAMILIES) - families(text)
    assert value(text, "zlb_server_requests_total", op="echo", code="ok") == 300
    assert value(text, "zlb_server_requests_total", op="factor", code="ok") == 50
    assert value(text, "zlb_server_requests_total", op="fetch", code="unsupported_op") == 1
    assert value(text, "zlb_server_request_duration_seconds_count", op="factor") == 50
    assert value(text, "zlb_server_request_duration_seconds_bucket", op="echo", le="+Inf") == 300
    assert value(text, "zlb_build_info", program="zlb-server", version=zlb_version()) == 1
    # /proc's boot time has whole seconds, its process start time 1/100 s.
    start = value(text, "process_start_time_seconds")
    assert started - 1.01 <= start <= ready + 0.01, (started, start, ready)

    broker, bport = metrics_broker(*HB)
    worker = Server("--broker", broker.backend, *HB, "--mode", "cpu", "--threads", "1",
                    bind=False, name="metrics-worker")
    wait_for(lambda: value(scrape(bport), "zlb_broker_workers_up") == 1, 15, "the worker to join")
    run_client("--connect", broker.frontend, "--count", "200", check=0)
    text = scrape(bport)
    promtool_check(text)
    assert set(BROKER_FAMILIES) <= families(text), set(BROKER_FAMILIES) - families(text)
    assert value(text, "zlb_broker_requests_total", op="echo", outcome="relayed") == 200
    assert value(text, "zlb_broker_worker_credit", worker="metrics-worker") == 1
    assert value(text, "zlb_broker_queue_wait_seconds_count", op="echo") == 200
    worker.stop()
    broker.stop()
    server.stop()


def zlb_version():
    out = subprocess.run([os.path.join(BIN_DIR, "zlb-server"), "--version"], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    return out.split()[-1]


class Prometheus:
    """A real Prometheus on a free loopback port, temporary storage, scraping TARGETS
    ({job: "127.0.0.1:port"}) every 250 ms."""

    def __init__(self, targets):
        self.dir = tmpdir()
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n")
            for job, target in targets.items():
                f.write(f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={self.dir}/data",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=self.log)
        _procs.append(self.proc)
        wait_for(lambda: self.ready(), 60, "prometheus to be ready")

    def ready(self):
        assert self.proc.poll() is None, open(self.log.name).read()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr):
        """The value of an instant query returning one sample, or None when it returns none."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        result = body["data"]["result"]
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=30) == 0, open(self.log.name).read()[-3000:]


def test_prometheus_scrapes_server_and_broker():
    server, sport = metrics_server("--mode", "cpu", "--threads", "1")
    broker, bport = metrics_broker(*HB)
    worker = Server("--broker", broker.backend, *HB, "--mode", "cpu", "--threads", "1",
                    bind=False, name="prom-worker")
    prom = Prometheus({"zlb-server": f"127.0.0.1:{sport}", "zlb-broker": f"127.0.0.1:{bport}"})
    _, _, _, direct = run_client("--connect", server.endpoint, "--count", "700", check=0)
    _, _, _, factored = run_client("--connect", server.endpoint, "--op", "factor", "--random",
                                   "40", "--bits", "64", check=0)
    wait_for(lambda: value(scrape(bport), "zlb_broker_workers_up") == 1, 15, "the worker to join")
    _, _, _, brokered = run_client("--connect", broker.frontend, "--count", "450", check=0)
    assert direct["ok"] == 700 and factored["ok"] == 40 and brokered["ok"] == 450
    want = {
        'up{job="zlb-server"}': 1, 'up{job="zlb-broker"}': 1,
        'zlb_server_requests_total{job="zlb-server",op="echo",code="ok"}': direct["ok"],
        'zlb_server_requests_total{job="zlb-server",op="factor",code="ok"}': factored["ok"],
        'sum(zlb_server_requests_total{job="zlb-server",code!="ok"})': 0,
        'zlb_broker_requests_total{job="zlb-broker",op="echo",outcome="relayed"}': brokered["ok"],
        'sum(zlb_broker_requests_total{job="zlb-broker"})': brokered["ok"],
        'zlb_broker_worker_credit{job="zlb-broker",worker="prom-worker"}': 1,
    }
    got = {}

    def all_match():
        got.update({q: prom.query(q) for q in want})
        return all(got[q] == v for q, v in want.items())

    try:
        wait_for(all_match, 30, "Prometheus to have scraped the final counts")
    except TimeoutError:
        raise AssertionError(f"Prometheus answered {got}, wanted {want}")
    prom.stop()
    worker.stop()
    broker.stop()
    server.stop()


def test_connected_peers_and_zap_refusals():
    keys = tmpdir()
    allow = os.path.join(keys, "allow")
    os.mkdir(allow)
    keygen = os.path.join(BIN_DIR, "zlb-keygen")
    for name in ("server", "stranger"):
        subprocess.run([keygen, os.path.join(keys, name)], check=True, capture_output=True, timeout=10)
    server, port = metrics_server("--curve-secret", os.path.join(keys, "server.key"),
                                  "--curve-allow", allow)
    peers = lambda: value(scrape(port), "zlb_server_connected_peers")
    assert peers() == 0
    # Plain-text DEALERs: accepted (TCP), then dropped by the CURVE handshake; the gauge
    # comes back to 0, so every accept was matched by its disconnect.
    refused_before = value(scrape(port), "zlb_server_zap_refusals_total")
    assert refused_before == 0
    run_client("--connect", server.endpoint, "--curve-server-key", os.path.join(keys, "server.pub"),
               "--curve-secret", os.path.join(keys, "stranger.key"), "--count", "5",
               "--timeout-ms", "300", "--connect-wait-ms", "300", "--retries", "0", check=1)
    wait_for(lambda: value(scrape(port), "zlb_server_zap_refusals_total") >= 1, 10,
             "the ZAP refusal to be counted")
    wait_for(lambda: peers() == 0, 10, "the refused peer to be gone")
    server.stop()

    server, port = metrics_server()
    socks = []
    for _ in range(3):
        s = CTX.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(server.endpoint)
        s.send_multipart([b"", msgpack.packb({"v": 1, "id": 1, "op": "echo", "data": b"x"})])
        assert s.poll(5000), "no echo reply"
        s.recv_multipart()
        socks.append(s)
    wait_for(lambda: peers() == 3, 10, "3 connected peers")
    for s in socks:
        s.close()
    wait_for(lambda: peers() == 0, 10, "the peers to be gone")
    server.stop()


def test_worker_labels_are_bounded():
    """70 workers with distinct names: 64 get series of their own, 6 share worker="_other"; when
    they stop heartbeating each is removed and counted as a heartbeat miss."""
    broker, port = metrics_broker("--heartbeat-ms", "200", "--liveness", "3")
    fakes = []
    for i in range(70):
        s = CTX.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(broker.backend)
        s.send_multipart([b"ZLB1READY", msgpack.packb({"v": 2, "name": f"fake-{i:02d}",
                                                       "ops": ["echo"], "credit": 2})])
        fakes.append(s)

    def heartbeat_and_scrape():
        for s in fakes:
            s.send(b"ZLB1HB")
        return scrape(port)

    text = wait_for(lambda: (lambda t: value(t, "zlb_broker_workers_up") == 70 and t)(
        heartbeat_and_scrape()), 15, "70 workers up")
    credit = {dict(k[1])["worker"]: v for k, v in samples(text).items()
              if k[0] == "zlb_broker_worker_credit"}
    assert len(credit) == 65, sorted(credit)
    assert credit.pop("_other") == 6 * 2, credit
    assert all(v == 2 for v in credit.values()), credit
    promtool_check(text)
    for s in fakes:
        s.close()
    text = wait_for(lambda: (lambda t: value(t, "zlb_broker_workers_up") == 0 and t)(scrape(port)),
                    15, "the silent workers to be removed")
    assert value(text, "zlb_broker_heartbeat_misses_total") == 70
    assert not [k for k in samples(text) if k[0] == "zlb_broker_worker_credit"], "series left behind"
    broker.stop()


if __name__ == "__main__":
    if not (PROMTOOL and PROMETHEUS):
        print("prometheus and promtool are not installed (Debian package prometheus; scripts/setup.sh)")
        raise SystemExit(77)
    main([test_promtool_accepts_server_and_broker_output, test_prometheus_scrapes_server_and_broker,
          test_connected_peers_and_zap_refusals, test_worker_labels_are_bounded])
