"""Running out of descriptors is not fatal: a server limited to 64 descriptors, flooded by
100 connections, loses its broker (restarted) and cannot open a new link to it. It must
not exit: it keeps serving, retries, and rejoins the broker once descriptors free up.
"""
import re
import resource
import socket
import subprocess
import time

from zlbtest import SERVER, Broker, main, run_client, tmpdir, wait_for, _procs

FD_LIMIT = 64


def start_limited_server(broker):
    log_path = f"{tmpdir()}/server.log"
    log = open(log_path, "wb")

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))

    proc = subprocess.Popen([SERVER, "--bind", "tcp://127.0.0.1:*", "--broker", broker.backend,
                             "--heartbeat-ms", "200", "--mode", "cpu", "--threads", "1",
                             "--name", "limited"], stdout=log, stderr=log, preexec_fn=limit)
    _procs.append(proc)

    def text():
        return open(log_path, "rb").read().decode(errors="replace")

    m = wait_for(lambda: re.search(r"listening on (tcp://\S+)", text()), 10, "the server to bind")
    return proc, m.group(1), text


def test_descriptor_exhaustion_is_survived():
    broker = Broker()
    proc, endpoint, log_text = start_limited_server(broker)
    wait_for(lambda: broker.status()["workers"], 10, "the server to join the broker")
    port = int(endpoint.rsplit(":", 1)[1])

    flood = []
    for _ in range(100):  # far more than the server has descriptors for
        try:
            flood.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            break
    # The broker goes away and comes back: the server's link must be made anew.
    front, back = broker.frontend, broker.backend
    broker.proc.kill()
    broker.proc.wait()
    broker = Broker(frontend_port=int(front.rsplit(":", 1)[1]),
                    backend_port=int(back.rsplit(":", 1)[1]))
    wait_for(lambda: "cannot open a new link" in log_text() or proc.poll() is not None, 30,
             "the server to run out of descriptors for its new link")
    assert proc.poll() is None, f"the server exited {proc.returncode}:\n{log_text()[-2000:]}"

    for s in flood:
        s.close()
    wait_for(lambda: "open again" in log_text() and broker.status()["workers"], 30,
             "the server to rejoin the broker")
    assert proc.poll() is None
    _, _, _, rep = run_client("--connect", broker.frontend, "--count", "200", check=0)
    assert rep["ok"] == 200, rep
    _, _, _, rep = run_client("--connect", endpoint, "--count", "200", check=0)
    assert rep["ok"] == 200, rep
    proc.terminate()
    assert proc.wait(timeout=30) == 0, log_text()[-2000:]
    broker.stop()


if __name__ == "__main__":
    main([test_descriptor_exhaustion_is_survived])
