"""zlb-client at the terminal (issue 10), with the real binaries: Ctrl-C keeps every report,
dead endpoints fail fast with a reason, errors and HTTP statuses are shown, thresholds set
the exit code, flags speak the usual conventions, and the live view fits the terminal."""
import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import time

from zlbtest import (BIN_DIR, CLIENT, HttpTarget, Server, free_port, main, rows_done, run_client,
                     tmpdir, wait_for)

server = Server("--threads", "1")
connect = ["--connect", server.endpoint]
RESULT_FIELDS = ["id", "op", "server", "ok", "code", "latency_us", "service_us", "attempts",
                 "item", "input_line", "http_status", "message"]


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def csv_rows_whole(path):
    """Every row of a --results file, asserting that each is complete (no cut row)."""
    text = read_text(path)
    assert text.endswith("\n"), repr(text[-200:])
    rows = list(csv.reader(text.splitlines()))
    assert rows[0] == RESULT_FIELDS, rows[0]
    for row in rows[1:]:
        assert len(row) == len(RESULT_FIELDS), row
    return [dict(zip(RESULT_FIELDS, r)) for r in rows[1:]]


def start(*args, stdout=subprocess.PIPE):
    err_path = os.path.join(tmpdir(), "client.err")
    err = open(err_path, "w")
    proc = subprocess.Popen([CLIENT, *args], stdout=stdout, stderr=err, text=True)
    return proc, err_path


# --- Never lose a report ---------------------------------------------------------------

def test_sigint_keeps_every_report():
    d = tmpdir()
    paths = {k: os.path.join(d, f"run.{k}") for k in ("json", "csv", "hist", "svg", "jsonl")}
    proc, err_path = start(*connect, "--rate", "300", "--duration", "1m", "-q",
                           "--json", paths["json"], "--results", paths["csv"],
                           "--hist", paths["hist"], "--plot", paths["svg"],
                           "--output", paths["jsonl"])
    wait_for(lambda: rows_done(paths["csv"]) >= 100 or proc.poll() is not None, 30, "100 results")
    assert proc.poll() is None, read_text(err_path)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)  # the grace is 1 s
    err = read_text(err_path)
    assert proc.returncode == 130, (proc.returncode, out, err)
    rep = json.load(open(paths["json"]))
    assert rep["interrupted"] is True, rep
    assert rep["unsent"] > 10_000 and rep["in_flight"] == 0, rep
    assert rep["requests"] == rep["ok"] >= 100, rep
    assert "INTERRUPTED" in out and "never sent" in out, out
    rows = csv_rows_whole(paths["csv"])
    assert len(rows) == rep["requests"], (len(rows), rep["requests"])
    lines = read_text(paths["jsonl"]).splitlines()
    assert len(lines) == rep["requests"] and all(json.loads(x)["ok"] for x in lines)
    hist = read_text(paths["hist"])
    assert "#[Max" in hist and f"Total count    = {rep['requests']:>12}" in hist, hist[-400:]
    assert read_text(paths["svg"]).rstrip().endswith("</svg>")
    assert not [f for f in os.listdir(d) if f.startswith(".")], os.listdir(d)  # no temp files


def test_second_sigint_quits_at_once_with_whole_rows():
    # Every other fetch takes 5 s: those are in flight when the signals come, while the
    # fast ones fill the results file.
    http = HttpTarget()
    io = Server("--mode", "io")
    d = tmpdir()
    urls = os.path.join(d, "urls.txt")
    with open(urls, "w") as f:
        f.write(f"{http.base}/status/200\n{http.base}/delay/5/slow\n")
    results, report = os.path.join(d, "r.csv"), os.path.join(d, "r.json")
    proc, err_path = start("--connect", io.endpoint, "--op", "fetch", "--input", urls, "--rate",
                           "200", "--duration", "60", "--window", "256", "--grace", "60s", "-q",
                           "--results", results, "--json", report)
    try:
        wait_for(lambda: rows_done(results) >= 50 or proc.poll() is not None, 30, "50 results")
        proc.send_signal(signal.SIGINT)
        wait_for(lambda: "interrupted" in read_text(err_path) or proc.poll() is not None, 10,
                 "the first signal to be seen")
        assert proc.poll() is None, "the grace of 60 s ended early: " + read_text(err_path)
        asked = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        assert time.monotonic() - asked < 5
    finally:
        http.stop()
    assert proc.returncode == 130, read_text(err_path)
    assert len(csv_rows_whole(results)) >= 50
    assert not os.path.exists(report)  # no report asked to quit at once, and no torn one
    assert not [f for f in os.listdir(d) if f.startswith(".")], os.listdir(d)
    # io still holds slow fetches; it is killed at exit rather than drained.


