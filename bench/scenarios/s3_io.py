"""Scenario 3: I/O task. (a) Fetches of /delay/1/<i> from the loopback nginx target with 1,000
in flight in total: 2 zlb io servers, client --window 1000, against asyncio + aiohttp with a
semaphore of 1,000 and a ThreadPoolExecutor(64) with urllib (as in the seeds). The floor is
fetches / in-flight x 1 s. (b) Scale: ONE io server, N fetches with all N in flight, N = 1,000
and 10,000: time against the 1 s floor and against the bare peer (zlb-bare-fetch: N keep-alive
GETs on raw epoll sockets, no curl, no ZeroMQ: what this machine and nginx can do), and the
server's CPU per fetch, whose growth from 1,000 to 10,000 says whether a fetch costs the same at
any number in flight. CPU is the sum of the server's threads' run time from
/proc/PID/task/*/schedstat (nanoseconds; the user/system split from /proc/PID/stat is in 10 ms
ticks, so only a rough split). RLIMIT_NOFILE is raised to its hard limit first (each fetch holds
a socket in the server and one in nginx)."""
import os
import resource

from common import (HttpTarget, alternate, keyvals, log, med, row, run, stop_all, write_lines,
                    zlb_client, zlb_servers)

TITLE = "I/O task (HTTP fetches of /delay/1/<i>)"
DELAY_S = 1
THREADS = 64


SCALE_TARGET_FLOOR = 1.25
SCALE_TARGET_CPU = 1.15


