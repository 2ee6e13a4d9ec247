"""Wall-clock timing of zlb-client's reports (ctest label `timing`, which the sanitizer run
leaves out): an open loop holds its rate within 10 %, runs last their --duration, and the
throughput after a warm-up and in every --interval row is the rate asked for.
The logic of the same reports is tested in test_client_reports.py."""
from zlbtest import Server, main, run_client

server = Server("--threads", "1")
connect = ["--connect", server.endpoint]


def test_open_loop_keeps_the_rate():
    _, _, _, rep = run_client(*connect, "--rate", "400", "--duration", "3", "-q", check=0)
    assert rep["ok"] == 1200, rep
    assert abs(rep["throughput_rps"] - 400) <= 40, rep["throughput_rps"]
    assert 2.9 <= rep["elapsed_s"] <= 3.5, rep["elapsed_s"]
    assert rep["late_starts"] < 1200 * 0.05, rep["late_starts"]


def test_closed_loop_lasts_its_duration():
    _, _, _, rep = run_client(*connect, "--duration", "1.5", "--window", "8", check=0)
    assert 1.4 <= rep["elapsed_s"] <= 2.5, rep["elapsed_s"]


def test_throughput_is_measured_after_the_warmup():
    # Over the whole 3 s it would be 400 / 3 = 133 req/s; after the 1 s warm-up it is the rate.
    _, _, _, rep = run_client(*connect, "--rate", "200", "--duration", "3", "--warmup", "1",
                              "-q", check=0)
    assert abs(rep["throughput_rps"] - 200) <= 20, rep["throughput_rps"]


def test_every_interval_keeps_the_rate():
    _, _, _, rep = run_client(*connect, "--rate", "300", "--duration", "2.5", "--interval",
                              "0.5", "-q", check=0)
    assert len(rep["intervals"]) == 5, rep["intervals"]
    for r in rep["intervals"]:
        assert abs(r["rps"] - 300) <= 60, r


if __name__ == "__main__":
    main([test_open_loop_keeps_the_rate, test_closed_loop_lasts_its_duration,
          test_throughput_is_measured_after_the_warmup, test_every_interval_keeps_the_rate])
