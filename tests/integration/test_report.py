"""zlb-report on loopback: merge adds the clients' interval logs (--hlog) count by count on
absolute time, so its count is the sum and its percentiles are those of every request's latency
together (checked against the exact values in the clients' --results CSVs); --skip-warmup,
show and compare; and zlb-client --start-at, on time and late. The same merge across hosts in
network namespaces is test_report_netns.py."""
import json
import math
import os
import signal
import subprocess
import time

from reportutil import (assert_percentiles, csv_latencies, merge_json, run_report,
                        within_precision)
from zlbtest import CLIENT, Server, main, run_client, tmpdir, wait_for

server = Server("--threads", "2")


def client_start(name, *args):
    d = tmpdir()
    paths = {k: os.path.join(d, f"{name}.{k}") for k in ("hlog", "csv", "json")}
    proc = subprocess.Popen([CLIENT, "--connect", server.endpoint, *args, "--hlog", paths["hlog"],
                             "--results", paths["csv"], "--json", paths["json"], "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, paths


def client_finish(proc, paths):
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, f"client exited {proc.returncode}\n{out}\n{err}"
    with open(paths["json"]) as f:
        return json.load(f), err


runs = {}  # the two-client run, shared by the tests after the first


def test_merge_of_two_clients_is_one_histogram():
    start_at = str(int(time.time() * 1000) + 1500)
    # Different work and rates: a slow and a fast client, whose p99s no average would give.
    a = client_start("a", "--op", "factor", "--random", "900", "--bits", "60", "--rate", "300",
                     "--duration", "3", "--start-at", start_at)
    b = client_start("b", "--rate", "600", "--duration", "3", "--start-at", start_at)
    (ra, _), (rb, _) = client_finish(*a), client_finish(*b)
    runs.update(a=(ra, a[1]), b=(rb, b[1]))
    m, text = merge_json(a[1]["hlog"], b[1]["hlog"])
    assert ra["requests"] == 900 and rb["requests"] == 1800, (ra["requests"], rb["requests"])
    assert m["requests"] == ra["requests"] + rb["requests"], m["requests"]
    assert [l["requests"] for l in m["logs"]] == [ra["requests"], rb["requests"]], m["logs"]
    exact = csv_latencies(a[1]["csv"], b[1]["csv"])
    assert len(exact) == m["requests"]
    assert_percentiles(m["latency_us"], exact)
    # Each log alone reads as its own client's report did.
    for log, rep in zip(m["logs"], (ra, rb)):
        assert log["latency_us"]["max"] == rep["latency_us"]["max"], (log, rep["latency_us"])
        for key in ("p50", "p90", "p99"):
            assert within_precision(log["latency_us"][key], rep["latency_us"][key]) or \
                within_precision(rep["latency_us"][key], log["latency_us"][key]), (key, log, rep)
    # Started together: the union's rate is the sum of the two.
    total = ra["throughput_rps"] + rb["throughput_rps"]
    assert math.isclose(m["throughput_rps"], total, rel_tol=0.05), (m["throughput_rps"], total)
    assert math.isclose(m["sum_throughput_rps"], total, rel_tol=0.05), (m["sum_throughput_rps"], total)
    assert abs(m["logs"][0]["start_s"] - m["logs"][1]["start_s"]) < 0.5, m["logs"]
    # The table: a row per log and the union, as the client prints it.
    assert "a.hlog" in text and "b.hlog" in text and "all end-to-end" in text, text
    assert "latency (ms)" in text and "p99.9" in text, text
    row = next(l for l in text.splitlines() if "all end-to-end" in l).split()
    assert int(row[2]) == m["requests"] and row[3] == "100.0%", row
    assert float(row[8]) == round(m["latency_us"]["p99"] / 1000, 3), (row, m["latency_us"])
    # The series covers the run, one step per second.
    assert 3 <= len(m["intervals"]) <= 5, m["intervals"]
    assert sum(round(r["rps"] * r["length_s"]) for r in m["intervals"]) == m["requests"]


def test_skip_warmup_leaves_the_first_seconds_out():
    (ra, pa), (rb, pb) = runs["a"], runs["b"]
    m, text = merge_json(pa["hlog"], pb["hlog"], extra=("--skip-warmup", "1"))
    assert m["skipped_warmup"] > 0 and m["requests"] > 0, m
    assert m["requests"] + m["skipped_warmup"] == ra["requests"] + rb["requests"], m
    # What the clients' own time series counted in their first second (they started
    # together, so only that interval of each starts within 1 s of the earliest start).
    first = sum(round(r["intervals"][0]["rps"] * r["intervals"][0]["length_s"]) for r in (ra, rb))
    assert m["skipped_warmup"] == first, (m["skipped_warmup"], first)
    assert "warm-up: the first 1.0 s" in text, text


def test_show_prints_one_log():
    ra, pa = runs["a"]
    _, text, _ = run_report("show", pa["hlog"])
    rows = {l.split()[0]: l.split() for l in text.splitlines() if l.startswith("  ") and
            l.split()[0] in ("corrected", "uncorrected")}
    assert set(rows) == {"corrected", "uncorrected"}, text
    assert int(rows["corrected"][1]) == ra["requests"], rows
    assert float(rows["corrected"][9]) == round(ra["latency_us"]["max"] / 1000, 3), (rows, ra)
    assert float(rows["uncorrected"][9]) == round(ra["latency_uncorrected_us"]["max"] / 1000, 3)


def test_compare_prints_the_changes():
    ra, pa = runs["a"]
    m, _ = merge_json(pa["hlog"], runs["b"][1]["hlog"])
    merged = os.path.join(tmpdir(), "m.json")
    with open(merged, "w") as f:
        json.dump(m, f)
    _, text, _ = run_report("compare", pa["json"], merged)
    lines = {l[:26].strip(): l[26:].split() for l in text.splitlines() if l.startswith("  ")}
    for name, old, new in (("throughput (req/s)", ra["throughput_rps"], m["throughput_rps"]),
                           ("p99 (ms)", ra["latency_us"]["p99"], m["latency_us"]["p99"]),
                           ("requests", ra["requests"], m["requests"])):
        assert name in lines, text
        change = f"{100 * (new - old) / old:+.1f}%"
        assert lines[name][-1] == change, (name, lines[name], change)
    # Not a zlb JSON: a clear error, exit 2.
    other = os.path.join(tmpdir(), "other.json")
    with open(other, "w") as f:
        f.write('{"hello": [1, 2, {"x": null}]}')
    code, _, err = run_report("compare", other, merged, check=2)
    assert "not a zlb-client or zlb-report JSON" in err, err


def test_start_at_late_says_so():
    late = str(int(time.time() * 1000) - 3000)
    _, out, err, rep = run_client("--connect", server.endpoint, "--count", "50",
                                  "--start-at", late, "-q", check=0)
    assert rep["start_late_ms"] >= 3000, rep
    assert "after --start-at" in err, err
    assert "STARTED LATE" in out, out


def test_start_at_waits_for_the_time():
    start_at = int(time.time() * 1000) + 1200
    hlog = os.path.join(tmpdir(), "w.hlog")
    _, _, _, rep = run_client("--connect", server.endpoint, "--count", "50", "--hlog", hlog,
                              "--start-at", str(start_at), "-q", check=0)
    started = next(float(l.split()[1]) for l in open(hlog) if l.startswith("#[StartTime: "))
    # Never before the time asked for (StartTime has 3 decimals).
    assert started >= start_at / 1000 - 0.001, (started, start_at)
    assert 0 <= rep["start_late_ms"] < started * 1000 - start_at + 1, rep
    # The relative form parses to a time ahead.
    before = time.time()
    _, _, _, rep = run_client("--connect", server.endpoint, "--count", "10", "--hlog", hlog,
                              "--start-at", "+300ms", "-q", check=0)
    started = next(float(l.split()[1]) for l in open(hlog) if l.startswith("#[StartTime: "))
    assert started >= before + 0.3 - 0.001, (started, before)


def test_start_at_wait_ends_on_ctrl_c():
    start_at = str(int(time.time() * 1000) + 60_000)
    report = os.path.join(tmpdir(), "stopped.json")
    proc = subprocess.Popen([CLIENT, "--connect", server.endpoint, "--count", "100", "--start-at",
                             start_at, "--log-level", "info", "--json", report, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    wait_for(lambda: lines.append(proc.stderr.readline()) or "for --start-at" in lines[-1]
             or proc.poll() is not None, 30, "the client to wait for --start-at")
    assert proc.poll() is None, "".join(lines)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, f"{proc.returncode}\n{out}\n{err}"
    with open(report) as f:
        rep = json.load(f)
    assert rep["interrupted"] and rep["requests"] == 0, rep


def test_bad_input_is_refused_clearly():
    code, _, err, _ = run_client("--connect", server.endpoint, "--count", "1", "--start-at",
                                 "1700000000", json_out=False)
    assert code == 2 and "looks like seconds" in err, (code, err)
    code, _, err, _ = run_client("--connect", server.endpoint, "--count", "1", "--start-at",
                                 "+2d", json_out=False)
    assert code == 2 and "--start-at" in err, (code, err)
    code, _, err, _ = run_client("--connect", server.endpoint, "--count", "1", "--hlog",
                                 "/nonexistent-dir/x.hlog", json_out=False)
    assert code == 2 and "cannot write /nonexistent-dir/x.hlog" in err, (code, err)
    bad = os.path.join(tmpdir(), "bad.hlog")
    with open(bad, "w") as f:
        f.write("#[Histogram log format version 1.3]\nTag=corrected,0.0,1.0,1.0,HISTnotbase64!\n")
    _, _, err = run_report("show", bad, check=2)
    assert f"{bad}:2:" in err and "base64" in err, err
    _, _, err = run_report("merge", check=2)
    assert "files" in err, err


if __name__ == "__main__":
    main([test_merge_of_two_clients_is_one_histogram, test_skip_warmup_leaves_the_first_seconds_out,
          test_show_prints_one_log, test_compare_prints_the_changes, test_start_at_late_says_so,
          test_start_at_waits_for_the_time, test_start_at_wait_ends_on_ctrl_c,
          test_bad_input_is_refused_clearly])
