"""procnet benchmark harness: engine speed, baseline, scaling, mount, memory, profile.

    .venv/bin/python -m bench [--quick] [--out DIR] [--only SECTION ...] [--docs]
    .venv/bin/python bench/run.py [same options]

Sections (in this order; default all):
    engine    R4, R16, R64, LO in stock, backlog_threaded, thread_backlog_napi
    baseline  the per-packet-event design (bench/baseline.py) against the engine on R4
    scaling   wall time vs offered pps, CPU count (busy and idle CPUs), flow count (CSV + PNG)
    mount     reads/s through a real FUSE mount, idle and under load, host procfs, LXCFS;
              the backlog_threaded switch latency under load and the host's wake-up floor for it
              (needs root and /dev/fuse)
    memory    peak RSS of R64 with 1 M flows (child process)
    profile   instructions per simulated packet per function, R16 stock (callgrind if valgrind
              is installed, else cProfile self time)

Every figure is printed with the command that reproduces it alone. Results go to DIR
(default out/bench): results.json, engine.csv, scaling_*.csv, scaling_*.png, profile.txt,
summary.md. With --docs the summary also replaces the generated block of docs/performance.md
and the plots are copied to docs/img/ (do that from a full run, not --quick).
"""
from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):                 # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from procnet.engine import ENGINE, ENGINE_REASON, NSEC_PER_MSEC  # noqa: E402
from procnet.engine._buildinfo import build_kind  # noqa: E402

from bench import baseline, engine_bench, memory, mount_bench, profile, report, scaling  # noqa: E402
from bench.machines import MACHINES, MODES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("engine", "baseline", "scaling", "mount", "memory", "profile")
DOC = ROOT / "docs" / "performance.md"
DOC_IMG = ROOT / "docs" / "img"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
MS = NSEC_PER_MSEC

FULL = {
    "engine_ms": {"R4": 50, "R16": 20, "R64": 20, "LO": 50}, "engine_repeats": 5,
    "baseline_ms": 50, "baseline_repeats": 5,
    "scaling_ms": {"pps": 20, "cpus": 20, "idle_cpus": 20, "flows": 10}, "scaling_repeats": 3,
    "mount_seconds": 1.5, "mount_rounds": 3, "switches": 500,
    "memory_flows": 1_000_000, "memory_ms": 2,
    "profile_ms": 20,
}
QUICK = {
    "engine_ms": {"R4": 10, "R16": 5, "R64": 2, "LO": 10}, "engine_repeats": 3,
    "baseline_ms": 10, "baseline_repeats": 3,
    "scaling_ms": {"pps": 5, "cpus": 5, "idle_cpus": 5, "flows": 2}, "scaling_repeats": 1,
    "mount_seconds": 1.0, "mount_rounds": 1, "switches": 50,
    "memory_flows": 1_000_000, "memory_ms": 1,
    "profile_ms": 5,
}


def engine_fingerprint() -> str:
    h = hashlib.sha256()
    for p in sorted([*(ROOT / "procnet" / "engine").glob("*.py"),
                     *(ROOT / "procnet" / "engine").glob("*.pxd")]):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def host_desc() -> str:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model or platform.machine()}), Linux {platform.release()}"


def say(msg: str) -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------------------ sections
def run_engine(cfg: dict, machines=MACHINES, modes=MODES) -> dict:
    out: dict = {}
    for name in machines:
        out[name] = engine_bench.measure_modes(name, modes, cfg["engine_ms"][name] * MS,
                                               cfg["engine_repeats"])
        for mode, r in out[name].items():
            s = r["summary"]
            extra = (f", {engine_bench.fmt_rate(s['tps'])} UDP_RR trans/wall s"
                     if name == "LO" else "")
            say(f"  {name:3} {mode:19} {engine_bench.fmt_rate(s['pkts_per_s']):>26} "
                f"pkt/wall s, RTF {engine_bench.fmt_range(s['rtf']):>22}{extra}\n"
                f"      [{r['command']}]")
    return out


