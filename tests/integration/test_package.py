"""The Debian package, for real: `cpack -G DEB` in the build directory, its contents, control
fields and Depends (dpkg-deb -c / -f), lintian (when installed: no errors), and then the
programs run from the package extracted into a temporary root (dpkg-deb -x), with no help from
the source tree or the build: a server and a client job between them, zlb-start-servers /
zlb-stop-servers, zlb-supervise (when supervisord is installed), and --log-format json lines.
`cmake --install` into a prefix installs the same files."""
import json
import os
import re
import shutil
import signal
import subprocess

from zlbtest import ADDR_IN_USE, BIN_DIR, free_port, main, tmpdir, wait_for

BUILD_DIR = os.path.dirname(os.path.abspath(BIN_DIR))
PROGRAMS = ["zlb-server", "zlb-client", "zlb-broker", "zlb-keygen", "zlb-report"]
SCRIPTS = ["zlb-start-servers", "zlb-stop-servers", "zlb-supervise"]
EXPECTED = ([f"usr/bin/{p}" for p in PROGRAMS + SCRIPTS] +
            ["usr/lib/zlb/lib.sh", "usr/lib/zlb/zlb-server-port.sh",
             "usr/share/zlb/supervisord.conf", "usr/share/zlb/supervisord-broker.conf"] +
            [f"usr/share/doc/zlb/{f}" for f in
             ["README.md", "PROTOCOL.md", "python_client.py", "copyright", "changelog.gz"]])
LOG_FIELDS = ["time", "level", "program", "message"]

_package = {}


def run(*cmd, timeout=120, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def package():
    """Builds the .deb once (cpack into a temporary directory, so the build keeps nothing of
    it) and extracts it; returns (path of the .deb, extracted root)."""
    if not _package:
        assert os.path.exists(os.path.join(BUILD_DIR, "CPackConfig.cmake")), BUILD_DIR
        out_dir = tmpdir()
        run("cpack", "-G", "DEB", "-B", out_dir, cwd=BUILD_DIR)
        debs = [f for f in os.listdir(out_dir) if f.endswith(".deb")]
        assert len(debs) == 1, debs
        root = tmpdir()
        run("dpkg-deb", "-x", os.path.join(out_dir, debs[0]), root)
        _package.update(deb=os.path.join(out_dir, debs[0]), root=root)
    return _package["deb"], _package["root"]


def clean_env(**extra):
    """The environment less ZLB_BIN_DIR (ctest sets it to the build): the installed scripts
    must find the installed binaries themselves."""
    env = {k: v for k, v in os.environ.items() if k != "ZLB_BIN_DIR"}
    env.update(extra)
    return env


def json_lines(text, program):
    """The --log-format json lines in TEXT: each one a JSON object with the text line's fields."""
    objects = []
    for line in text.splitlines():
        obj = json.loads(line)  # every line of the log is one object
        assert list(obj) == LOG_FIELDS, obj
        assert obj["program"] == program and obj["level"] in ("debug", "info", "warn", "error")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj["time"]), obj
        objects.append(obj)
    assert objects, f"no log lines from {program}"
    return objects


def client_job(root, endpoint, count=200):
    """A short echo job from the extracted zlb-client; returns its --json report."""
    report = os.path.join(tmpdir(), "report.json")
    p = subprocess.run([os.path.join(root, "usr/bin/zlb-client"), "--connect", endpoint,
                        "--op", "echo", "--count", str(count), "--json", report,
                        "--log-format", "json", "--log-level", "info"],
                       capture_output=True, text=True, timeout=60, env=clean_env())
    assert p.returncode == 0, f"client exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    json_lines(p.stderr, "zlb-client")
    with open(report) as f:
        rep = json.load(f)
    assert rep["ok"] == count, rep
    return rep


def exe_of(pid):
    return os.readlink(f"/proc/{pid}/exe")


