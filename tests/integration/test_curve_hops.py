"""CURVE on every hop: a CURVE broker lets in only listed clients on its frontend and
listed workers on its backend (a worker key does not open the frontend, nor a client key
the backend); a CURVE server never serves plaintext, broker link included; a key
overwritten in place is revoked at once; zlb-keygen's secret file is never readable by
others, not even for an instant. Every attack is made on the real binaries, and the
attacked process then still serves a listed client.
"""
import os
import shutil
import subprocess
import threading

import msgpack
import zmq

from zlbtest import BIN_DIR, SERVER, Broker, Server, main, run_client, tmpdir, wait_for

KEYGEN = os.path.join(BIN_DIR, "zlb-keygen")
keys = tmpdir()
clients_dir = os.path.join(keys, "clients")
workers_dir = os.path.join(keys, "workers")
os.mkdir(clients_dir)
os.mkdir(workers_dir)


def keygen(name):
    prefix = os.path.join(keys, name)
    subprocess.run([KEYGEN, prefix], check=True, capture_output=True, timeout=10)
    return prefix + ".key", prefix + ".pub"


def key_field(path, name):
    for line in open(path):
        k, _, v = line.partition("=")
        if k.strip() == name:
            return v.strip()
    raise AssertionError(f"no {name} in {path}")


broker_key, broker_pub = keygen("broker")
client_key, client_pub = keygen("client")
worker_key, worker_pub = keygen("worker")
stranger_key, stranger_pub = keygen("stranger")
shutil.copy(client_pub, os.path.join(clients_dir, "client.pub"))
shutil.copy(worker_pub, os.path.join(workers_dir, "worker.pub"))

broker = Broker("--curve-secret", broker_key, "--curve-allow-clients", clients_dir,
                "--curve-allow-workers", workers_dir, "--queue-timeout-ms", "2000")
real = Server("--broker", broker.backend, "--broker-key", broker_pub, "--curve-secret",
              worker_key, "--mode", "cpu", "--threads", "1", name="real", bind=False)

REFUSED = ("--timeout-ms", "500", "--connect-wait-ms", "300", "--retries", "0")


def curve_status(secret_key, frontend=None, server_pub=None):
    """A broker's status over CURVE (by default the one above), as the holder of secret_key;
    None if no answer."""
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.curve_serverkey = key_field(server_pub or broker_pub, "public").encode()
    s.curve_publickey = key_field(secret_key, "public").encode()
    s.curve_secretkey = key_field(secret_key, "secret").encode()
    s.connect(frontend or broker.frontend)
    s.send_multipart([b"", msgpack.packb({"v": 1, "id": 1, "op": "status"})])
    try:
        if not s.poll(2000):
            return None
        return msgpack.unpackb(s.recv_multipart()[-1], raw=False)
    finally:
        s.close()


def worker_names():
    return sorted(w["name"] for w in curve_status(client_key)["workers"])


def listed_client(count=1000, *extra):
    return run_client("--connect", broker.frontend, "--curve-server-key", broker_pub,
                      "--curve-secret", client_key, "--count", str(count), *extra, check=0)


def test_listed_client_and_worker_are_served():
    wait_for(lambda: curve_status(client_key) and worker_names() == ["real"], 10,
             "the listed worker to register")
    _, _, _, rep = listed_client(1000)
    assert rep["ok"] == 1000, rep


def test_frontend_refuses_plain_unlisted_and_worker_keys():
    _, _, _, rep = run_client("--connect", broker.frontend, "--count", "20", *REFUSED, check=1)
    assert rep["ok"] == 0, rep
    for key in (stranger_key, worker_key):
        _, _, _, rep = run_client("--connect", broker.frontend, "--curve-server-key", broker_pub,
                                  "--curve-secret", key, "--count", "20", *REFUSED, check=1)
        assert rep["ok"] == 0, (key, rep)
    assert curve_status(worker_key) is None, "a worker key opened the frontend"
    assert "ZAP: refused" in broker.log_text()
    _, _, _, rep = listed_client(100)
    assert rep["ok"] == 100


def test_backend_refuses_plain_unlisted_and_client_keys():
    intruders = [
        Server("--broker", broker.backend, name="plain", bind=False),
        Server("--broker", broker.backend, "--broker-key", broker_pub, "--curve-secret",
               stranger_key, name="stranger", bind=False),
        Server("--broker", broker.backend, "--broker-key", broker_pub, "--curve-secret",
               client_key, name="client-key", bind=False),
    ]
    # Give the intruders time to try: their READY would arrive within a heartbeat or two.
    wait_for(lambda: broker.log_text().count("domain zlb-workers") >= 2, 10,
             "the broker to refuse the worker handshakes")
    _, _, _, rep = listed_client(500)
    assert rep["ok"] == 500, rep
    assert list(rep["servers"].keys()) == ["real"], rep["servers"]
    assert worker_names() == ["real"]
    for s in intruders:
        s.stop()


def test_a_refused_worker_keeps_retrying_and_stops_on_sigterm():
    # libzmq leaves a DEALER with no pipe once its handshake is refused, so a blocking
    # send of READY then would hang the server for good (seen in CI under ASan, where
    # the refusal can beat the send). The link must keep trying on new sockets and stay
    # in its loop, where SIGTERM is heard.
    before = broker.log_text().count("domain zlb-workers")
    s = Server("--broker", broker.backend, "--broker-key", broker_pub, "--curve-secret",
               stranger_key, "--heartbeat-ms", "100", name="retrying", bind=False)
    wait_for(lambda: broker.log_text().count("domain zlb-workers") >= before + 3, 20,
             "the refused worker to try again on new links")
    assert s.proc.poll() is None, s.log_text()
    assert "silent for 3 heartbeats; reconnecting" in s.log_text(), s.log_text()
    assert s.stop(timeout_s=10) == 0, s.log_text()
    assert worker_names() == ["real"]