def run_baseline(cfg: dict) -> dict:
    b = baseline.compare(cfg["baseline_ms"] * MS, cfg["baseline_repeats"])
    say(f"  baseline {engine_bench.fmt_rate(b['baseline']['summary']['pkts_per_s'])} "
        f"pkt/wall s, engine R4 stock {engine_bench.fmt_rate(b['engine']['summary']['pkts_per_s'])}"
        f": engine/baseline = {b['ratio']:.2f}x\n      [{b['command']}]")
    return b


def run_scaling(cfg: dict, out_dir: Path) -> dict:
    res: dict = {}
    for sweep in scaling.SWEEPS:
        vns = cfg["scaling_ms"][sweep] * MS

        def prog(r, sweep=sweep):
            say(f"  {sweep}={r['x']:<9} wall {r['wall_s']:.3f} s ({r['wall_min']:.3f}-"
                f"{r['wall_max']:.3f}), {r['us_per_pkt']:.2f} us/pkt, "
                f"{r['events_per_pkt']:.2f} events/pkt\n      [{r['command']}]")
        rows = scaling.run_sweep(sweep, vns, cfg["scaling_repeats"], progress=prog)
        res[sweep] = rows
        scaling.write_csv(rows, out_dir / f"scaling_{sweep}.csv")
        scaling.plot(sweep, rows, out_dir / f"scaling_{sweep}.png")
    res["pps_fit"] = scaling.linear_fit(res["pps"])
    return res


def run_mount(cfg: dict) -> dict:
    return mount_bench.run(cfg["mount_seconds"], cfg["switches"], progress=say,
                           rounds=cfg.get("mount_rounds", 1))


def run_memory(cfg: dict) -> dict:
    r = memory.measure(cfg["memory_flows"], cfg["memory_ms"] * MS)
    say(f"  R64, {r['flows']} flows: peak RSS {r['rss_peak_mib']:.0f} MiB, build "
        f"{r['build_s']:.1f} s\n      [{r['command']}]")
    return r


def run_profile(cfg: dict) -> dict:
    r = profile.run(cfg["profile_ms"], 25)
    say(profile.format_rows(r))
    say(f"      [{r['command']}]  ({r['tool']})")
    return r


# ------------------------------------------------------------------------------ output
def write_engine_csv(res: dict, path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["machine", "mode", "virtual_ms", "repeats", "pkts_per_s_median",
                    "pkts_per_s_min", "pkts_per_s_max", "rtf_median", "rtf_min", "rtf_max",
                    "events_per_s_median", "tps_median", "packets_median", "command"])
        for name, modes in res.items():
            for mode, r in modes.items():
                s = r["summary"]
                w.writerow([name, mode, r["virtual_ns"] / MS, r["repeats"],
                            round(s["pkts_per_s"]["median"]), round(s["pkts_per_s"]["min"]),
                            round(s["pkts_per_s"]["max"]), f"{s['rtf']['median']:.5f}",
                            f"{s['rtf']['min']:.5f}", f"{s['rtf']['max']:.5f}",
                            round(s["events_per_s"]["median"]), round(s["tps"]["median"]),
                            s["packets"], r["command"]])


def update_docs(md: str, out_dir: Path) -> None:
    DOC_IMG.mkdir(parents=True, exist_ok=True)
    for png in sorted(out_dir.glob("scaling_*.png")):
        shutil.copy(png, DOC_IMG / png.name)
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n## Results\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{md}{END}{tail}")
    say(f"updated {DOC} and {DOC_IMG}/scaling_*.png")


