"""Scenario 5: memory and scale. (a) Client peak RSS after 1M echo requests against after 10k
(it should be flat); (b) an io server's RSS with 10,000 fetches in flight; (c) one client
against 64 servers on this machine (scripts/start-servers.sh 64 BASE cpu -- --threads 1)."""
import os
import re
import subprocess
import threading
import time

from common import (HttpTarget, _cleanups, alternate, free_range, med, row, run, stop_all,
                    vm_kb, write_lines, zlb_client, zlb_servers)

TITLE = "Memory and scale"


def peak_rss_kb(ctx, args):
    """zlb-client under /usr/bin/time -v: (its maximum resident set size in kB, wall s)."""
    cmd = ["/usr/bin/time", "-v", ctx.exe("zlb-client"), *[str(a) for a in args], "-q"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return int(m.group(1)), wall


def client_rss(ctx):
    big = ctx.pick(200_000, 1_000_000)
    small = 10_000
    servers = zlb_servers(ctx, 2)
    connect = [a for s in servers for a in ("--connect", s.endpoint)]

    def one(n):
        kb, wall = peak_rss_kb(ctx, [*connect, "--op", "echo", "--count", n, "--window", 256])
        return {"max_rss_kb": kb, "wall_s": wall}

    r = alternate(ctx, [(f"{small} requests", lambda: one(small)),
                        (f"{big} requests", lambda: one(big))])
    stop_all(servers)
    s, b = med(r[f"{small} requests"], "max_rss_kb"), med(r[f"{big} requests"], "max_rss_kb")
    return big, small, r, s, b


def server_rss(ctx):
    """One io server, N fetches of /delay/D/<i> all in flight at once; VmRSS sampled."""
    n = ctx.pick(2000, 10000)
    delay = ctx.pick(2, 3)
    # nginx's worker_connections is 8192 in scripts/nginx.conf.in: two targets, half each.
    targets = [HttpTarget(ctx) for _ in range(1 if n <= 4000 else 2)]
    urls = write_lines(ctx.path("urls-inflight.txt"),
                       (f"{targets[i % len(targets)].base}/delay/{delay}/{i}" for i in range(n)))
    (server,) = zlb_servers(ctx, 1, "--mode", "io", "--max-inflight", n)
    idle = vm_kb(server.pid, "VmRSS")
    samples = []
    done = threading.Event()

    def sample():
        t0 = time.monotonic()
        while not done.is_set():
            v = vm_kb(server.pid, "VmRSS")
            if v:
                samples.append((round(time.monotonic() - t0, 2), v))
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    d = zlb_client(ctx, "--connect", server.endpoint, "--op", "fetch", "--input", urls,
                   "--window", n, "--timeout-ms", 60000, "--fetch-timeout-ms", 60000,
                   allow_fail=True)
    done.set()
    th.join()
    hwm = vm_kb(server.pid, "VmHWM")
    stop_all([server])
    for t in targets:
        t.stop()
    # "Mid-run": the samples taken while every fetch was waiting on its delay.
    mid = [v for t, v in samples if 0.4 * delay <= t <= 0.8 * delay]
    return {"fetches": n, "delay_s": delay, "idle_rss_kb": idle,
            "mid_rss_kb": max(mid) if mid else None, "peak_rss_kb": hwm,
            "ok": d["ok"], "failed": d["failed"] + d["timeouts"], "elapsed_s": d["elapsed_s"],
            "errors": d.get("errors"), "samples": samples}


def many_endpoints(ctx):
    count = 64
    base = free_range(count)
    env = dict(os.environ, ZLB_RUN_DIR=ctx.path("run"), ZLB_BIN_DIR=ctx.bin)
    start = os.path.join(ctx.root, "scripts", "start-servers.sh")
    stop = os.path.join(ctx.root, "scripts", "stop-servers.sh")
    _cleanups.append(lambda: subprocess.run([stop], env=dict(env, ZLB_STOP_TIMEOUT_S="5"),
                                            capture_output=True, timeout=120))
    run([start, count, base, "cpu", "--", "--threads", 1, "--log-level", "info",
         "--stats-interval", 3600], env=env, timeout_s=120)
    duration = ctx.pick(2.0, 5.0)
    warmup = ctx.pick(0.5, 1.0)

    def echo(n):
        d = zlb_client(ctx, "--connect", f"tcp://127.0.0.1:{base}-{base + n - 1}", "--op", "echo",
                       "--window", 256, "--duration", duration, "--warmup", warmup,
                       "--connect-wait-ms", 10000)
        return {"throughput_rps": d["throughput_rps"], "p99_us": d["latency_us"]["p99"],
                "servers_used": len(d["servers"])}

    r = alternate(ctx, [("64 endpoints", lambda: echo(count)), ("2 endpoints", lambda: echo(2))])
    subprocess.run([stop], env=env, capture_output=True, timeout=120)
    return count, base, duration, warmup, r


def scenario(ctx):
    big, small, rss_runs, rss_small, rss_big = client_rss(ctx)
    srv = server_rss(ctx)
    count, base, duration, warmup, ep = many_endpoints(ctx)
    rps64 = med(ep["64 endpoints"], "throughput_rps")
    rps2 = med(ep["2 endpoints"], "throughput_rps")
    per_fetch = ((srv["mid_rss_kb"] - srv["idle_rss_kb"]) / srv["fetches"]
                 if srv["mid_rss_kb"] and srv["idle_rss_kb"] else None)
    rows = [
        row(f"client peak RSS, {big:,} echo requests vs {small:,}", "kB", rss_big,
            f"{small:,} requests", rss_small, target="flat: <= 1.10",
            met=rss_big <= 1.10 * rss_small, better="lower"),
        row(f"io server RSS with {srv['fetches']:,} fetches in flight (mid-run VmRSS) vs idle",
            "kB", srv["mid_rss_kb"], "same server idle", srv["idle_rss_kb"], better="lower"),
        row(f"echo req/s with {count} servers (window 256) vs 2 of the same servers", "req/s",
            rps64, "2 endpoints", rps2),
    ]
    detail = [
        {"measure": f"client max RSS, {small:,} echo requests", "value": rss_small, "unit": "kB"},
        {"measure": f"client max RSS, {big:,} echo requests", "value": rss_big, "unit": "kB"},
        {"measure": "io server VmRSS idle", "value": srv["idle_rss_kb"], "unit": "kB"},
        {"measure": f"io server VmRSS mid-run, {srv['fetches']:,} in flight",
         "value": srv["mid_rss_kb"], "unit": "kB"},
        {"measure": "io server VmHWM (peak) at the end", "value": srv["peak_rss_kb"], "unit": "kB"},
        {"measure": "io server memory per in-flight fetch", "value": per_fetch, "unit": "kB"},
        {"measure": f"fetches ok / failed, elapsed (floor {srv['delay_s']} s)",
         "value": f"{srv['ok']} / {srv['failed']}, {srv['elapsed_s']:.2f} s", "unit": ""},
        {"measure": f"echo req/s, {count} endpoints", "value": rps64, "unit": "req/s"},
        {"measure": "echo p99, 64 endpoints", "value": med(ep["64 endpoints"], "p99_us"),
         "unit": "us"},
        {"measure": "echo req/s, 2 endpoints", "value": rps2, "unit": "req/s"},
        {"measure": "echo p99, 2 endpoints", "value": med(ep["2 endpoints"], "p99_us"),
         "unit": "us"},
        {"measure": "servers that answered, 64-endpoint run",
         "value": min(x["servers_used"] for x in ep["64 endpoints"]), "unit": ""},
    ]
    return {
        "title": TITLE,
        "rows": rows,
        "detail": {"columns": ["measure", "value", "unit"], "rows": detail},
        "config": {
            "client RSS": f"2 x zlb-server; /usr/bin/time -v zlb-client --op echo --count N "
                          f"--window 256, N = {small:,} and {big:,}; 'Maximum resident set size'",
            "server RSS": f"one zlb-server --mode io --max-inflight {srv['fetches']}; zlb-client "
                          f"--op fetch --window {srv['fetches']} over {srv['fetches']:,} URLs "
                          f"/delay/{srv['delay_s']}/<i> (split over "
                          f"{1 if srv['fetches'] <= 4000 else 2} nginx target(s): "
                          f"worker_connections is 8192 each); /proc/PID/status VmRSS sampled "
                          f"every 100 ms, 'mid-run' = the largest sample between 40% and 80% of "
                          f"the delay; ulimit -n raised to the hard limit by bench/run.sh",
            "64 endpoints": f"ZLB_RUN_DIR=<tmp> scripts/start-servers.sh {count} BASE cpu -- "
                            f"--threads 1; zlb-client --connect tcp://127.0.0.1:BASE-BASE+63 --op "
                            f"echo --window 256 --duration {duration} --warmup {warmup}; compared "
                            f"with --connect BASE-BASE+1 (2 of the same servers)",
        },
        "runs": {"client_rss": rss_runs, "server_rss": srv, "endpoints": ep},
        "notes": [f"{count} servers share {os.cpu_count()} cores with the client here, so this "
                  f"shows the client holding {count} connections and spreading work over them, "
                  f"not {count} cores of capacity."],
    }