def test_curve_server_refuses_a_plain_broker_link():
    allow = tmpdir()
    p = subprocess.run([SERVER, "--bind", "tcp://127.0.0.1:*", "--broker", broker.backend,
                        "--curve-secret", worker_key, "--curve-allow", allow],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1, p
    assert "--broker-key" in p.stderr, p.stderr
    p = subprocess.run([SERVER, "--broker", broker.backend, "--broker-key", broker_pub],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1 and "--curve-secret" in p.stderr, p.stderr


def test_curve_worker_never_serves_a_plain_broker():
    plain = Broker("--queue-timeout-ms", "300")
    worker = Server("--broker", plain.backend, "--broker-key", broker_pub, "--curve-secret",
                    worker_key, "--mode", "cpu", name="curve-worker", bind=False)
    code, _, _, rep = run_client("--connect", plain.frontend, "--count", "20", "--retries", "0",
                                 "--timeout-ms", "2000")
    assert code == 1 and rep["ok"] == 0, rep
    assert plain.status()["workers"] == []
    worker.stop()
    plain.stop()


def test_a_key_overwritten_in_place_is_revoked():
    alice_key, alice_pub = keygen("alice")
    bob_key, bob_pub = keygen("bob")
    listed = os.path.join(clients_dir, "alice.pub")
    shutil.copy(alice_pub, listed)
    run_client("--connect", broker.frontend, "--curve-server-key", broker_pub,
               "--curve-secret", alice_key, "--count", "50", check=0)
    inode = os.stat(listed).st_ino
    with open(bob_pub, "rb") as src, open(listed, "r+b") as dst:  # same file, new content
        dst.write(src.read())
        dst.truncate()
    assert os.stat(listed).st_ino == inode
    _, _, _, rep = run_client("--connect", broker.frontend, "--curve-server-key", broker_pub,
                              "--curve-secret", alice_key, "--count", "20", *REFUSED, check=1)
    assert rep["ok"] == 0, rep
    run_client("--connect", broker.frontend, "--curve-server-key", broker_pub,
               "--curve-secret", bob_key, "--count", "50", check=0)
    os.unlink(listed)

    # The same on a server's own allow directory.
    allow = tmpdir()
    server_key, server_pub = keygen("direct")
    shutil.copy(alice_pub, os.path.join(allow, "alice.pub"))
    server = Server("--curve-secret", server_key, "--curve-allow", allow)
    args = ("--connect", server.endpoint, "--curve-server-key", server_pub, "--count", "20")
    run_client(*args, "--curve-secret", alice_key, check=0)
    with open(bob_pub, "rb") as src, open(os.path.join(allow, "alice.pub"), "r+b") as dst:
        dst.write(src.read())
        dst.truncate()
    _, _, _, rep = run_client(*args, "--curve-secret", alice_key, *REFUSED, check=1)
    assert rep["ok"] == 0, rep
    run_client(*args, "--curve-secret", bob_key, check=0)
    server.stop()


def test_worker_of_two_brokers_with_their_own_keys():
    """One --broker-key per --broker, in order: the worker joins both over CURVE. A key count
    that matches neither one-for-all nor one-per-broker is refused at startup."""
    other_key, other_pub = keygen("other-broker")
    other = Broker("--curve-secret", other_key, "--curve-allow-clients", clients_dir,
                   "--curve-allow-workers", workers_dir)
    both = Server("--broker", broker.backend, "--broker", other.backend, "--broker-key", broker_pub,
                  "--broker-key", other_pub, "--curve-secret", worker_key, "--mode", "cpu",
                  "--threads", "2", name="both", bind=False)
    wait_for(lambda: "both" in worker_names(), 10, "the worker at the first broker")
    wait_for(lambda: (st := curve_status(client_key, other.frontend, other_pub))
             and [w["name"] for w in st["workers"]] == ["both"], 10, "the worker at the second broker")
    bad = subprocess.run([SERVER, "--broker", broker.backend, "--broker", other.backend,
                          "--broker", broker.backend, "--broker-key", broker_pub, "--broker-key",
                          other_pub, "--curve-secret", worker_key], capture_output=True, text=True,
                         timeout=10)
    assert bad.returncode == 1 and "one --broker-key for every broker" in bad.stderr, bad.stderr
    both.stop()
    other.stop()


def test_keygen_secret_is_never_readable_by_others():
    prefix = os.path.join(tmpdir(), "race")
    seen = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            try:
                seen.append(os.stat(prefix + ".key").st_mode & 0o777)
            except FileNotFoundError:
                pass

    t = threading.Thread(target=watch)
    t.start()
    old = os.umask(0)  # even with a permissive umask
    try:
        for _ in range(100):
            subprocess.run([KEYGEN, "--force", prefix], check=True, capture_output=True, timeout=10)
    finally:
        os.umask(old)
        done.set()
        t.join()
    assert seen, "the watcher never saw the file"
    assert set(seen) == {0o600}, f"modes seen: {sorted(set(oct(m) for m in seen))}"


if __name__ == "__main__":
    main([test_listed_client_and_worker_are_served,
          test_frontend_refuses_plain_unlisted_and_worker_keys,
          test_backend_refuses_plain_unlisted_and_client_keys,
          test_a_refused_worker_keeps_retrying_and_stops_on_sigterm,
          test_curve_server_refuses_a_plain_broker_link,
          test_curve_worker_never_serves_a_plain_broker,
          test_a_key_overwritten_in_place_is_revoked,
          test_worker_of_two_brokers_with_their_own_keys,
          test_keygen_secret_is_never_readable_by_others])
