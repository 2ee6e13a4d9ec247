"""Three servers and the real client: spreading, verified results, fetch runs, reports,
exit codes, and a stopped server that must not hang the client."""
import csv
import json
import os
import signal
import subprocess

from zlbtest import (CLIENT, HttpTarget, Server, free_port, free_range, main, run_client, tmpdir,
                     wait_for)

servers = [Server("--threads", "1") for _ in range(3)]
endpoints = [s.endpoint for s in servers]
connect = [arg for ep in endpoints for arg in ("--connect", ep)]


def test_echo_spreads_evenly():
    code, out, _, rep = run_client(*connect, "--op", "echo", "--count", "3000", "--size", "64",
                                   "--window", "32", check=0)
    assert rep["requests"] == 3000 and rep["ok"] == 3000 and rep["failed"] == 0, rep
    counts = {name: s["count"] for name, s in rep["servers"].items()}
    assert sorted(counts) == sorted(s.name for s in servers), counts
    for name, n in counts.items():
        assert abs(n / 3000 - 1 / 3) <= 0.05, counts
    lat = rep["latency_us"]
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"], lat
    assert rep["throughput_rps"] > 0 and rep["elapsed_s"] > 0
    assert "echo end-to-end" in out and "p99.9" in out


def test_factor_results_are_verified():
    # The client checks every reply: product equals n and every factor is prime.
    _, out, _, rep = run_client(*connect, "--op", "factor", "--random", "2000", "--bits", "64",
                                "--semiprimes", "--batch", "4", "--window", "16", check=0)
    assert rep["ok"] == 500 and rep["errors"] == {}, rep
    assert len(rep["servers"]) == 3


def test_factor_input_file_and_results_csv():
    d = tmpdir()
    numbers = os.path.join(d, "numbers.txt")
    with open(numbers, "w") as f:
        f.write("# a comment\n12\n97\n18446744073709551615\n340282366920938463463374607431768211455\n")
    results = os.path.join(d, "results.csv")
    _, _, _, rep = run_client(*connect, "--op", "factor", "--input", numbers, "--repeat", "3",
                              "--results", results, check=0)
    assert rep["requests"] == 12 and rep["ok"] == 12, rep
    rows = list(csv.DictReader(open(results)))
    assert len(rows) == 12 and len({r["id"] for r in rows}) == 12
    assert {r["ok"] for r in rows} == {"1"} and all(int(r["latency_us"]) > 0 for r in rows)
    assert set(rows[0]) == {"id", "op", "server", "ok", "code", "latency_us", "service_us",
                            "attempts", "item", "input_line", "http_status", "message"}


def test_port_range_and_endpoints_file():
    base = free_range(2)
    ranged = [Server("--threads", "1", port=base + i) for i in range(2)]
    _, _, _, rep = run_client("--connect", f"tcp://127.0.0.1:{base}-{base + 1}", "--count", "200",
                              check=0)
    assert len(rep["servers"]) == 2, rep
    for s in ranged:
        s.stop()
    path = os.path.join(tmpdir(), "endpoints.txt")
    with open(path, "w") as f:
        f.write("# servers\n" + "\n".join(endpoints) + "\n")
    _, _, _, rep = run_client("--endpoints-file", path, "--count", "300", check=0)
    assert len(rep["servers"]) == 3, rep


def test_fetch_workload_and_save_dir():
    http = HttpTarget()
    d = tmpdir()
    urls = os.path.join(d, "urls.txt")
    with open(urls, "w") as f:
        for i in range(20):
            f.write(f"{http.base}/delay/0.2/word{i}\n")
        f.write(f"{http.base}/status/404\n")
    save = os.path.join(d, "bodies")
    _, out, _, rep = run_client(*connect, "--op", "fetch", "--input", urls, "--window", "32",
                                "--save-dir", save, check=0)
    assert rep["ok"] == 21, rep
    files = os.listdir(save)
    assert len(files) == 21, files
    assert all("/" not in f and not f.startswith(".") for f in files)
    bodies = {open(os.path.join(save, f), "rb").read().strip() for f in files}
    assert b"word7" in bodies
    # timeout_ms shorter than the delay: the server answers timeout, the client reports it.
    with open(urls, "w") as f:
        f.write(f"{http.base}/delay/2/slow\n")
    code, _, _, rep = run_client(*connect, "--op", "fetch", "--input", urls, "--fetch-timeout-ms",
                                 "200", check=1)
    assert rep["failed"] == 1 and rep["errors"] == {"timeout": 1}, rep
    http.stop()


