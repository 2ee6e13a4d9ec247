"""--metrics refuses what it cannot serve at startup, with one clear line and an exit code:
2 for an address that is not one (checked before anything binds, like every endpoint), 1 when
the address is well-formed but cannot be listened on (the port is taken). Nothing is left
running in either case."""
import socket
import subprocess

from zlbtest import BROKER, SERVER, free_port, main

BAD = ["99999", "0", "abc", "127.0.0.1", "127.0.0.1:", ":9100", "127.0.0.1:99999",
       "127.0.0.1:0x10", "localhost:9100", "1.2.3.4.5:80", "[::1:9100", "[nonsense]:9100",
       "tcp://127.0.0.1:9100", ""]


def commands(metrics):
    return ([SERVER, "--bind", "tcp://127.0.0.1:*", "--metrics", metrics],
            [BROKER, "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*",
             "--metrics", metrics])


def test_bad_addresses_exit_2():
    for text in BAD:
        for cmd in commands(text):
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            assert p.returncode == 2, (cmd, p.returncode, p.stderr)
            lines = p.stderr.strip().splitlines()
            assert len(lines) == 1, (cmd, p.stderr)
            assert f"bad --metrics address '{text}'" in lines[0], (cmd, lines)


def test_port_taken_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        for address in (str(port), f"127.0.0.1:{port}"):
            for cmd in commands(address):
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
                assert p.returncode == 1, (cmd, p.returncode, p.stderr)
                assert f"cannot serve metrics on 127.0.0.1:{port} (--metrics)" in p.stderr, p.stderr
                assert "listening on" not in p.stderr, "it bound its sockets before failing"


def test_help_explains():
    for binary in (SERVER, BROKER):
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
        assert "--metrics" in out and "/metrics" in out and "127.0.0.1" in out, out


if __name__ == "__main__":
    main([test_bad_addresses_exit_2, test_port_taken_exits_1, test_help_explains])