def nofile_raise():
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by every process started after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def cpu_s(pid):
    """(user, system, total) CPU seconds of a live process: user and system in clock ticks
    from /proc/PID/stat, the total to the nanosecond from every thread's schedstat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    total_ns = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total_ns += int(f.read().split()[0])
        except FileNotFoundError:  # a thread that ended meanwhile
            pass
    return int(fields[11]) / tick, int(fields[12]) / tick, total_ns / 1e9


def scale_part(ctx, target):
    sizes = ctx.pick((500, 2000), (1000, 10000))
    limits = nofile_raise()
    servers = {}
    urls = {}
    for n in sizes:
        servers[n] = zlb_servers(ctx, 1, "--mode", "io", "--max-inflight", n)[0]
        urls[n] = write_lines(ctx.path(f"scale-{n}.txt"),
                              (f"{target.base}/delay/{DELAY_S}/{i}" for i in range(n)))

    def one(n):
        s = servers[n]
        u0, k0, t0 = cpu_s(s.pid)
        d = zlb_client(ctx, "--connect", s.endpoint, "--op", "fetch", "--input", urls[n],
                       "--window", n, json_name=f"scale-{n}.json")
        u1, k1, t1 = cpu_s(s.pid)
        return {"elapsed_s": d["elapsed_s"], "ok": d["ok"], "vs_floor": d["elapsed_s"] / DELAY_S,
                "cpu_us_per_fetch": (t1 - t0) * 1e6 / n,
                "user_us_per_fetch": (u1 - u0) * 1e6 / n, "sys_us_per_fetch": (k1 - k0) * 1e6 / n}

    # The bare peer gets an nginx of its own, same config: one nginx worker holds at most
    # RLIMIT_NOFILE (20,000 here) connections, and the zlb servers' 11,000 kept-alive ones plus
    # the peer's 10,000 would make nginx close idle zlb connections, so that the next zlb round
    # would open them again.
    bare_target = HttpTarget(ctx)

    def bare(n):
        kv = keyvals(run([ctx.exe("zlb-bare-fetch"), "--port", bare_target.port, "--count", n,
                          "--path", f"/delay/{DELAY_S}"], timeout_s=120).stdout)
        return {"elapsed_s": kv["elapsed_s"], "ok": kv["ok"], "vs_floor": kv["elapsed_s"] / DELAY_S,
                "cpu_us_per_fetch": kv["user_us_per_fetch"] + kv["sys_us_per_fetch"],
                "user_us_per_fetch": kv["user_us_per_fetch"],
                "sys_us_per_fetch": kv["sys_us_per_fetch"]}

    # The bare peer opens its connections in a warm-up round of its own; each zlb server
    # gets one too (untimed), so that every timed round on both sides reuses kept-alive
    # connections and "best of 3" is of 3 warm rounds.
    for n in sizes:
        log(f"  warm-up round, {n} in flight")
        one(n)
    impls = []
    for n in sizes:
        impls += [(f"{n} in flight", (lambda n=n: one(n))),
                  (f"bare peer, {n} in flight", (lambda n=n: bare(n)))]
    r = alternate(ctx, impls)
    stop_all(list(servers.values()))
    bare_target.stop()
    return sizes, limits, r


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

    log("scale: one io server, all fetches in flight")
    sizes, limits, scale = scale_part(ctx, target)
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
    lo, hi = (f"{n} in flight" for n in sizes)
    best = {k: {f: min(x[f] for x in runs) for f in ("elapsed_s", "cpu_us_per_fetch")}
            for k, runs in scale.items()}
    cpu_growth = best[hi]["cpu_us_per_fetch"] / best[lo]["cpu_us_per_fetch"]
    bare_hi = best[f"bare peer, {hi}"]["elapsed_s"]
    rows += [
        row(f"{sizes[1]} fetches, all in flight, one io server: zlb vs the floor (best of "
            f"{ctx.runs})", "s", best[hi]["elapsed_s"], f"floor ({DELAY_S} s)", DELAY_S,
            target=f"zlb/floor <= {SCALE_TARGET_FLOOR}",
            met=best[hi]["elapsed_s"] / DELAY_S <= SCALE_TARGET_FLOOR, better="lower"),
        row(f"{sizes[1]} fetches, all in flight: zlb vs the bare epoll peer (best of "
            f"{ctx.runs})", "s", best[hi]["elapsed_s"], "zlb-bare-fetch", bare_hi,
            better="lower", note=f"the bare peer itself takes {bare_hi / DELAY_S:.2f}x the floor"),
        row(f"{sizes[0]} fetches, all in flight, one io server: zlb vs the floor (best of "
            f"{ctx.runs})", "s", best[lo]["elapsed_s"], f"floor ({DELAY_S} s)", DELAY_S,
            better="lower"),
        row(f"server CPU per fetch at {sizes[1]} in flight vs at {sizes[0]} (best of "
            f"{ctx.runs})", "us", best[hi]["cpu_us_per_fetch"], f"{sizes[0]} in flight",
            best[lo]["cpu_us_per_fetch"], target=f"ratio <= {SCALE_TARGET_CPU}",
            met=cpu_growth <= SCALE_TARGET_CPU, better="lower"),
    ]
    detail = [{"impl": name, "elapsed_s": m[name], "vs_floor": m[name] / floor,
               "fetches_ok_min": ok[name]} for name in m]
    detail += [{"impl": f"scale, {k}", "elapsed_s": med(runs, "elapsed_s"),
                "vs_floor": med(runs, "vs_floor"), "fetches_ok_min": min(x["ok"] for x in runs),
                "cpu_us_per_fetch": med(runs, "cpu_us_per_fetch"),
                "user_us_per_fetch": med(runs, "user_us_per_fetch"),
                "sys_us_per_fetch": med(runs, "sys_us_per_fetch")} for k, runs in scale.items()]
    return {
        "title": TITLE,
        "rows": rows,
        "detail": {"columns": ["impl", "elapsed_s", "vs_floor", "fetches_ok_min",
                               "cpu_us_per_fetch", "user_us_per_fetch", "sys_us_per_fetch"],
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
            "scale": f"1 x zlb-server --mode io --max-inflight N; zlb-client --op fetch --input "
                     f"N URLs --window N, N = {sizes[0]} and {sizes[1]}, an untimed warm-up "
                     f"round each, then alternating rounds; "
                     f"RLIMIT_NOFILE {limits[0]} (hard {limits[1]}); CPU = the run time of the "
                     f"server's threads (schedstat) over the client's run",
            "bare peer": f"zlb-bare-fetch --count N, against a second nginx of the same config "
                         f"(so that its connections do not crowd out the zlb servers' kept-alive "
                         f"ones): N keep-alive connections on raw epoll "
                         f"sockets, a warm-up round, then N GETs of /delay/{DELAY_S}/<i> at once "
                         f"(timed; CPU from getrusage), alternating with the zlb rounds",
        },
        "runs": {**r, **{f"scale {k}": v for k, v in scale.items()}},
        "notes": [f"The floor is {fetches} fetches / {inflight} in flight x {DELAY_S} s = "
                  f"{floor:g} s; 64 threads can hold only 64 in flight, so their floor is "
                  f"{fetches / THREADS * DELAY_S:.0f} s."],
    }