def test_stopped_server_gives_timeouts_not_a_hang():
    """SIGSTOP mid-run with --retries 0: what was in flight there times out, the run
    still ends, prints its report and exits 1."""
    victim = Server("--threads", "1")
    results = os.path.join(tmpdir(), "results.csv")
    report = os.path.join(tmpdir(), "report.json")
    proc = subprocess.Popen([CLIENT, *connect, "--connect", victim.endpoint, "--count", "300000",
                             "--window", "8", "--timeout-ms", "500", "--retries", "0", "--results",
                             results, "--json", report, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: os.path.exists(results) and os.path.getsize(results) > 100_000, 60,
             "the run to get going")
    victim.signal(signal.SIGSTOP)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        victim.signal(signal.SIGCONT)
    rep = json.load(open(report))
    assert proc.returncode == 1, out + err
    assert rep["timeouts"] > 0 and rep["ok"] + rep["timeouts"] + rep["failed"] == 300000, rep
    assert "timeouts" in out and "p99.9" in out
    victim.stop()


def test_server_stopped_before_the_run_gets_nothing():
    """A server that never completes its handshake is never sent work."""
    victim = Server("--threads", "1")
    victim.signal(signal.SIGSTOP)
    try:
        _, _, _, rep = run_client(*connect, "--connect", victim.endpoint, "--count", "400",
                                  "--connect-wait-ms", "500", check=0)
    finally:
        victim.signal(signal.SIGCONT)
    assert rep["endpoints"][victim.endpoint]["sent"] == 0, rep
    victim.stop()


def test_overloaded_is_retried_elsewhere():
    tiny = Server("--mode", "cpu", "--threads", "1", "--cpu-queue", "1")
    roomy = Server("--mode", "cpu", "--threads", "2")
    _, _, _, rep = run_client("--connect", tiny.endpoint, "--connect", roomy.endpoint, "--op",
                              "factor", "--random", "3000", "--bits", "64", "--semiprimes",
                              "--window", "32", check=0)
    assert rep["ok"] == 3000 and rep["retried"] > 0, rep
    tiny.stop()
    roomy.stop()


def test_exit_codes_and_errors():
    code, _, err, _ = run_client("--bogus", json_out=False)
    assert code == 2 and err.strip(), err
    code, _, err, _ = run_client(*connect, "--op", "factor", "--input", "/nonexistent/file",
                                 json_out=False)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    code, _, err, _ = run_client("--connect", "tcp://127.0.0.1:9-5", "--count", "1", json_out=False)
    assert code == 2 and "range" in err, err
    code, out, _, _ = run_client("--help", json_out=False)
    assert code == 0 and "--window" in out
    bad = os.path.join(tmpdir(), "bad.txt")
    with open(bad, "w") as f:
        f.write("12\nnot-a-number\n")
    code, _, err, _ = run_client(*connect, "--op", "factor", "--input", bad, json_out=False)
    assert code == 2 and "not-a-number" in err, err


def test_64_endpoints():
    # One server bound to 64 ports stands in for 64 servers: the client holds 64
    # connections and spreads over all of them.
    base = free_range(64)
    binds = [arg for i in range(64) for arg in ("--bind", f"tcp://127.0.0.1:{base + i}")]
    wide = Server(*binds[2:], "--threads", "1", port=base)
    results = os.path.join(tmpdir(), "results.csv")
    _, _, _, rep = run_client("--connect", f"tcp://127.0.0.1:{base}-{base + 63}", "--count", "6400",
                              "--window", "128", "--results", results, check=0)
    assert rep["ok"] == 6400, rep
    sent = rep["endpoints"]
    assert len(sent) == 64 and all(v["sent"] == 100 for v in sent.values()), sent
    wide.stop()


def test_no_server_at_all_ends():
    code, out, _, rep = run_client("--connect", f"tcp://127.0.0.1:{free_port()}", "--count", "50",
                                   "--timeout-ms", "300", "--connect-wait-ms", "100", timeout_s=30,
                                   check=1)
    assert rep["timeouts"] == 50 and rep["ok"] == 0, rep


if __name__ == "__main__":
    main([test_echo_spreads_evenly, test_factor_results_are_verified,
          test_factor_input_file_and_results_csv, test_port_range_and_endpoints_file,
          test_fetch_workload_and_save_dir, test_stopped_server_gives_timeouts_not_a_hang,
          test_server_stopped_before_the_run_gets_nothing, test_overloaded_is_retried_elsewhere,
          test_exit_codes_and_errors, test_64_endpoints, test_no_server_at_all_ends])
