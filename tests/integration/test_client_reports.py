"""zlb-client's open loop and reports against real servers: the schedule is kept, late starts
are counted, a stalled server shows in the corrected latency and not in the uncorrected,
warm-up is left out, and the --hist, --interval, --plot and live-view outputs are usable.
Whether rates and durations hold on the wall clock is test_timing_client_reports.py's part."""
import json
import os
import pty
import shutil
import signal
import struct
import subprocess
import time

from zlbtest import CLIENT, HttpTarget, Server, main, rows_done, run_client, tmpdir, wait_for

server = Server("--threads", "1")
connect = ["--connect", server.endpoint]


def test_open_loop_keeps_the_rate():
    _, out, err, rep = run_client(*connect, "--rate", "400", "--duration", "3", "-q", check=0)
    assert rep["mode"] == "open" and rep["rate_rps"] == 400, rep
    assert rep["requests"] == 1200 and rep["ok"] == 1200, rep
    assert isinstance(rep["late_starts"], int), rep
    assert "late starts" in out and "echo uncorrected" in out, out
    lat, raw = rep["latency_us"], rep["latency_uncorrected_us"]
    # Counted from the due time, a request can only look slower than from its send.
    assert lat["p50"] >= raw["p50"] and lat["max"] >= raw["max"] * 0.99, (lat, raw)


def test_closed_loop_by_duration():
    _, out, _, rep = run_client(*connect, "--duration", "1.5", "--window", "8", check=0)
    assert rep["mode"] == "closed" and rep["late_starts"] == 0, rep
    assert rep["requests"] > 100 and rep["ok"] == rep["requests"], rep
    # Closed loop: sent when the window has room, so both latencies are the same.
    assert rep["latency_us"] == rep["latency_uncorrected_us"], rep
    assert "echo uncorrected" not in out


def test_late_starts_when_the_window_is_too_small():
    http = HttpTarget()
    urls = os.path.join(tmpdir(), "urls.txt")
    with open(urls, "w") as f:
        f.write(f"{http.base}/delay/0.1/slow\n")
    # One slot and 100 ms per fetch hold 10 req/s: at 40 req/s almost every start is late.
    _, _, _, rep = run_client(*connect, "--op", "fetch", "--input", urls, "--rate", "40",
                              "--duration", "0.5", "--window", "1", "-q", check=0)
    http.stop()
    assert rep["requests"] == 20 and rep["ok"] == 20, rep
    assert rep["late_starts"] >= 15, rep
    # The queue behind the single slot: the last one waited ~19 x 100 ms - 0.5 s.
    assert rep["latency_us"]["max"] >= 1_200_000, rep["latency_us"]
    assert rep["latency_uncorrected_us"]["max"] < 1_000_000, rep["latency_uncorrected_us"]


