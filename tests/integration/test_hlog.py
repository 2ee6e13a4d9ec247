"""zlb-client --hlog against the independent reference: Java's HdrHistogram (Debian's
libhdrhistogram-java, org.HdrHistogram.HistogramLogProcessor) reads the interval log, and its
counts, maximum, mean and percentiles agree with zlb's own report, within the histogram's
precision (3 significant digits: a value reads at most 1/1024 above itself), and with the exact
latencies of the run's --results CSV. Without java or the jar the test exits 77 (skipped)."""
import csv
import math
import os
import shutil
import subprocess
import sys
import time

from netns import SKIP_EXIT
from reportutil import exact_at
from zlbtest import Server, main, run_client, tmpdir

JAR = "/usr/share/java/hdrhistogram.jar"

server = None


def java_hgrm(hlog, tag):
    """HistogramLogProcessor's percentile distribution of one tag, values in us (ratio 1):
    ([(percentile 0..1, value, total count)], mean, max, total count)."""
    out = os.path.join(tmpdir(), f"java-{tag}")
    p = subprocess.run(["java", "-cp", JAR, "org.HdrHistogram.HistogramLogProcessor", "-i", hlog,
                        "-tag", tag, "-outputValueUnitRatio", "1", "-o", out],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"HistogramLogProcessor exited {p.returncode}:\n{p.stderr}"
    rows, mean, maximum, total = [], None, None, None
    with open(out + ".hgrm") as f:
        for line in f:
            parts = line.split()
            if line.startswith("#[Mean"):
                mean = float(line.split("=")[1].split(",")[0])
            elif line.startswith("#[Max"):
                maximum = float(line.split("=")[1].split(",")[0])
                total = int(line.split("=")[2].strip(" ]\n"))
            elif len(parts) >= 3 and parts[0][0].isdigit():
                rows.append((float(parts[1]), float(parts[0]), int(parts[2])))
    assert rows and total is not None, f"no distribution in {out}.hgrm"
    return rows, mean, maximum, total


def close(a, b):
    """Equal within the histogram's precision: 1/1024 of the value, plus the 3 decimals Java
    prints."""
    return abs(a - b) <= max(a, b) / 1024 + 1


def java_at(rows, q):
    """Java's value at the first tick at or past fraction q."""
    return next(v for p, v, _ in rows if p >= q - 1e-12)


def test_java_reads_the_log_and_agrees():
    d = tmpdir()
    hlog, results = os.path.join(d, "run.hlog"), os.path.join(d, "run.csv")
    # Factoring spreads latencies over a few decades: a real distribution, not one bucket.
    _, out, err, rep = run_client("--connect", server.endpoint, "--op", "factor", "--random",
                                  "3000", "--bits", "56", "--rate", "1000", "--duration", "3",
                                  "--hlog", hlog, "--results", results, "-q", check=0)
    n = rep["requests"]
    assert n == 3000 and rep["ok"] == n, rep
    with open(results) as f:
        exact = sorted(int(r["latency_us"]) for r in csv.DictReader(f))
    assert len(exact) == n
    lat = rep["latency_us"]

    rows, mean, maximum, total = java_hgrm(hlog, "corrected")
    # Counts: every request, in Java's reading of the file.
    assert total == n, (total, n)
    assert rows[-1][2] == n and rows[-1][0] == 1.0, rows[-1]
    # Max: Java reports the top of the maximum's bucket; zlb's and the CSV's are exact.
    assert exact[-1] == lat["max"], (exact[-1], lat)
    assert lat["max"] <= maximum and close(maximum, lat["max"]), (maximum, lat["max"])
    assert close(mean, lat["mean"]), (mean, lat["mean"])
    # Percentiles at Java's own ticks: each within precision of the exact value, and the
    # ticks at 50% and 90% equal zlb's p50 and p90 within precision.
    for q, v, _ in rows[:-1]:
        if q <= 0:
            continue
        e = exact_at(exact, q * 100)
        assert e <= v + 1 and close(v, e), f"Java {v} at {q}, exact {e}"
    assert close(java_at(rows, 0.5), lat["p50"]), (java_at(rows, 0.5), lat)
    assert close(java_at(rows, 0.9), lat["p90"]), (java_at(rows, 0.9), lat)
    # p99 and p99.9 fall between two of Java's ticks: zlb's value lies within them.
    for q, key in ((0.99, "p99"), (0.999, "p999")):
        below = max((v for p, v, _ in rows if p <= q), default=0)
        above = java_at(rows, q)
        assert below <= lat[key] * (1 + 1 / 1024) + 1 and lat[key] <= above + 1, (below, lat[key], above)
        assert close(lat[key], exact_at(exact, q * 100)), (lat[key], exact_at(exact, q * 100))

    # The uncorrected tag: the same requests, never slower than corrected.
    urows, _, umax, utotal = java_hgrm(hlog, "uncorrected")
    assert utotal == n, utotal
    assert close(umax, rep["latency_uncorrected_us"]["max"]), (umax, rep["latency_uncorrected_us"])
    assert umax <= maximum + 1
    print(f"  Java: {total} values, p50 {java_at(rows, 0.5):.0f} us, max {maximum:.0f} us; "
          f"zlb: p50 {lat['p50']} us, max {lat['max']} us", flush=True)


def test_log_has_one_row_per_tag_and_interval():
    hlog = os.path.join(tmpdir(), "i.hlog")
    before = time.time()
    _, _, _, rep = run_client("--connect", server.endpoint, "--rate", "400", "--duration", "2",
                              "--interval", "500ms", "--hlog", hlog, "-q", check=0)
    text = open(hlog).read().splitlines()
    assert text[0] == "#[Histogram log format version 1.3]", text[0]
    start = next(float(l.split()[1]) for l in text if l.startswith("#[StartTime: "))
    base = next(float(l.split()[1]) for l in text if l.startswith("#[BaseTime: "))
    assert start == base and before - 1 <= start <= time.time(), (before, start)
    rows = [l.split(",") for l in text if l.startswith("Tag=")]
    tags = [r[0] for r in rows]
    assert set(tags) == {"Tag=corrected", "Tag=uncorrected"}, set(tags)
    assert tags.count("Tag=corrected") == tags.count("Tag=uncorrected")
    corrected = [r for r in rows if r[0] == "Tag=corrected"]
    # 2 s in 0.5 s steps: four whole ones (a fifth, short, may hold the last replies).
    assert 4 <= len(corrected) <= 5, corrected
    starts = [float(r[1]) for r in corrected]
    assert starts == sorted(starts) and starts[0] == 0.0, starts
    for a, b in zip(corrected, corrected[1:]):
        assert math.isclose(float(a[1]) + float(a[2]), float(b[1]), abs_tol=0.002), (a[:3], b[:3])
    # Java lists the tags and counts every request.
    p = subprocess.run(["java", "-cp", JAR, "org.HdrHistogram.HistogramLogProcessor", "-i", hlog,
                        "-listtags"], capture_output=True, text=True, timeout=60)
    assert "corrected" in p.stdout and "uncorrected" in p.stdout, p.stdout
    assert java_hgrm(hlog, "corrected")[3] == rep["requests"] == 800


if __name__ == "__main__":
    if not shutil.which("java") or not os.path.exists(JAR):
        print("SKIP: java or libhdrhistogram-java (/usr/share/java/hdrhistogram.jar) is missing; "
              "scripts/setup.sh installs them", flush=True)
        sys.exit(SKIP_EXIT)
    server = Server("--threads", "2")
    main([test_java_reads_the_log_and_agrees, test_log_has_one_row_per_tag_and_interval])
