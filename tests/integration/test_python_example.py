"""examples/python_client.py against a real server: factor, fetch from the HTTP target,
echo, errors and exit codes, so the example stays true to the protocol."""
import os
import subprocess

from zlbtest import SOURCE_DIR, HttpTarget, Server, free_port, main

EXAMPLE = os.path.join(SOURCE_DIR, "examples", "python_client.py")
server = Server("--threads", "1")


def run(*args, timeout_s=30):
    p = subprocess.run(["/usr/bin/python3", EXAMPLE, *args], capture_output=True, text=True,
                       timeout=timeout_s)
    return p.returncode, p.stdout, p.stderr


def test_factor():
    big = str(2**128 - 1)
    code, out, err = run(server.endpoint, "factor", "8051", "1234567", "97", "1", big)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 5, out
    assert lines[0].startswith("8051 = 83 * 97  [" + server.name), lines[0]
    assert lines[1].startswith("1234567 = 127 * 9721  ["), lines[1]
    assert lines[2].startswith("97 = 97  ["), lines[2]
    assert lines[3].startswith("1 = 1  ["), lines[3]
    assert lines[4].startswith(f"{big} = 3 * 5 * 17 * 257 * 641 * 65537 * 274177 * 6700417 * "
                               "67280421310721  ["), lines[4]


def test_fetch_and_echo():
    http = HttpTarget()
    ok, missing = f"{http.base}/status/200", f"{http.base}/status/404"
    code, out, err = run(server.endpoint, "fetch", ok, missing)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{ok} -> 200, 11 bytes, text/plain"), out
    assert lines[1].startswith(f"{missing} -> 404, "), out
    code, out, _ = run(server.endpoint, "fetch", f"{http.base}/delay/0.01/hello", "--body")
    assert code == 0 and out.splitlines()[1] == "hello", out
    http.stop()
    code, out, _ = run(server.endpoint, "echo", "hi there")
    assert code == 0 and out.startswith("echo hi there  ["), out


def test_errors_and_exit_codes():
    cpu_only = Server("--mode", "cpu", "--threads", "1")
    code, out, _ = run(cpu_only.endpoint, "fetch", "http://127.0.0.1:1/")
    assert code == 1 and "error unsupported_op" in out, out
    cpu_only.stop()
    code, _, err = run(server.endpoint, "factor", "twelve")
    assert code == 2 and "factor takes numbers" in err, err
    code, out, _ = run(f"tcp://127.0.0.1:{free_port()}", "echo", "x", "--timeout-ms", "300")
    assert code == 1 and "no reply within 300 ms" in out, out


if __name__ == "__main__":
    main([test_factor, test_fetch_and_echo, test_errors_and_exit_codes])