def render(results: Path, out_dir: Path, docs: bool) -> int:
    res = json.loads(results.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    for sweep, rows in res.get("scaling", {}).items():
        if sweep in scaling.SWEEPS and rows:
            scaling.write_csv(rows, out_dir / f"scaling_{sweep}.csv")
            scaling.plot(sweep, rows, out_dir / f"scaling_{sweep}.png")
    res["goals"] = report.goals(res)
    (out_dir / "summary.md").write_text(report.markdown(res))
    say(report.md_goals(res))
    if docs:
        update_docs(report.markdown(res, img_prefix="img/"), out_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="short virtual durations, fewer repeats (about 2 minutes)")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench"), help="output directory")
    ap.add_argument("--only", action="append", choices=SECTIONS,
                    help="run only this section (repeatable)")
    ap.add_argument("--docs", action="store_true",
                    help="write the summary into docs/performance.md and plots into docs/img/")
    ap.add_argument("--render", metavar="RESULTS_JSON",
                    help="measure nothing: redo summary.md, the plots (and --docs) from a "
                         "results.json of an earlier run")
    a = ap.parse_args(argv)
    if a.render:
        return render(Path(a.render), Path(a.out), a.docs)
    cfg = QUICK if a.quick else FULL
    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = [s for s in SECTIONS if not a.only or s in a.only]
    argv_used = argv if argv is not None else sys.argv[1:]
    fp0 = engine_fingerprint()
    meta = {"command": " ".join(["python -m bench", *argv_used]),
            "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "host": host_desc(), "python": platform.python_version(),
            "commit": _git("rev-parse", "--short", "HEAD") or "?",
            "engine_dirty": bool(_git("status", "--porcelain", "--", "procnet/engine")),
            "engine_fingerprint": fp0, "engine": ENGINE, "engine_reason": ENGINE_REASON,
            "engine_build": build_kind(str(ROOT / "procnet" / "engine")) if ENGINE == "compiled"
            else "-",
            "quick": a.quick, "config": cfg,
            "loadavg_start": os.getloadavg()}
    res: dict = {"meta": meta}
    t_all = time.perf_counter()
    say(f"procnet bench ({'quick' if a.quick else 'full'}): {meta['host']}, commit "
        f"{meta['commit']}, engine {fp0}{' (dirty)' if meta['engine_dirty'] else ''}, {ENGINE}"
        f"{', ' + meta['engine_build'] if ENGINE == 'compiled' else ''}")
    if ENGINE != "compiled":
        say(f"WARNING: the engine runs uncompiled ({ENGINE_REASON}): figures are ~20x lower")
    for sec in sections:
        t0 = time.perf_counter()
        say(f"== {sec}")
        if sec == "engine":
            res["engine"] = run_engine(cfg)
            write_engine_csv(res["engine"], out_dir / "engine.csv")
        elif sec == "baseline":
            res["baseline"] = run_baseline(cfg)
        elif sec == "scaling":
            res["scaling"] = run_scaling(cfg, out_dir)
        elif sec == "mount":
            res["mount"] = run_mount(cfg)
        elif sec == "memory":
            res["memory"] = run_memory(cfg)
        elif sec == "profile":
            res["profile"] = run_profile(cfg)
            (out_dir / "profile.txt").write_text(profile.format_rows(res["profile"]) + "\n")
        say(f"   ({sec}: {time.perf_counter() - t0:.0f} s)")
    meta["total_s"] = time.perf_counter() - t_all
    meta["engine_changed"] = engine_fingerprint() != fp0
    meta["loadavg_end"] = os.getloadavg()
    res["goals"] = report.goals(res)
    md = report.markdown(res, img_prefix="")
    (out_dir / "summary.md").write_text(md)
    (out_dir / "results.json").write_text(json.dumps(res, indent=1, default=str))
    say("== goals")
    for g in res["goals"]:
        say(f"  [{g['status']:6}] {g['goal']}: {g['measured']}"
            + (f" -- {g['gap']}" if g["gap"] else "") + f"\n      [{g['command']}]")
    if meta["engine_changed"]:
        say("WARNING: procnet/engine/ changed during the run; the figures mix versions")
    say(f"wrote {out_dir}/ (results.json, summary.md, CSVs, PNGs) in {meta['total_s']:.0f} s")
    if a.docs:
        update_docs(report.markdown(res, img_prefix="img/"), out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