def test_contents_and_control_fields():
    deb, _ = package()
    version = run("dpkg-deb", "-f", deb, "Version").strip()
    assert os.path.basename(deb) == f"zlb_{version}_amd64.deb", deb
    listing = run("dpkg-deb", "-c", deb).splitlines()
    entries = {}
    for line in listing:  # drwxr-xr-x root/root  0 2026-12-01 10:13 ./usr/bin/
        mode, owner, _, _, _, path = line.split(None, 5)
        entries[path.removeprefix("./").rstrip("/")] = (mode, owner)
    missing = [p for p in EXPECTED if p not in entries]
    assert not missing, f"missing from the package: {missing}\n" + "\n".join(listing)
    assert all(owner == "root/root" for _, owner in entries.values()), listing
    for path in [f"usr/bin/{p}" for p in PROGRAMS + SCRIPTS] + ["usr/lib/zlb/zlb-server-port.sh"]:
        assert entries[path][0] == "-rwxr-xr-x", (path, entries[path])
    for path in [p for p in EXPECTED if "/share/" in p] + ["usr/lib/zlb/lib.sh"]:
        assert entries[path][0] == "-rw-r--r--", (path, entries[path])
    assert all(m == "drwxr-xr-x" for m, _ in (entries[p] for p in entries if p and
               entries[p][0].startswith("d"))), listing
    assert not [p for p in entries if p.startswith(("usr/include", "usr/lib/x86_64"))], listing

    depends = run("dpkg-deb", "-f", deb, "Depends")
    for lib in ["libzmq5", "libcurl4", "libstdc++6", "libc6"]:
        assert re.search(rf"(^|, ){re.escape(lib)}( \(|,|$)", depends.strip()), depends
    fields = run("dpkg-deb", "-f", deb, "Package", "Architecture", "Maintainer", "Section",
                 "Description")
    assert "Package: zlb" in fields and "Architecture: amd64" in fields, fields
    assert re.search(r"Maintainer: .+ <.+@.+>", fields) and "Section: " in fields, fields
    assert re.search(r"Description: \S.*\n \S", fields), fields  # synopsis + long description
    _, root = package()
    with open(os.path.join(root, "usr/share/doc/zlb/copyright")) as f:
        copyright_text = f.read()
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/"
                                     "copyright-format/1.0/"), copyright_text[:200]
    assert "License: Expat" in copyright_text
    if shutil.which("file"):
        for p in PROGRAMS:
            kind = run("file", "-b", os.path.join(root, "usr/bin", p))
            assert "ELF" in kind and ", stripped" in kind, (p, kind)


def test_lintian():
    deb, _ = package()
    assert shutil.which("lintian"), "lintian is missing: scripts/setup.sh installs it"
    p = subprocess.run(["lintian", "--no-tag-display-limit", deb], capture_output=True,
                       text=True, timeout=120)
    tags = [line for line in p.stdout.splitlines() if re.match(r"[EWIPXO]: ", line)]
    for line in tags:
        print(f"lintian: {line}")
    errors = [line for line in tags if line.startswith("E: ")]
    assert not errors and p.returncode == 0, f"lintian:\n{p.stdout}\n{p.stderr}"


def test_server_and_client_from_the_package():
    _, root = package()
    server = os.path.join(root, "usr/bin/zlb-server")
    log_path = os.path.join(tmpdir(), "server.log")
    for _attempt in range(5):
        port = free_port()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([server, "--bind", f"tcp://127.0.0.1:{port}", "--name",
                                     'pkg "test"\\1', "--log-format", "json"],
                                    stdout=log, stderr=log, env=clean_env())
        text = lambda: open(log_path, encoding="utf-8").read()  # noqa: E731
        wait_for(lambda: "listening" in text() or proc.poll() is not None, 10, "server to start")
        if not (proc.poll() is not None and ADDR_IN_USE in text()):
            break
    try:
        assert proc.poll() is None, text()
        client_job(root, f"tcp://127.0.0.1:{port}")
    finally:
        if proc.poll() is None:
            proc.terminate()
        code = proc.wait(timeout=30)
    assert code == 0, text()
    lines = json_lines(text(), "zlb-server")
    # The name, with a quote and a backslash, comes back intact through the JSON escaping.
    assert any('pkg "test"\\1' in o["message"] for o in lines), lines
    assert any("listening on" in o["message"] for o in lines), lines


