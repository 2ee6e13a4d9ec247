"""Scenario 6: coordinated omission. Open loop (zlb-client --rate R --duration D) against 2 echo
servers, one of them SIGSTOPped for 1 s mid-run: the corrected p99 (latency from each request's
scheduled time) against the uncorrected one (from the actual send), and the same run without a
stall for reference. Skipped when zlb-client has no --rate."""
import os
import signal
import subprocess
import threading
import time

from common import alternate, med, row, stop_all, zlb_client, zlb_servers

TITLE = "Coordinated omission (open loop, one server stopped for 1 s)"
STALL_S = 1.0


def has_rate(ctx):
    p = subprocess.run([ctx.exe("zlb-client"), "--help"], capture_output=True, text=True,
                       timeout=30)
    return "--rate" in p.stdout


def scenario(ctx):
    if not has_rate(ctx):
        return {"title": TITLE, "rows": [], "skipped": "skipped: no --rate in zlb-client --help",
                "skip_ok": True}
    rate = ctx.pick(10000, 20000)
    duration = ctx.pick(3.0, 8.0)
    warmup = ctx.pick(0.5, 1.0)
    stall_at = ctx.pick(1.5, 4.0)
    # Small next to rate x duration, large next to rate x normal latency: the requests stuck in
    # the window during the stall stay well under 1% of the run, so the uncorrected p99 misses
    # the stall, as a closed-loop tester would.
    window = ctx.pick(100, 200)
    servers = zlb_servers(ctx, 2)
    connect = [a for s in servers for a in ("--connect", s.endpoint)]

    def open_loop(stall):
        timer = None
        if stall:
            victim = servers[1].pid

            def freeze():
                os.kill(victim, signal.SIGSTOP)
                time.sleep(STALL_S)
                os.kill(victim, signal.SIGCONT)
            timer = threading.Timer(stall_at, freeze)
            timer.start()
        try:
            d = zlb_client(ctx, *connect, "--op", "echo", "--rate", rate, "--duration", duration,
                           "--warmup", warmup, "--window", window)
        finally:
            if timer:
                timer.join()
                os.kill(servers[1].pid, signal.SIGCONT)
        unc = d.get("latency_uncorrected_us") or d.get("uncorrected_latency_us") or {}
        return {"p50_us": d["latency_us"]["p50"], "p99_us": d["latency_us"]["p99"],
                "p999_us": d["latency_us"]["p999"], "max_us": d["latency_us"]["max"],
                "uncorrected_p50_us": unc.get("p50"), "uncorrected_p99_us": unc.get("p99"),
                "uncorrected_p999_us": unc.get("p999"), "late_starts": d.get("late_starts"),
                "throughput_rps": d["throughput_rps"], "ok": d["ok"]}

    r = alternate(ctx, [("stall", lambda: open_loop(True)), ("no stall", lambda: open_loop(False))])
    stop_all(servers)
    keys = ("p50_us", "p99_us", "p999_us", "uncorrected_p50_us", "uncorrected_p99_us",
            "uncorrected_p999_us", "late_starts", "throughput_rps")
    m = {name: {k: med(runs, k) for k in keys} for name, runs in r.items()}
    s = m["stall"]
    rows = [
        row("open loop with a 1 s stall: corrected p99 vs uncorrected p99", "us", s["p99_us"],
            "uncorrected p99 (same run)", s["uncorrected_p99_us"], better="info"),
        row("corrected p99: with the stall vs without", "us", s["p99_us"], "no stall",
            m["no stall"]["p99_us"], better="info"),
    ]
    detail = [{"run": name, **v} for name, v in m.items()]
    return {
        "title": TITLE,
        "rows": rows,
        "detail": {"columns": ["run", *keys], "rows": detail},
        "config": {
            "zlb": f"2 x zlb-server; zlb-client --op echo --rate {rate} --duration {duration} "
                   f"--warmup {warmup} --window {window}; SIGSTOP of one server {stall_at} s after "
                   f"the client starts, SIGCONT {STALL_S:g} s later",
            "fields": "corrected = JSON latency_us (from each request's scheduled time); "
                      "uncorrected = latency_uncorrected_us (from the actual send)",
        },
        "runs": r,
        "notes": [f"During the stall the {window} window slots fill with requests to the stopped "
                  f"server within {window / rate * 2:.2f} s; later requests fall due with no free "
                  f"slot, go out late (late_starts) and are charged from their due time. A closed-"
                  f"loop tester, or the uncorrected numbers, leave that wait out: coordinated "
                  f"omission."],
    }
