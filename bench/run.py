#!/usr/bin/python3
"""zlb benchmark suite driver (bench/run.sh is the entry point).

    run.py quick|full [--only 1,3,...] [--runs N] [--out DIR]

Runs each scenario in bench/scenarios/s<N>_*.py, then writes <DATE>-<HOST>[-quick].md and
.json to --out (default bench/results); a full run that would replace an earlier one's files
writes <DATE>-<HOST>-2 (-3, ...) instead. Exit status: 0 when every scenario produced numbers,
1 otherwise (targets are reported, never asserted).
"""
import argparse
import datetime
import importlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "scenarios"))

import common  # noqa: E402
from statistics import median  # noqa: E402

SCENARIOS = [
    ("1", "s1_messaging"),
    ("2", "s2_cpu"),
    ("3", "s3_io"),
    ("4", "s4_stats"),
    ("5", "s5_memory"),
    ("6", "s6_open_loop"),
    ("7", "s7_broker"),
    ("8", "s8_factor_sizes"),
]


def machine():
    model = "unknown"
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem_kb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {"host": socket.gethostname(), "cores": os.cpu_count(), "cpu_model": model,
            "memory_gb": round(mem_kb / 1048576, 1) if mem_kb else None,
            "kernel": platform.release(), "os": _os_release(), "flags": flags}


def _os_release():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def git_revision(root):
    """Read-only: the commit and whether the tree has local changes."""
    try:
        rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{rev}{' (with local changes)' if dirty else ''}" if rev else None
    except (OSError, subprocess.SubprocessError):
        return None


def has_numbers(result):
    if result.get("skipped"):
        return result.get("skip_ok", False)
    rows = result.get("rows") or []
    return bool(rows) and all(r.get("zlb") is not None for r in rows)


def fmt(v, unit=None):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if unit == "%":
        return f"{v:.3f}%"
    a = abs(v)
    if a >= 100000:
        return f"{v:,.0f}"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def fmt_ratio(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:.0f}×"
    if v >= 10:
        return f"{v:.1f}×"
    return f"{v:.2f}×"


def met_text(m):
    return "–" if m is None else ("met" if m else "**NOT met**")