def test_stalled_server_shows_in_corrected_latency_only():
    victim = Server("--threads", "1")
    report, results = os.path.join(tmpdir(), "co.json"), os.path.join(tmpdir(), "co.csv")
    # A small window keeps the stall out of the uncorrected p99 (at most 4 of 2000
    # requests are in flight when it starts), as a closed-loop tester would miss it;
    # no retries and a long timeout, so failover can't hide it either. The 1 s stop is
    # below the 3 s heartbeat timeout: the connection stays up.
    proc = subprocess.Popen([CLIENT, "--connect", victim.endpoint, "--rate", "500", "--duration",
                             "4", "--window", "4", "--retries", "0", "--timeout-ms", "5000", "-q",
                             "--json", report, "--results", results], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # Stall it once the run is well under way: 600 of the 2000 replies are in.
    wait_for(lambda: rows_done(results) >= 600 or proc.poll() is not None, 30, "600 replies")
    assert proc.poll() is None, "the run ended before the stall"
    victim.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        # The stall itself is the fault under test: it lasts 1 s whatever the client does.
        wait_for(lambda: time.monotonic() - stopped >= 1.0 or proc.poll() is not None, 10, "1 s")
    finally:
        victim.signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"{out}\n{err}"
    rep = json.load(open(report))
    assert rep["requests"] == 2000 and rep["ok"] == 2000, rep
    corrected, uncorrected = rep["latency_us"]["p99"], rep["latency_uncorrected_us"]["p99"]
    assert corrected >= 500_000, rep["latency_us"]
    assert corrected > 5 * uncorrected, (corrected, uncorrected)
    assert rep["late_starts"] >= 300, rep  # ~496 were due while all 4 slots were stuck
    victim.stop()


def test_warmup_is_left_out():
    _, out, _, rep = run_client(*connect, "--rate", "200", "--duration", "3", "--warmup", "1",
                                "-q", check=0)
    # Requests due in the first second are the warm-up: exactly 200 of the 600.
    assert rep["warmup"]["requests"] == 200 and rep["warmup"]["ok"] == 200, rep["warmup"]
    assert rep["requests"] == 400 and rep["ok"] == 400, rep
    assert rep["ops"]["echo"]["count"] == 400
    assert sum(s["count"] for s in rep["servers"].values()) == 400
    assert "warm-up 1.0 s: 200 requests left out" in out, out
    code, _, err, _ = run_client(*connect, "--duration", "1", "--warmup", "1", json_out=False)
    assert code == 2 and "--warmup" in err, err


def test_intervals_on_stderr_and_in_json():
    _, _, err, rep = run_client(*connect, "--rate", "300", "--duration", "2.5", "--interval",
                                "0.5", "--warmup", "0.5", "-q", check=0)
    rows = rep["intervals"]
    assert len(rows) == 5, rows
    assert [r["t_s"] for r in rows] == sorted(r["t_s"] for r in rows)
    assert abs(rows[0]["t_s"] - 0.5) < 0.01 and rows[0]["warmup"] and not rows[1]["warmup"], rows
    for r in rows:
        assert set(r) >= {"t_s", "rps", "p50_us", "p99_us", "errors"}, r
        assert r["rps"] > 0 and r["errors"] == 0, r
        assert 0 < r["p50_us"] <= r["p99_us"], r
    lines = [line for line in err.splitlines() if "req/s" in line and "p99" in line]
    assert len(lines) == 5, err
    assert "(warm-up)" in lines[0] and "(warm-up)" not in lines[1], lines


def test_hist_file_is_a_monotone_percentile_distribution():
    hist = os.path.join(tmpdir(), "latency.hist")
    _, _, _, rep = run_client(*connect, "--count", "5000", "--hist", hist, "-q", check=0)
    lines = open(hist).read().splitlines()
    assert lines[0].split() == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"], lines[0]
    rows = [line.split() for line in lines[2:] if line and not line.startswith("#")]
    values = [float(r[0]) for r in rows]
    percentiles = [float(r[1]) for r in rows]
    counts = [int(r[2]) for r in rows]
    assert len(rows) > 20
    assert values == sorted(values) and percentiles == sorted(percentiles)
    assert counts == sorted(counts)
    assert percentiles[-1] == 1.0 and counts[-1] == 5000
    # Milliseconds: the histogram's maximum, from the JSON in microseconds, over 1000.
    assert abs(values[-1] - rep["latency_us"]["max"] / 1000) <= 0.002 * values[-1] + 0.001
    footer = [line for line in lines if line.startswith("#[")]
    assert len(footer) == 3 and "Total count    =         5000" in footer[1], footer


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    return struct.unpack(">II", head[16:24])


def test_plot_renders_to_png():
    rsvg = shutil.which("rsvg-convert")
    # Required, not skipped: scripts/setup.sh installs librsvg2-bin, so a missing one is a bug.
    assert rsvg, "rsvg-convert missing (librsvg2-bin; scripts/setup.sh installs it)"
    other = Server("--threads", "1")
    d = tmpdir()
    svg, png = os.path.join(d, "run.svg"), os.path.join(d, "run.png")
    _, _, _, rep = run_client(*connect, "--connect", other.endpoint, "--rate", "500", "--duration",
                              "2", "--warmup", "0.5", "--plot", svg, "-q", check=0)
    other.stop()
    text = open(svg).read()
    for label in ("90%", "99%", "99.9%", "latency (ms)", "throughput (req/s)", server.name,
                  other.name, "warm-up"):
        assert label in text, label
    assert "href" not in text and "<script" not in text
    # No --interval: the plot's time series used 1 s steps, and the JSON has them too.
    assert [round(r["t_s"]) for r in rep["intervals"]] == [1, 2], rep["intervals"]
    subprocess.run([rsvg, "-o", png, svg], check=True, timeout=60)
    assert os.path.getsize(png) > 20_000, os.path.getsize(png)
    assert png_size(png) == (960, 900)


def test_live_view_only_on_a_terminal():
    def run(*extra):
        master, slave = pty.openpty()
        proc = subprocess.Popen([CLIENT, *connect, "--rate", "400", "--duration", "1.2", *extra],
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the client closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        proc.wait(timeout=30)
        os.close(master)
        assert proc.returncode == 0, seen
        return seen.decode(errors="replace")
    view = run()
    assert "[####################]" in view and "480/480" in view, view
    assert "req/s" in view and "p99" in view and "late " in view, view
    quiet = run("-q")
    assert "#" not in quiet and "req/s" not in quiet, quiet
    # Not a terminal: no live view either.
    _, _, err, _ = run_client(*connect, "--count", "100", check=0)
    assert "req/s" not in err, err


if __name__ == "__main__":
    main([test_open_loop_keeps_the_rate, test_closed_loop_by_duration,
          test_late_starts_when_the_window_is_too_small,
          test_stalled_server_shows_in_corrected_latency_only, test_warmup_is_left_out,
          test_intervals_on_stderr_and_in_json,
          test_hist_file_is_a_monotone_percentile_distribution, test_plot_renders_to_png, test_live_view_only_on_a_terminal])
