"""CurveZMQ: listed keys get served, unlisted keys and plain clients get nothing, and
the allow directory is re-read for key rotation without a restart."""
import os
import stat
import subprocess

import msgpack
import zmq

from zlbtest import BIN_DIR, Server, main, run_client, tmpdir

KEYGEN = os.path.join(BIN_DIR, "zlb-keygen")
keys = tmpdir()
allow = os.path.join(keys, "allow")
os.mkdir(allow)


def keygen(name):
    prefix = os.path.join(keys, name)
    subprocess.run([KEYGEN, prefix], check=True, capture_output=True, timeout=10)
    return prefix + ".key", prefix + ".pub"


server_key, server_pub = keygen("server")
good_key, good_pub = keygen("good")
bad_key, _ = keygen("stranger")
os.link(good_pub, os.path.join(allow, "good.pub"))
server = Server("--curve-secret", server_key, "--curve-allow", allow)


def curve_client(key, *extra, check):
    return run_client("--connect", server.endpoint, "--curve-server-key", server_pub,
                      "--curve-secret", key, "--count", "200", *extra, check=check)


def test_keygen_files():
    assert stat.S_IMODE(os.stat(good_key).st_mode) == 0o600
    text = open(good_key).read()
    assert "public = " in text and "secret = " in text
    assert "secret" not in open(good_pub).read()
    again = subprocess.run([KEYGEN, good_key[:-4]], capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr


def test_listed_key_is_served():
    _, _, _, rep = curve_client(good_key, check=0)
    assert rep["ok"] == 200, rep


def test_unlisted_key_gets_no_service():
    _, _, _, rep = curve_client(bad_key, "--timeout-ms", "500", "--connect-wait-ms", "300",
                                "--retries", "0", check=1)
    assert rep["ok"] == 0 and rep["timeouts"] == 200, rep
    assert "ZAP: refused" in server.log_text()


def test_plain_client_cannot_talk():
    _, _, _, rep = run_client("--connect", server.endpoint, "--count", "20", "--timeout-ms", "500",
                              "--connect-wait-ms", "300", "--retries", "0", check=1)
    assert rep["ok"] == 0, rep
    # A raw pyzmq DEALER without CURVE gets no reply either.
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(server.endpoint)
    s.send_multipart([b"", msgpack.packb({"v": 1, "id": 1, "op": "echo", "data": b"x"})])
    assert not s.poll(500), "a plain client got a reply from a CURVE server"


def test_key_rotation_without_restart():
    new_key, new_pub = keygen("rotated")
    os.link(new_pub, os.path.join(allow, "rotated.pub"))
    _, _, _, rep = curve_client(new_key, check=0)
    assert rep["ok"] == 200, rep
    os.unlink(os.path.join(allow, "good.pub"))
    _, _, _, rep = curve_client(good_key, "--timeout-ms", "500", "--connect-wait-ms", "300",
                                "--retries", "0", check=1)
    assert rep["ok"] == 0, rep


def test_curve_flags_must_come_together():
    p = subprocess.run([os.path.join(BIN_DIR, "zlb-server"), "--bind", "tcp://127.0.0.1:1",
                        "--curve-secret", server_key], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "--curve-allow" in p.stderr, p.stderr
    code, _, err, _ = run_client("--connect", server.endpoint, "--curve-secret", good_key,
                                 "--count", "1", json_out=False)
    assert code == 2 and "curve" in err.lower(), err


if __name__ == "__main__":
    main([test_keygen_files, test_listed_key_is_served, test_unlisted_key_gets_no_service,
          test_plain_client_cannot_talk, test_key_rotation_without_restart,
          test_curve_flags_must_come_together])