def write_markdown(path, report):
    m = report["machine"]
    out = []
    out.append(f"# zlb benchmark: {report['mode']} run, {report['started']}")
    out.append("")
    out.append(f"Command: `{report['command']}`  ")
    out.append(f"Source: {report.get('revision') or 'unknown'}; binaries: `{report['bin_dir']}`  ")
    out.append(f"Duration: {report['duration_s']:.0f} s; runs per implementation: "
               f"{report['runs']} (alternating zlb, peer, zlb, peer, ...); numbers are medians.")
    out.append("")
    out.append("## Machine")
    out.append("")
    out.append(f"- host `{m['host']}`, {m['cores']} cores, {m['cpu_model']}, "
               f"{m['memory_gb']} GB RAM")
    out.append(f"- {m['os']}, Linux {m['kernel']}")
    out.append(f"- load average (1, 5, 15 min) at start {report['load_start']}, at end "
               f"{report['load_end']}; other work on the machine shares these cores (each "
               f"scenario below gives the CPU use of other processes just before it ran)")
    out.append("")
    out.append("## Targets")
    out.append("")
    for sid, res in report["scenarios"].items():
        for r in res.get("rows", []):
            if r.get("target"):
                out.append(f"- {sid}. {r['metric']}: {fmt_ratio(r['ratio'])} "
                           f"(target {r['target']}): **{'met' if r['met'] else 'NOT met'}**")
        if res.get("skipped"):
            out.append(f"- {sid}. {res['title']}: {res['skipped']}")
        if res.get("error"):
            out.append(f"- {sid}. {res.get('title', '')}: failed to run: {res['error']}")
    out.append("")
    out.append("## Results")
    out.append("")
    out.append("| # | metric | zlb | peer | peer value | ratio zlb/peer | target | met? |")
    out.append("| --- | --- | ---: | --- | ---: | ---: | --- | --- |")
    for sid, res in report["scenarios"].items():
        for r in res.get("rows", []):
            unit = r.get("unit") or ""
            better = f"; {r['better']} is better" if r["better"] in ("higher", "lower") else ""
            out.append(f"| {sid} | {r['metric']} ({unit}{better}) | "
                       f"{fmt(r['zlb'], unit)} | {r['peer'] or '–'} | "
                       f"{fmt(r['peer_value'], unit)} | {fmt_ratio(r['ratio'])} | "
                       f"{r['target'] or '–'} | {met_text(r['met'])} |")
    out.append("")
    for sid, res in report["scenarios"].items():
        out.append(f"## {sid}. {res.get('title', '')}")
        out.append("")
        if res.get("skipped"):
            out.append(f"Skipped: {res['skipped']}")
            out.append("")
        if res.get("error"):
            out.append("Failed to run:")
            out.append("")
            out.append("```")
            out.append(res["error"])
            out.append("```")
            out.append("")
        waited = res.get("waited_for_quiet_s", 0)
        after = f", after waiting {waited:.0f} s for it to calm down" if waited > 3 else ""
        out.append(f"Took {res.get('elapsed_s', 0):.0f} s. Before it: load average "
                   f"{res.get('load_before')}; {res.get('others_busy_pct_before')}% of all cores "
                   f"busy with other processes (measured over "
                   f"{res.get('others_busy_measured_s', 2):g} s{after}).")
        per_run = res.get("others_busy_pct_before_runs") or []
        if per_run:
            out.append(f"Just before each of its {len(per_run)} runs, other processes used at "
                       f"most {max(per_run)}% of all cores (median {median(per_run)}%).")
        out.append("")
        cfg = res.get("config") or {}
        if cfg:
            out.append("Configuration:")
            out.append("")
            for k, v in cfg.items():
                out.append(f"- **{k}**: {v}")
            out.append("")
        det = res.get("detail")
        if det and det.get("rows"):
            cols = det["columns"]
            out.append("| " + " | ".join(cols) + " |")
            out.append("| " + " | ".join("---" for _ in cols) + " |")
            for d in det["rows"]:
                out.append("| " + " | ".join(fmt(d.get(c)) for c in cols) + " |")
            out.append("")
        for n in res.get("notes", []):
            out.append(f"- {n}")
        if res.get("notes"):
            out.append("")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description="zlb benchmark suite")
    ap.add_argument("mode", choices=["quick", "full"])
    ap.add_argument("--only", help="comma-separated scenario numbers, e.g. 1,3")
    ap.add_argument("--runs", type=int, help="runs per implementation (default quick 1, full 3)")
    ap.add_argument("--out", help="results directory (default bench/results)")
    ap.add_argument("--command", help="the command line to record in the report")
    a = ap.parse_args()

    root = os.environ.get("ZLB_SOURCE_DIR") or os.path.dirname(HERE)
    bin_dir = os.environ.get("ZLB_BIN_DIR") or os.path.join(root, "build", "bin")
    out_dir = a.out or os.path.join(HERE, "results")
    os.makedirs(out_dir, exist_ok=True)
    ctx = common.Ctx(a.mode, os.path.abspath(bin_dir), os.path.abspath(root), runs=a.runs)
    only = set(a.only.split(",")) if a.only else None

    started = datetime.datetime.now()
    t0 = time.monotonic()
    report = {"mode": a.mode, "started": started.strftime("%Y-%m-%d %H:%M:%S"),
              "command": a.command or f"bench/run.sh {a.mode}", "runs": ctx.runs,
              "bin_dir": ctx.bin, "revision": git_revision(root), "machine": machine(),
              "load_start": common.load(), "scenarios": {}}
    common.log(f"{a.mode} run on {report['machine']['cores']} cores "
               f"({report['machine']['cpu_model']}), load {report['load_start']}")
    ok = True
    for sid, modname in SCENARIOS:
        if only and sid not in only:
            continue
        mod = importlib.import_module(modname)
        common.log(f"scenario {sid}: {mod.TITLE}")
        # Full runs wait (a while) for other work on the machine to calm down; quick runs (the
        # ctest smoke run) don't, and look for half a second, not 2.
        busy_s = 0.5 if ctx.quick else 2.0
        busy, waited = common.wait_quiet(0 if ctx.quick else 240, seconds=busy_s)
        s0 = time.monotonic()
        ctx.busy_before_runs = []
        load_before = common.load()
        try:
            res = mod.scenario(ctx)
        except Exception:  # noqa: BLE001 - record it and go on with the others
            res = {"title": mod.TITLE, "rows": [], "error": traceback.format_exc(limit=4)}
            common.log(f"scenario {sid} failed:\n{res['error']}")
        finally:
            common._cleanup()  # every process of this scenario, whatever happened
        res["elapsed_s"] = round(time.monotonic() - s0, 1)
        res["load_before"] = load_before
        res["others_busy_pct_before"] = busy
        res["others_busy_measured_s"] = busy_s
        res["waited_for_quiet_s"] = waited
        res["others_busy_pct_before_runs"] = list(ctx.busy_before_runs)
        report["scenarios"][sid] = res
        if not has_numbers(res):
            ok = False
            common.log(f"scenario {sid}: NO NUMBERS")
        for r in res.get("rows", []):
            if r.get("target"):
                common.log(f"  {r['metric']}: ratio {fmt_ratio(r['ratio'])}, target "
                           f"{r['target']}: {'met' if r['met'] else 'NOT met'}")
        common.log(f"scenario {sid} took {res['elapsed_s']} s")
    report["load_end"] = common.load()
    report["duration_s"] = round(time.monotonic() - t0, 1)

    stamp = started.strftime("%Y-%m-%d")
    host = report["machine"]["host"].split(".")[0]
    base = os.path.join(out_dir, f"{stamp}-{host}{'-quick' if a.mode == 'quick' else ''}")
    # A full run never replaces an earlier one (the README quotes them by name): the second
    # of a day is <DATE>-<HOST>-2, and so on. A quick run is a smoke test and replaces.
    if a.mode == "full":
        first, n = base, 1
        while os.path.exists(base + ".md") or os.path.exists(base + ".json"):
            n += 1
            base = f"{first}-{n}"
    with open(base + ".json", "w") as f:
        json.dump(report, f, indent=1, default=str)
    write_markdown(base + ".md", report)
    common.log(f"wrote {base}.md and {base}.json ({report['duration_s']:.0f} s)")
    print(base + ".md")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
