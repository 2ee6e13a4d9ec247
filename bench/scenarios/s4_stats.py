"""Scenario 4: statistics accuracy. zlb-client's reported p50, p99 and p99.9 (from its
log-linear histograms) against exact nearest-rank percentiles of the same requests' latencies,
read from its --results CSV."""
import csv

from common import alternate, nearest_rank, row, stop_all, zlb_client, zlb_servers

TITLE = "Statistics accuracy (reported percentiles vs exact)"
PCTS = (("p50", 0.50), ("p99", 0.99), ("p999", 0.999))
TOLERANCE = 0.001


def scenario(ctx):
    servers = zlb_servers(ctx, 2, "--mode", "cpu", "--threads", 1)
    connect = [a for s in servers for a in ("--connect", s.endpoint)]
    echo_n = ctx.pick(50000, 300000)
    factor_n = ctx.pick(5000, 20000)
    workloads = {
        "echo": ["--op", "echo", "--count", echo_n, "--window", 16],
        "factor": ["--op", "factor", "--random", factor_n, "--bits", 72, "--semiprimes",
                   "--window", 4],
    }

    def measure(name):
        csv_path = ctx.path(f"results-{name}.csv")
        d = zlb_client(ctx, *connect, *workloads[name], "--results", csv_path)
        with open(csv_path) as f:
            lat = sorted(int(r["latency_us"]) for r in csv.DictReader(f))
        out = {"rows": len(lat), "requests": d["ok"]}
        for key, p in PCTS:
            exact = nearest_rank(lat, p)
            rep = d["latency_us"][key]
            out[key] = {"reported": rep, "exact": exact,
                        "rel_error": abs(rep - exact) / exact if exact else 0.0}
        return out

    r = alternate(ctx, [(name, (lambda n=name: measure(n))) for name in workloads])
    stop_all(servers)
    rows, detail = [], []
    for name, runs in r.items():
        for key, _ in PCTS:
            worst = max(runs, key=lambda x: x[key]["rel_error"])
            err = worst[key]["rel_error"]
            rows.append(row(f"{name} {key}: reported vs exact, error {100 * err:.3f}% (worst of "
                            f"{len(runs)} runs)", "us",
                            worst[key]["reported"], "exact nearest-rank from --results",
                            worst[key]["exact"], target="within 0.1%", met=err <= TOLERANCE,
                            better="closer to 1"))
            for i, x in enumerate(runs):
                detail.append({"workload": name, "run": i + 1, "percentile": key,
                               "reported_us": x[key]["reported"], "exact_us": x[key]["exact"],
                               "error_pct": round(100 * x[key]["rel_error"], 4),
                               "rows": x["rows"]})
    return {
        "title": TITLE,
        "rows": rows,
        "detail": {"columns": ["workload", "run", "percentile", "reported_us", "exact_us",
                               "error_pct", "rows"], "rows": detail},
        "config": {
            "echo": f"2 x zlb-server --mode cpu --threads 1; zlb-client --op echo --count "
                    f"{echo_n} --window 16 --results CSV --json",
            "factor": f"zlb-client --op factor --random {factor_n} --bits 72 --semiprimes "
                      f"--window 4 --results CSV --json (latencies from tens of us to ms)",
            "exact": "nearest-rank percentile of the CSV's latency_us column: the value at rank "
                     "ceil(p x n) of the sorted latencies",
        },
        "runs": r,
        "notes": ["Error = |reported - exact| / exact; the CSV holds whole microseconds, the "
                  "same unit as the JSON summary."],
    }
