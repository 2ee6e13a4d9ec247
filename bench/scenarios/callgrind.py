"""Instructions per request under callgrind: the stable figure beside the noisy wall-clock
ratios (a shared 2-core machine moves those by +-15 %; instruction counts move by well under 1 %).

Every process of a path (servers, broker or proxy, client) runs under
`valgrind --tool=callgrind`; the client sends a bounded number of echoes. Each path is run
twice, with N and 2N requests, and the instructions per request are the difference divided
by N: start-up and shutdown cancel out. Processes are stopped with SIGTERM, on which callgrind
still writes its totals.

    python3 bench/scenarios/callgrind.py BIN_DIR [N [PATHS]]   # prints the table, by hand
    ZLB_CALLGRIND_WINDOW=256 python3 bench/scenarios/callgrind.py build/bin 100000 zlb-broker

PATHS: a comma-separated subset of zlb-direct, bare-direct, bare-sized (the bare pair at
zlb's message sizes, 43 B requests and new 70 B replies), zlb-broker, bare-broker. The
window is 16 (the bench's rows) unless ZLB_CALLGRIND_WINDOW says otherwise; the README's
window-256 table is measured with it at 256.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

from common import (ZLB_REPLY_BYTES, ZLB_REQUEST_BYTES, Proc, free_port, log, run, wait_for,
                    wait_port)

WINDOW = int(os.environ.get("ZLB_CALLGRIND_WINDOW", "16"))


def available():
    return shutil.which("valgrind") is not None


def _vg(ctx, out):
    return ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
            "--dump-instr=no", "--collect-jumps=no"]


def _total_ir(path):
    """The summary line of one callgrind output file."""
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise RuntimeError(f"no totals in {path}")


def _round(ctx, tag, n, start, client):
    """start(out_prefix) -> [(role, Proc)], client(out_prefix, n) runs the client. Returns
    {role: Ir} summed over the processes of each role."""
    prefix = ctx.path(f"cg-{tag}-{n}")
    for f in glob.glob(prefix + "*"):
        os.unlink(f)
    procs = start(prefix)
    try:
        client(prefix, n)
    finally:
        for _, p in procs:
            p.stop(timeout_s=120)
    out = {}
    for f in glob.glob(prefix + ".*.out"):
        role = f[len(prefix) + 1:].split(".")[0]
        out[role] = out.get(role, 0) + _total_ir(f)
    return out


def per_request(ctx, tag, n, start, client):
    """{role: instructions per request} from rounds of n and 2n requests."""
    a = _round(ctx, tag, n, start, client)
    b = _round(ctx, tag, 2 * n, start, client)
    return {role: (b[role] - a.get(role, 0)) / n for role in b}


# ------------------------------------------------------------------ the four paths

def _zlb_server(ctx, prefix, i, *extra):
    port = free_port()
    p = Proc(ctx, [*_vg(ctx, f"{prefix}.server.{i}.out"), ctx.exe("zlb-server"), "--bind",
                   f"tcp://127.0.0.1:{port}", "--name", f"cg-{port}", "--log-level", "warn",
                   *extra], name="cg-server")
    p.endpoint = f"tcp://127.0.0.1:{port}"
    wait_port(p, port, timeout_s=60)
    return p


def _zlb_client(ctx, prefix, n, connect):
    run([*_vg(ctx, f"{prefix}.client.0.out"), ctx.exe("zlb-client"), *connect, "--op", "echo",
         "--size", 16, "--count", n, "--window", WINDOW, "-q", "--connect-wait-ms", 60000],
        timeout_s=900)


def _bare_client(ctx, prefix, n, connect, size=16):
    run([*_vg(ctx, f"{prefix}.client.0.out"), ctx.exe("zlb-bare-echo-client"), *connect,
         "--window", WINDOW, "--size", size, "--count", n, "--duration", 100000, "--warmup", 0],
        timeout_s=900)


def zlb_direct(ctx, n):
    state = {}

    def start(prefix):
        state["s"] = [_zlb_server(ctx, prefix, i) for i in range(2)]
        return [("server", s) for s in state["s"]]

    def client(prefix, n):
        _zlb_client(ctx, prefix, n, [a for s in state["s"] for a in ("--connect", s.endpoint)])
    return per_request(ctx, "zlb-direct", n, start, client)


def bare_direct(ctx, n, request_bytes=16, reply_bytes=None):
    """The bare pair; with reply_bytes, each server answers with a new message of that size
    (zlb-bare-echo-server's REPLY_BYTES) to requests of request_bytes."""
    state = {}
    extra = [str(reply_bytes)] if reply_bytes else []

    def start(prefix):
        out = []
        for i in range(2):
            port = free_port()
            p = Proc(ctx, [*_vg(ctx, f"{prefix}.server.{i}.out"), ctx.exe("zlb-bare-echo-server"),
                           f"tcp://127.0.0.1:{port}", *extra], ready="listening", name="cg-bare",
                     timeout_s=60)
            p.endpoint = f"tcp://127.0.0.1:{port}"
            wait_port(p, port, timeout_s=60)
            out.append(p)
        state["s"] = out
        return [("server", s) for s in out]

    def client(prefix, n):
        _bare_client(ctx, prefix, n, [a for s in state["s"] for a in ("--connect", s.endpoint)],
                     request_bytes)
    return per_request(ctx, "bare-sized" if reply_bytes else "bare-direct", n, start, client)


def bare_sized(ctx, n):
    """The bare pair at zlb's own echo sizes (common's ZLB_REQUEST_BYTES, ZLB_REPLY_BYTES)."""
    return bare_direct(ctx, n, ZLB_REQUEST_BYTES, ZLB_REPLY_BYTES)


def zlb_broker(ctx, n):
    state = {}

    def start(prefix):
        front, back = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        b = Proc(ctx, [*_vg(ctx, f"{prefix}.broker.0.out"), ctx.exe("zlb-broker"), "--frontend",
                       front, "--backend", back, "--stats-interval", 3600, "--log-level", "warn"],
                 ready=None, name="cg-broker")
        wait_port(b, int(front.rsplit(":", 1)[1]), timeout_s=60)
        ws = [_zlb_server(ctx, prefix, i, "--broker", back, "--credit", 256) for i in range(2)]

        def registered():
            st = subprocess.run([ctx.exe("zlb-broker"), "--status", front], capture_output=True,
                                text=True, timeout=30)
            return st.returncode == 0 and st.stdout.count('"name"') >= 2
        wait_for(registered, 120, "workers registered under callgrind")
        state["front"] = front
        return [("broker", b)] + [("server", w) for w in ws]

    def client(prefix, n):
        _zlb_client(ctx, prefix, n, ["--connect", state["front"]])
    return per_request(ctx, "zlb-broker", n, start, client)


def bare_broker(ctx, n):
    state = {}

    def start(prefix):
        front, back = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        b = Proc(ctx, [*_vg(ctx, f"{prefix}.broker.0.out"), ctx.exe("zlb-bare-proxy"), front,
                       back], ready="backend listening", name="cg-proxy", timeout_s=60)
        ws = [Proc(ctx, [*_vg(ctx, f"{prefix}.server.{i}.out"), ctx.exe("zlb-bare-worker"), back],
                   ready="connected", name="cg-bare-worker", timeout_s=60) for i in range(2)]
        state["front"] = front
        return [("broker", b)] + [("server", w) for w in ws]

    def client(prefix, n):
        _bare_client(ctx, prefix, n, ["--connect", state["front"]])
    return per_request(ctx, "bare-broker", n, start, client)


if __name__ == "__main__":
    import common
    bin_dir = os.path.abspath(sys.argv[1])
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    c = common.Ctx("quick", bin_dir, root)
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    only = sys.argv[3].split(",") if len(sys.argv) > 3 else None
    fns = {"zlb-direct": zlb_direct, "bare-direct": bare_direct, "bare-sized": bare_sized,
           "zlb-broker": zlb_broker,
           "bare-broker": bare_broker}
    for name, fn in fns.items():
        if only and name not in only:
            continue
        r = fn(c, n)
        r["total"] = sum(r.values())
        print(name, {k: round(v) for k, v in r.items()}, flush=True)
