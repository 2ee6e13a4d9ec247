"""Scenario 1: messaging overhead. Echo of 16-byte payloads through 2 servers, closed loop,
windows 1, 16 and 256: zlb against a bare cppzmq DEALER/ROUTER echo (the physical floor) and
the book's pyzmq + tornado ZMQStream design (seed 004). At window 256 also against the bare
pair at zlb's own message sizes (a 43 B request, a 70 B reply built by the server): what the
protocol's sizes cost the transport, apart from zlb's code. Also, when valgrind is installed, the
instructions per echo under callgrind of zlb (client + servers) and of the bare pair: the
stable figure beside the wall-clock ratios (see callgrind.py)."""
import callgrind
from common import (ZLB_REPLY_BYTES, ZLB_REQUEST_BYTES, Proc, alternate, free_port, keyvals,
                    log, med, ratio, row, run, stop_all, zlb_client, zlb_servers, wait_port)

TITLE = "Messaging overhead (echo, 16 B, 2 servers, closed loop)"
WINDOWS = (1, 16, 256)
SIZED = "bare cppzmq, zlb's sizes"


def scenario(ctx):
    duration = ctx.pick(1.0, 5.0)
    warmup = ctx.pick(0.2, 1.0)
    zlb = zlb_servers(ctx, 2)
    bare, sized, py = [], [], []
    for _ in range(2):
        for out, extra in ((bare, []), (sized, [str(ZLB_REPLY_BYTES)])):
            port = free_port()
            p = Proc(ctx, [ctx.exe("zlb-bare-echo-server"), f"tcp://127.0.0.1:{port}", *extra],
                     ready="listening", name="bare-echo")
            p.endpoint = f"tcp://127.0.0.1:{port}"
            out.append(p)
        port = free_port()
        p = Proc(ctx, [ctx.python, ctx.peer("py_echo_server.py"), f"py-{port}",
                       f"tcp://127.0.0.1:{port}"], ready="listening", name="py-echo")
        p.endpoint = f"tcp://127.0.0.1:{port}"
        py.append(p)
    for p in bare + sized + py:
        wait_port(p, int(p.endpoint.rsplit(":", 1)[1]))

    def zlb_run(w):
        connect = [a for s in zlb for a in ("--connect", s.endpoint)]
        d = zlb_client(ctx, *connect, "--op", "echo", "--size", 16, "--window", w,
                       "--duration", duration, "--warmup", warmup)
        return {"throughput_rps": d["throughput_rps"], "p50_us": d["latency_us"]["p50"],
                "p99_us": d["latency_us"]["p99"], "requests": d["ok"]}

    def kv_run(cmd):
        return keyvals(run(cmd, timeout_s=duration + 60).stdout)

    def bare_run(w, servers=bare, size=16):
        connect = [a for s in servers for a in ("--connect", s.endpoint)]
        return kv_run([ctx.exe("zlb-bare-echo-client"), *connect, "--window", w, "--size", size,
                       "--duration", duration, "--warmup", warmup])

    def py_run(w):
        return kv_run([ctx.python, ctx.peer("py_echo_client.py"), "--window", w, "--size", 16,
                       "--duration", duration, "--warmup", warmup, *[s.endpoint for s in py]])

    results = {}
    rows = []
    detail = []
    for w in WINDOWS:
        log(f"window {w}")
        impls = [("zlb", lambda: zlb_run(w)), ("bare cppzmq", lambda: bare_run(w)),
                 ("python zmqstream", lambda: py_run(w))]
        if w == 256:
            impls.append((SIZED, lambda: bare_run(w, sized, ZLB_REQUEST_BYTES)))
        r = alternate(ctx, impls)
        results[f"window_{w}"] = r
        m = {name: {k: med(runs, k) for k in ("throughput_rps", "p50_us", "p99_us")}
             for name, runs in r.items()}
        for name, v in m.items():
            detail.append({"window": w, "impl": name, **v})
        z = m["zlb"]["throughput_rps"]
        best = {name: max(x["throughput_rps"] for x in runs) for name, runs in r.items()}
        # Targets (at window 256 only) by peer; the same-size pair has none.
        goals = {"bare cppzmq": 0.8, "python zmqstream": 25.0, SIZED: None}
        sizes = f" ({ZLB_REQUEST_BYTES} B request, {ZLB_REPLY_BYTES} B reply)"

        def rps_row(metric, zlb_rps, peer, peer_rps):
            goal = goals[peer] if w == 256 else None
            rel = ratio(zlb_rps, peer_rps)
            return row(metric, "req/s", zlb_rps, peer, peer_rps,
                       target=f"zlb/peer >= {goal:g}" if goal else None,
                       met=(rel is not None and rel >= goal) if goal else None)
        for peer, about in (("bare cppzmq", ""), (SIZED, sizes)):
            if peer in r:
                rows.append(rps_row(f"echo req/s, window {w}, vs {peer}{about}, best of "
                                    f"{len(r['zlb'])}", best["zlb"], peer, best[peer]))
        for peer in (p for p in goals if p in r):
            rows.append(rps_row(f"echo req/s, window {w}, vs {peer}", z, peer,
                                m[peer]["throughput_rps"]))
        for peer in ("bare cppzmq", "python zmqstream"):
            rows.append(row(f"echo p99 latency, window {w}, vs {peer}", "us",
                            m["zlb"]["p99_us"], peer, m[peer]["p99_us"], better="lower"))
    stop_all(zlb + bare + sized + py)
    cg = {}
    if callgrind.available():
        n = ctx.pick(1000, 5000)
        cg = {"zlb direct": callgrind.zlb_direct(ctx, n), "bare direct": callgrind.bare_direct(ctx, n),
              SIZED: callgrind.bare_sized(ctx, n)}
        for name, v in cg.items():
            v["total"] = sum(v.values())
            detail.append({"window": callgrind.WINDOW, "impl": f"{name}: instructions per echo",
                           "client_ir": round(v.get("client", 0)),
                           "server_ir": round(v.get("server", 0)), "total_ir": round(v["total"])})
        rows.append(row(f"instructions per echo (callgrind), client + servers, window "
                        f"{callgrind.WINDOW}", "Ir", cg["zlb direct"]["total"], "bare cppzmq",
                        cg["bare direct"]["total"], better="lower"))
        rows.append(row(f"instructions per echo (callgrind), client + servers, window "
                        f"{callgrind.WINDOW}, vs {SIZED}", "Ir", cg["zlb direct"]["total"], SIZED,
                        cg[SIZED]["total"], better="lower"))
    return {
        "title": TITLE,
        "rows": rows,
        "detail": {"columns": ["window", "impl", "throughput_rps", "p50_us", "p99_us",
                               "client_ir", "server_ir", "total_ir"],
                   "rows": detail},
        "config": {
            "zlb": f"2 x zlb-server (defaults, --log-level warn); zlb-client --op echo --size 16 "
                   f"--window W --duration {duration} --warmup {warmup}",
            "bare cppzmq": "2 x zlb-bare-echo-server (ROUTER, frames sent straight back, one "
                           "thread, HWM 0); zlb-bare-echo-client: one DEALER connected to both "
                           "(libzmq round-robin), W in flight, exact latencies; same duration "
                           "and warm-up",
            SIZED: f"as bare cppzmq, at window 256 only: the client sends {ZLB_REQUEST_BYTES} B "
                   f"and each server answers with a new {ZLB_REPLY_BYTES} B message starting "
                   f"with the request's first 16 B (zlb-bare-echo-server ENDPOINT "
                   f"{ZLB_REPLY_BYTES}); no target: it shows what the protocol's sizes cost",
            "python zmqstream": "2 x py_echo_server.py (the book's ROUTER on a tornado IOLoop via "
                                "ZMQStream, no per-message print); py_echo_client.py (the book's "
                                "DEALER via ZMQStream, W in flight, each reply sends the next); "
                                "same duration and warm-up",
        },
        "runs": {**results, "callgrind": cg},
        "notes": ["Instructions per echo: every process under valgrind --tool=callgrind, runs of "
                  "N and 2N echoes, (Ir(2N) - Ir(N)) / N, so start-up cancels out; servers are "
                  "summed (each echo visits one). libzmq's I/O threads are included.","Throughput is the median over runs of requests completed per second after "
                  "the warm-up; p50/p99 are the medians of each run's percentiles.",
                  "Targets apply at window 256."],
    }