def test_start_and_stop_servers_from_the_package():
    _, root = package()
    work = tmpdir()  # installed, relative paths are relative to the current directory
    env = clean_env()
    out = run(os.path.join(root, "usr/bin/zlb-start-servers"), "1", "auto", "--",
              "--log-format", "json", cwd=work, env=env, timeout=60)
    try:
        endpoints = out.split()
        assert len(endpoints) == 1 and endpoints[0].startswith("tcp://127.0.0.1:"), out
        port = endpoints[0].rsplit(":", 1)[1]
        servers = os.path.join(work, "run", "servers")
        with open(os.path.join(servers, f"{port}.pid")) as f:
            pid = int(f.read())
        assert exe_of(pid) == os.path.join(root, "usr/bin/zlb-server"), exe_of(pid)
        client_job(root, endpoints[0])
    finally:
        stop = subprocess.run([os.path.join(root, "usr/bin/zlb-stop-servers")], cwd=work,
                              env=env, capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0, stop.stderr
    with open(os.path.join(servers, f"{port}.log")) as f:
        lines = json_lines(f.read(), "zlb-server")
    assert any("listening on" in o["message"] for o in lines), lines


def test_supervise_from_the_package():
    if not shutil.which("supervisord"):
        print("NOTE supervisord not installed: zlb-supervise check skipped")
        return
    _, root = package()
    run_dir = tmpdir()
    port = free_port()
    with open(os.path.join(run_dir, "supervise.out"), "wb") as out:
        sup = subprocess.Popen([os.path.join(root, "usr/bin/zlb-supervise"), "--servers", "1",
                                "--base-port", str(port), "--dir", run_dir, "--",
                                "--log-format", "json"],
                               env=clean_env(), stdout=out, stderr=out, cwd=run_dir,
                               start_new_session=True)
    log_path = os.path.join(run_dir, "zlb-server_00.log")

    def listening():
        assert sup.poll() is None, open(os.path.join(run_dir, "supervise.out")).read()
        return os.path.exists(log_path) and "listening on" in open(log_path).read()

    try:
        wait_for(listening, 30, "the supervised server")
        client_job(root, f"tcp://127.0.0.1:{port}")
        with open(os.path.join(run_dir, "supervisord.conf")) as f:
            conf = f.read()
        assert os.path.join(root, "usr/lib/zlb/zlb-server-port.sh") in conf, conf
    finally:
        os.killpg(sup.pid, signal.SIGTERM)
        sup.wait(timeout=60)
    # The helper's own line comes first (plain text, from the script), then the server's.
    with open(log_path) as f:
        text = f.read().splitlines()
    json_lines("\n".join(line for line in text if line.startswith("{")), "zlb-server")


def test_cmake_install_matches_the_package():
    _, root = package()
    prefix = tmpdir()
    run("cmake", "--install", BUILD_DIR, "--prefix", prefix)
    installed = sorted(os.path.relpath(os.path.join(d, f), prefix)
                       for d, _, files in os.walk(prefix) for f in files)
    packaged = sorted(os.path.relpath(os.path.join(d, f), os.path.join(root, "usr"))
                      for d, _, files in os.walk(os.path.join(root, "usr")) for f in files)
    assert installed == packaged, (installed, packaged)
    help_text = run(os.path.join(prefix, "bin/zlb-start-servers"), "--help", env=clean_env())
    assert "Usage: zlb-start-servers COUNT" in help_text, help_text


if __name__ == "__main__":
    main([test_contents_and_control_fields, test_lintian, test_server_and_client_from_the_package,
          test_start_and_stop_servers_from_the_package, test_supervise_from_the_package,
          test_cmake_install_matches_the_package])
