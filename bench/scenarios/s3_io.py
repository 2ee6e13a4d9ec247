"""Scenario 3: I/O task. Fetches of /delay/1/<i> from the loopback nginx target with 1,000 in
flight in total: 2 zlb io servers, client --window 1000, against asyncio + aiohttp with a
semaphore of 1,000 and a ThreadPoolExecutor(64) with urllib (as in the seeds). The floor is
fetches / in-flight x 1 s."""
from common import (HttpTarget, alternate, keyvals, med, row, run, stop_all, write_lines,
                    zlb_client, zlb_servers)

TITLE = "I/O task (HTTP fetches of /delay/1/<i>)"
DELAY_S = 1
THREADS = 64


def scenario(ctx):
    fetches = ctx.pick(1000, 5000)
    inflight = ctx.pick(500, 1000)
    floor = fetches / inflight * DELAY_S
    target = HttpTarget(ctx)
    urls = write_lines(ctx.path("urls.txt"),
                       (f"{target.base}/delay/{DELAY_S}/{i}" for i in range(fetches)))
    servers = zlb_servers(ctx, 2, "--mode", "io")

    def zlb_run():
        connect = [a for s in servers for a in ("--connect", s.endpoint)]
        d = zlb_client(ctx, *connect, "--op", "fetch", "--input", urls, "--window", inflight)
        return {"elapsed_s": d["elapsed_s"], "ok": d["ok"], "p99_us": d["latency_us"]["p99"]}

    def peer_run(script, *args):
        kv = keyvals(run([ctx.python, ctx.peer(script), *args, urls], timeout_s=900).stdout)
        return {"elapsed_s": kv["elapsed_s"], "ok": kv["ok"]}

    r = alternate(ctx, [
        ("zlb", zlb_run),
        ("asyncio+aiohttp", lambda: peer_run("py_fetch_asyncio.py", "--concurrency", inflight)),
        (f"threads({THREADS})+urllib", lambda: peer_run("py_fetch_threads.py", "--threads",
                                                        THREADS)),
    ])
    stop_all(servers)
    target.stop()
    m = {name: med(runs, "elapsed_s") for name, runs in r.items()}
    ok = {name: min(x["ok"] for x in runs) for name, runs in r.items()}
    z = m["zlb"]
    rows = [
        row(f"{fetches} fetches, {inflight} in flight: zlb vs the floor", "s", z,
            f"floor ({fetches}/{inflight} x {DELAY_S} s)", floor, target="zlb/floor <= 1.05",
            met=z / floor <= 1.05, better="lower"),
        row(f"{fetches} fetches: zlb vs asyncio+aiohttp (semaphore {inflight})", "s", z,
            "asyncio+aiohttp", m["asyncio+aiohttp"], better="lower"),
        row(f"{fetches} fetches: zlb vs ThreadPoolExecutor({THREADS})+urllib", "s", z,
            f"threads({THREADS})+urllib", m[f"threads({THREADS})+urllib"], better="lower"),
    ]
    detail = [{"impl": name, "elapsed_s": m[name], "vs_floor": m[name] / floor,
               "fetches_ok_min": ok[name]} for name in m]
    return {
        "title": TITLE,
        "rows": rows,
        "detail": {"columns": ["impl", "elapsed_s", "vs_floor", "fetches_ok_min"],
                   "rows": detail},
        "config": {
            "target": "scripts/http-target.sh (nginx + echo module, 1 worker, keep-alive) on "
                      f"loopback; URLs /delay/{DELAY_S}/<i>, i = 0..{fetches - 1}",
            "zlb": f"2 x zlb-server --mode io (--max-inflight 1000 default); zlb-client --op fetch "
                   f"--input URLS --window {inflight}; time = the client's elapsed_s",
            "asyncio+aiohttp": f"py_fetch_asyncio.py: one aiohttp ClientSession, TCPConnector("
                               f"limit=0), asyncio.Semaphore({inflight}), gather over all URLs",
            f"threads({THREADS})+urllib": f"py_fetch_threads.py: ThreadPoolExecutor({THREADS}).map"
                                          f" of urllib.request.urlopen(url).read() (one "
                                          f"connection per fetch, as in the seeds)",
        },
        "runs": r,
        "notes": [f"The floor is {fetches} fetches / {inflight} in flight x {DELAY_S} s = "
                  f"{floor:g} s; 64 threads can hold only 64 in flight, so their floor is "
                  f"{fetches / THREADS * DELAY_S:.0f} s."],
    }