def test_json_to_stdout_and_the_table_to_stderr():
    p = subprocess.run([CLIENT, *connect, "--count", "50", "--json", "-"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["ok"] == 50 and rep["interrupted"] is False, rep
    assert "echo end-to-end" in p.stderr
    assert not os.path.exists("-")


# --- Fail fast, and say why ------------------------------------------------------------

def test_bad_ports_and_endpoints_exit_2_naming_them():
    for bad in ("tcp://127.0.0.1:99999", "tcp://127.0.0.1:0", "tcp://127.0.0.1:65536",
                "tcp://127.0.0.1", "127.0.0.1:8004", "udp://127.0.0.1:8004",
                "tcp://127.0.0.1:1-70000"):
        code, _, err, _ = run_client("--connect", bad, "--count", "1", json_out=False)
        assert code == 2 and bad in err, (bad, code, err)
        assert len(err.strip().splitlines()) == 1, err
    listed = os.path.join(tmpdir(), "endpoints.txt")
    with open(listed, "w") as f:
        f.write(f"# ours\n{server.endpoint}\ntcp://127.0.0.1:123456\n")
    code, _, err, _ = run_client("--endpoints-file", listed, "--count", "1", json_out=False)
    assert code == 2 and "endpoints.txt:3:" in err and "123456" in err, err


def test_nothing_listening_exits_at_once_naming_endpoint_and_reason():
    dead = f"tcp://127.0.0.1:{free_port()}"
    began = time.monotonic()
    code, out, err, rep = run_client("--connect", dead, "--count", "20", "--connect-wait-ms",
                                     "1000", timeout_s=30)
    took = time.monotonic() - began
    assert code == 1, (code, err)
    assert took < 2.0, took  # connect-wait + 1 s at most, not a 30 s timeout
    assert dead in err and "connection refused" in err and "no endpoint is up" in err, err
    assert rep["endpoints"][dead]["connected"] is False, rep["endpoints"]
    assert "connection refused" in rep["endpoints"][dead]["problem"], rep["endpoints"]
    assert rep["ok"] == 0 and rep["timeouts"] == 20, rep
    # --wait-anyway keeps the old behaviour: it starts, and the requests time out.
    code, _, err, rep = run_client("--connect", dead, "--count", "3", "--connect-wait-ms", "200",
                                   "--timeout-ms", "300", "--wait-anyway", timeout_s=30)
    assert code == 1 and "starting without" in err and rep["timeouts"] == 3, err


def test_unknown_host_reads_as_a_host_name_error():
    began = time.monotonic()
    code, _, err, rep = run_client("--connect", "tcp://nohost.invalid:8004", "--count", "5",
                                   "--connect-wait-ms", "5000", timeout_s=60)
    assert code == 1, err
    assert "cannot resolve host name 'nohost.invalid'" in err, err
    assert time.monotonic() - began < 4.0  # no wait for what can't come up


def test_missing_endpoints_are_named_and_duplicates_connected_once():
    dead = f"tcp://127.0.0.1:{free_port()}"
    code, _, err, rep = run_client(*connect, "--connect", dead, "--count", "100",
                                   "--connect-wait-ms", "300", timeout_s=30)
    assert code == 0, err
    assert "1 of 2 endpoints connected" in err and dead in err and "refused" in err, err
    assert rep["endpoints"][server.endpoint]["sent"] == 100, rep["endpoints"]
    began = time.monotonic()
    code, _, err, rep = run_client(*connect, *connect, "--count", "100",
                                   "--connect-wait-ms", "5000", timeout_s=30)
    assert code == 0, err
    assert "more than once" in err and list(rep["endpoints"]) == [server.endpoint], (err, rep)
    assert time.monotonic() - began < 4.0  # no wait for a second handshake


def test_descriptors_short_are_named_and_the_soft_limit_raised():
    """A DEALER per endpoint takes 4 descriptors: too many endpoints for the hard limit exit 2
    before any connect, saying how many are needed; a soft limit below it is raised."""
    dead = [f"tcp://127.0.0.1:{free_port()}" for _ in range(19)]
    args = [CLIENT, *connect, *[a for ep in dead for a in ("--connect", ep)], "--count", "50",
            "--connect-wait-ms", "300", "-q"]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def limit(soft, hard):
        return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    p = subprocess.run(args, capture_output=True, text=True, timeout=30, preexec_fn=limit(80, 80))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "20 endpoints need about 144 file descriptors" in p.stderr, p.stderr
    assert "hard limit 80" in p.stderr, p.stderr
    assert hard == resource.RLIM_INFINITY or hard >= 200, hard
    p = subprocess.run(args, capture_output=True, text=True, timeout=30, preexec_fn=limit(80, hard))
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert "1 of 20 endpoints connected" in p.stderr, p.stderr


def test_curve_refusal_is_named():
    keygen = os.path.join(BIN_DIR, "zlb-keygen")
    keys = tmpdir()
    allow = os.path.join(keys, "allow")
    os.mkdir(allow)
    for name in ("server", "listed", "stranger"):
        subprocess.run([keygen, os.path.join(keys, name)], check=True, capture_output=True,
                       timeout=10)
    shutil.copy(os.path.join(keys, "listed.pub"), allow)
    curve = Server("--curve-secret", os.path.join(keys, "server.key"), "--curve-allow", allow)
    args = ["--connect", curve.endpoint, "--curve-server-key", os.path.join(keys, "server.pub"),
            "--count", "10", "--connect-wait-ms", "1000"]
    code, _, err, rep = run_client(*args, "--curve-secret", os.path.join(keys, "stranger.key"),
                                   timeout_s=30)
    assert code == 1, err
    assert "CURVE authentication refused" in err and curve.endpoint in err, err
    assert "CURVE" in rep["endpoints"][curve.endpoint]["problem"], rep["endpoints"]
    code, _, err, rep = run_client(*args, "--curve-secret", os.path.join(keys, "listed.key"),
                                   timeout_s=30)
    assert code == 0 and rep["ok"] == 10, err
    # A client without CURVE is told the server may require it.
    code, _, err, _ = run_client("--connect", curve.endpoint, "--count", "1", "--connect-wait-ms",
                                 "1000", timeout_s=30)
    assert code == 1 and "requires CURVE" in err, err
    curve.stop()


# --- Show what went wrong --------------------------------------------------------------

def test_http_statuses_and_error_messages_in_json_table_and_results():
    http = HttpTarget()
    io = Server("--mode", "io")
    d = tmpdir()
    urls = os.path.join(d, "urls.txt")
    refused = f"http://127.0.0.1:{free_port()}/nothing"
    with open(urls, "w") as f:
        f.write("# statuses\n")
        for code in (200, 200, 200, 404, 404, 500):
            f.write(f"{http.base}/status/{code}\n")
        f.write(f"{refused}\n")
    results, output = os.path.join(d, "r.csv"), os.path.join(d, "r.jsonl")
    code, out, err, rep = run_client("--connect", io.endpoint, "--op", "fetch", "--input", urls,
                                     "--results", results, "--output", output,
                                     "--fetch-timeout-ms", "5000", timeout_s=60)
    http.stop()
    assert code == 1, err  # the refused fetch failed
    assert rep["http_status"] == {"200": 3, "404": 2, "500": 1}, rep["http_status"]
    assert rep["errors"] == {"fetch_failed": 1}, rep["errors"]
    messages = rep["error_messages"]["fetch_failed"]["messages"]
    assert len(messages) == 1 and messages[0]["count"] == 1 and messages[0]["message"], messages
    assert "http status: 200: 3, 404: 2, 500: 1" in out, out
    assert messages[0]["message"] in out, out
    rows = csv_rows_whole(results)
    failed = [r for r in rows if r["ok"] == "0"]
    assert len(failed) == 1 and failed[0]["item"] == refused, failed
    assert failed[0]["input_line"] == "8" and failed[0]["message"] == messages[0]["message"]
    assert sorted(r["http_status"] for r in rows if r["ok"] == "1") == ["200"] * 3 + ["404"] * 2 + ["500"]
    lines = [json.loads(x) for x in read_text(output).splitlines()]
    assert len(lines) == 7
    assert {x["status"] for x in lines if x["ok"]} == {200, 404, 500}
    assert all(x["bytes"] > 0 for x in lines if x["ok"])
    io.stop()


def test_factor_batches_report_numbers_and_print_results():
    cpu = Server("--mode", "cpu", "--threads", "1")
    report = os.path.join(tmpdir(), "r.json")
    p = subprocess.run([CLIENT, "--connect", cpu.endpoint, "--op", "factor", "--random", "64",
                        "--bits", "40", "--batch", "8", "--print", "--json", report],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rep = json.load(open(report))
    assert rep["requests"] == 8 and rep["numbers"] == 64, rep
    assert rep["numbers_per_s"] > rep["throughput_rps"] * 7, rep
    assert "64 numbers" in p.stderr and "numbers/s" in p.stderr, p.stderr
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert len(lines) == 8 and sum(len(x["numbers"]) for x in lines) == 64
    for x in lines:
        for item in x["numbers"]:
            product = 1
            for f in item["factors"]:
                product *= int(f)
            assert product == int(item["n"]), item
    cpu.stop()


# --- Speak the conventions -------------------------------------------------------------

def test_slo_failure_exits_3_and_shows_in_the_report():
    code, out, err, rep = run_client(*connect, "--count", "200", "--slo", "p99<10s",
                                     "--slo", "error_rate<1%")
    assert code == 0 and rep["slo_ok"] is True, (out, err)
    code, out, err, rep = run_client(*connect, "--count", "200", "--slo", "p50<1us",
                                     "--slo", "max<10s")
    assert code == 3, (code, out, err)
    assert rep["slo_ok"] is False
    assert [(s["slo"], s["ok"]) for s in rep["slo"]] == [("p50<1us", False), ("max<10s", True)]
    assert "p50<1us FAILED" in out and "max<10s ok" in out, out
    code, _, err, _ = run_client(*connect, "--count", "1", "--slo", "p97<5ms", json_out=False)
    assert code == 2 and "p97" in err, err


def test_durations_rate_zero_version_help_and_refused_flags():
    _, _, _, rep = run_client(*connect, "--duration", "500ms", "--window", "4", check=0)
    assert 0.4 <= rep["elapsed_s"] <= 3 and rep["requests"] > 0, rep
    _, _, _, rep = run_client(*connect, "--rate", "0", "--count", "50", check=0)
    assert rep["mode"] == "closed" and rep["ok"] == 50, rep
    code, _, err, _ = run_client(*connect, "--rate", "-5", "--count", "1", json_out=False)
    assert code == 2 and "--rate" in err and len(err) < 200, err
    code, _, err, _ = run_client(*connect, "--duration", "ten", json_out=False)
    assert code == 2 and "--duration" in err and "30s" in err, err
    code, out, _, _ = run_client("--version", json_out=False)
    assert code == 0 and out.strip() == "zlb-client 0.1.0", out
    code, out, _, _ = run_client("--help", json_out=False)
    assert code == 0 and "Examples:" in out and out.rstrip().splitlines()[-1].strip(), out
    numbers = os.path.join(tmpdir(), "n.txt")
    with open(numbers, "w") as f:
        f.write("12\n")
    for args, word in (((*connect, "--batch", "4", "--count", "10"), "--batch"),
                       ((*connect, "--count", "10", "--input", numbers), "--count"),
                       ((*connect, "--op", "factor", "--input", numbers, "--random", "4"), "--random"),
                       ((*connect, "--head", "--count", "3"), "--head"),
                       ((*connect, "--count", "3", "--duration", "1", "--repeat", "2"), "--repeat")):
        code, _, err, _ = run_client(*args, json_out=False)
        assert code == 2 and word in err, (args, err)


def test_echo_hash_lines_are_payloads_and_input_errors_give_the_line():
    d = tmpdir()
    payloads = os.path.join(d, "payloads.txt")
    with open(payloads, "w") as f:
        f.write("# sent as is\nplain\n  #indented too\n\nlast\n")
    results = os.path.join(d, "r.csv")
    _, _, _, rep = run_client(*connect, "--input", payloads, "--results", results, check=0)
    assert rep["requests"] == 4 and rep["ok"] == 4, rep  # the blank line is the only one left out
    assert sorted(r["input_line"] for r in csv_rows_whole(results)) == ["1", "2", "3", "5"]
    numbers = os.path.join(d, "numbers.txt")
    with open(numbers, "w") as f:
        f.write("# numbers\n12\n\nseven\n")
    code, _, err, _ = run_client(*connect, "--op", "factor", "--input", numbers, json_out=False)
    assert code == 2 and "numbers.txt:4:" in err and "seven" in err, err


def test_summary_line_counts_measured_requests_over_measured_time():
    _, out, _, rep = run_client(*connect, "--rate", "200", "--duration", "2", "--warmup", "1",
                                "-q", check=0)
    first = out.splitlines()[0]
    assert f"{rep['requests']} requests" in first and "measured" in first, first
    assert abs(rep["measured_s"] - (rep["elapsed_s"] - 1)) < 0.01, rep
    assert "latency (ms)" in out, out


def test_live_view_fits_60_columns():
    tmux = shutil.which("tmux")
    if not tmux:
        # scripts/setup.sh installs tmux; only a hand-made environment lacks it.
        print("SKIP test_live_view_fits_60_columns: tmux missing (apt-get install tmux)")
        return
    d = tmpdir()
    sock = f"zlb-test-{os.getpid()}"
    done = os.path.join(d, "done")
    command = (f"{CLIENT} --connect {server.endpoint} --rate 2000 --duration 3 --interval 1 "
               f"> {d}/table.txt; echo $? > {done}; sleep 60")
    base = [tmux, "-L", sock, "-f", "/dev/null"]
    subprocess.run([*base, "new-session", "-d", "-x", "60", "-y", "30", "sh", "-c", command],
                   check=True, timeout=10, env={**os.environ, "TERM": "xterm"})
    try:
        wait_for(lambda: os.path.exists(done) and read_text(done).strip(), 30, "the client run")
        pane = subprocess.run([*base, "capture-pane", "-p", "-t", "0"], capture_output=True,
                              text=True, timeout=10, check=True).stdout
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, timeout=10)
    assert read_text(done).strip() == "0", pane
    lines = [line for line in pane.splitlines() if line.strip()]
    assert all(len(line) <= 60 for line in lines), lines
    views = [line for line in lines if "req/s" in line and "/6000" in line]
    # One live line, redrawn in place: a line that wrapped would leave one per refresh.
    assert len(views) == 1, pane
    assert "6000/6000" in views[0] and "p99" in views[0] and " ms" in views[0], views
    # The interval lines, compact on a narrow terminal, do not wrap either: every line
    # on the screen is the live view or one whole interval line.
    intervals = [line for line in lines if "req/s" in line and "/6000" not in line]
    assert 3 <= len(intervals) <= 4 and len(lines) == len(intervals) + 1, pane
    assert all(" ms " in line and line.split()[1] == "s" for line in intervals), intervals


if __name__ == "__main__":
    main([test_sigint_keeps_every_report, test_second_sigint_quits_at_once_with_whole_rows,
          test_json_to_stdout_and_the_table_to_stderr,
          test_bad_ports_and_endpoints_exit_2_naming_them,
          test_nothing_listening_exits_at_once_naming_endpoint_and_reason,
          test_unknown_host_reads_as_a_host_name_error,
          test_missing_endpoints_are_named_and_duplicates_connected_once,
          test_descriptors_short_are_named_and_the_soft_limit_raised,
          test_curve_refusal_is_named,
          test_http_statuses_and_error_messages_in_json_table_and_results,
          test_factor_batches_report_numbers_and_print_results,
          test_slo_failure_exits_3_and_shows_in_the_report,
          test_durations_rate_zero_version_help_and_refused_flags,
          test_echo_hash_lines_are_payloads_and_input_errors_give_the_line,
          test_summary_line_counts_measured_requests_over_measured_time,
          test_live_view_fits_60_columns])
