"""What the zlb-report tests share: running it, the exact percentiles of --results CSVs, and
the histogram's precision (3 significant digits: a value reads at most 1/1024 above itself)."""
import csv
import json
import math
import os
import subprocess

from zlbtest import BIN_DIR, tmpdir

REPORT = os.path.join(BIN_DIR, "zlb-report")


def run_report(*args, check=0):
    """Runs zlb-report; returns (exit code, stdout, stderr)."""
    p = subprocess.run([REPORT, *args], capture_output=True, text=True, timeout=120)
    if check is not None and p.returncode != check:
        raise AssertionError(f"zlb-report {' '.join(args)} exited {p.returncode}, wanted {check}\n"
                             f"{p.stdout}\n{p.stderr}")
    return p.returncode, p.stdout, p.stderr


def merge_json(*logs, extra=()):
    out = os.path.join(tmpdir(), "merged.json")
    _, text, _ = run_report("merge", *logs, "--json", out, *extra)
    with open(out) as f:
        return json.load(f), text


def csv_latencies(*paths):
    """Every request's corrected latency (us) from --results CSVs, sorted: the exact histogram."""
    values = []
    for path in paths:
        with open(path) as f:
            values += [int(r["latency_us"]) for r in csv.DictReader(f)]
    return sorted(values)


def exact_at(sorted_values, pct):
    """The value at percentile pct (0..100): rank ceil(pct/100 * n), as zlb and HdrHistogram."""
    n = len(sorted_values)
    rank = min(max(1, math.ceil(pct / 100 * n * (1 - 1e-12))), n)
    return sorted_values[rank - 1]


def within_precision(reported, exact):
    """reported is what a 3-digit histogram says of exact: the top of exact's bucket at most."""
    return exact <= reported <= exact + exact / 1024 + 1


def assert_percentiles(latency, exact):
    """A JSON latency summary ({"p50": ...}) against the exact sorted values."""
    assert latency["max"] == exact[-1], (latency["max"], exact[-1])
    for key, pct in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        e = exact_at(exact, pct)
        assert within_precision(latency[key], e), f"{key}: {latency[key]} for exact {e}"
