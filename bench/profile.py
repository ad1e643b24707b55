"""Profile before optimising: where R16 stock (or another reference machine and mode) spends
its instructions, by function.

With valgrind (Debian's `valgrind`), callgrind counts the instructions of a child that builds
the machine (R16 stock unless --machine/--mode say otherwise), warms it up and simulates
VIRTUAL_MS of virtual time, and of the same child with no simulated time; the difference, per
function (self cost, `callgrind_annotate --inclusive=no`), divided by the packets simulated, is
the table: instructions per simulated packet. Counts are exact and repeat run for run whatever
else the machine does, which sampled wall time on a noisy 2-CPU host does not. Cython's C names
are shown as Python names (`NetCore.napi_poll_device (dev)`), CPython's and numpy's own
functions with a prefix.

Without valgrind it falls back to cProfile, which sees only Python-level frames: useful for the
uncompiled engine (PROCNET_ENGINE=python), and it says so.

    python -m bench.profile --virtual-ms 20 --top 25
    python -m bench.profile --machine R64 --mode thread_backlog_napi --virtual-ms 10
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.machines import MACHINES, MODES

ROOT = Path(__file__).resolve().parents[1]

_CHILD = (
    "import sys\n"
    "from bench.machines import build\n"
    "from procnet.engine import NSEC_PER_MSEC, ENGINE\n"
    "m = build(sys.argv[2], sys.argv[3]); m.run_for(2 * NSEC_PER_MSEC)\n"
    "off = m.stats.offered\n"
    "m.run_for(int(float(sys.argv[1]) * NSEC_PER_MSEC))\n"
    "print(ENGINE, m.stats.offered - off)\n")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")     # no idle BLAS threads in the counts
    return env


def pretty(symbol: str) -> str:
    """A Cython C name as the Python name it compiles: `__pyx_f_7procnet_6engine_3dev_7NetCore_
    napi_poll_device` -> `NetCore.napi_poll_device (dev)`; others keep their name."""
    m = re.match(r"__pyx_[fp][wf]?_(.*)$", symbol)
    if not m:
        return symbol
    rest, parts = m.group(1), []
    while (n := re.match(r"(\d+)", rest)):      # length-prefixed names, each then "_"
        k, skip = int(n.group(1)), len(n.group(1))
        parts.append(rest[skip:skip + k])
        rest = rest[skip + k + 1:]
    if len(parts) < 3 or parts[:2] != ["procnet", "engine"]:
        return symbol
    module, names = parts[2], parts[3:]
    if names and rest.startswith(f"_{names[-1]}__"):     # a private name: _Class__name
        rest = rest[len(names[-1]) + 1:]
    return f"{'.'.join([*names, rest] if rest else names)} ({module})"


def _callgrind(valgrind: str, virtual_ms: float, out: Path, machine: str = "R16",
               mode: str = "stock") -> tuple[str, int]:
    r = subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
                        sys.executable, "-c", _CHILD, f"{virtual_ms:g}", machine, mode], cwd=ROOT,
                       env=_env(), capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"callgrind failed ({r.returncode}): {r.stderr[-1500:]}")
    engine, packets = r.stdout.split()[-2:]
    return engine, int(packets)


def _self_costs(annotate: str, path: Path) -> Counter:
    text = subprocess.run([annotate, "--inclusive=no", "--tree=none", "--threshold=100",
                           "--auto=no", str(path)], capture_output=True, text=True,
                          timeout=600).stdout
    costs: Counter = Counter()
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*?)(?: \[(.*)\])?$", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        fn = re.sub(r"'\d+$", "", m.group(2).rsplit(":", 1)[-1])
        lib = m.group(3) or ""
        name = pretty(fn)
        if name == fn and "libpython" in lib:
            name = f"CPython: {fn}"
        elif name == fn and "numpy" in lib:
            name = f"numpy: {fn}"
        costs[name] += int(m.group(1).replace(",", ""))
    return costs


def profile_callgrind(valgrind: str, virtual_ms: float, top: int, machine: str = "R16",
                      mode: str = "stock") -> dict:
    annotate = shutil.which("callgrind_annotate")
    if not annotate:
        raise RuntimeError("callgrind_annotate not found (it comes with valgrind)")
    with tempfile.TemporaryDirectory() as d:
        engine, _ = _callgrind(valgrind, 0, Path(d) / "base.out", machine, mode)
        engine, packets = _callgrind(valgrind, virtual_ms, Path(d) / "run.out", machine, mode)
        base = _self_costs(annotate, Path(d) / "base.out")
        run = _self_costs(annotate, Path(d) / "run.out")
    diff = Counter({k: v - base.get(k, 0) for k, v in run.items() if v - base.get(k, 0) > 0})
    total = sum(diff.values())
    rows = [{"function": f, "self_pct": 100 * c / total, "instr_per_packet": c / packets}
            for f, c in diff.most_common(top)]
    return {"tool": "callgrind (instructions, exact; self cost per function)",
            "engine": engine, "packets": packets, "instructions": total,
            "instr_per_packet": total / packets, "rows": rows}


def profile_cprofile(virtual_ms: float, top: int, machine: str = "R16",
                     mode: str = "stock") -> dict:
    code = (
        "import cProfile, pstats, json, sys\n"
        "from bench.machines import build\n"
        "from procnet.engine import NSEC_PER_MSEC\n"
        f"m = build({machine!r}, {mode!r}); m.run_for(NSEC_PER_MSEC)\n"
        "pr = cProfile.Profile(); pr.enable()\n"
        f"m.run_for(int({virtual_ms!r} * NSEC_PER_MSEC))\n"
        "pr.disable(); st = pstats.Stats(pr)\n"
        "tot = sum(v[2] for v in st.stats.values())\n"
        "rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])\n"
        f"out = [{{'function': f'{{k[2]}} ({{k[0]}})', 'self_pct': 100*v[2]/tot, "
        f"'calls': v[1]}} for k, v in rows[:{top}]]\n"
        "print(json.dumps({'total_s': tot, 'rows': out}))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True,
                       text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"cProfile child failed: {r.stderr[-1500:]}")
    d = json.loads(r.stdout.strip().splitlines()[-1])
    for row in d["rows"]:
        row["function"] = row["function"].replace(str(ROOT) + "/", "")
    return {"tool": "cProfile (valgrind not installed; Python-level frames only, so it says "
                    "little about the compiled engine)", "rows": d["rows"]}


def command(virtual_ms: float, top: int, machine: str = "R16", mode: str = "stock") -> str:
    which = "" if (machine, mode) == ("R16", "stock") else f" --machine {machine} --mode {mode}"
    return f"python -m bench.profile{which} --virtual-ms {virtual_ms:g} --top {top}"


def run(virtual_ms: float = 20.0, top: int = 25, machine: str = "R16",
        mode: str = "stock") -> dict:
    valgrind = shutil.which("valgrind")
    res = (profile_callgrind(valgrind, virtual_ms, top, machine, mode) if valgrind
           else profile_cprofile(virtual_ms, top, machine, mode))
    res["command"] = command(virtual_ms, top, machine, mode)
    res["target"] = f"{machine} {mode}, {virtual_ms:g} ms virtual"
    return res


def format_rows(res: dict) -> str:
    if "instr_per_packet" not in res:
        lines = [f"{'#':>2} {'self %':>6}  function"]
        lines += [f"{i:>2} {r['self_pct']:6.1f}  {r['function']}"
                  for i, r in enumerate(res["rows"], 1)]
        return "\n".join(lines)
    lines = [f"{res['instr_per_packet']:.0f} instructions per simulated packet "
             f"({res['packets']} packets, {res['engine']} engine)",
             f"{'#':>2} {'instr/pkt':>9} {'self %':>6}  function"]
    lines += [f"{i:>2} {r['instr_per_packet']:9.1f} {r['self_pct']:6.1f}  {r['function']}"
              for i, r in enumerate(res["rows"], 1)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--virtual-ms", type=float, default=20.0)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--machine", choices=MACHINES, default="R16")
    ap.add_argument("--mode", choices=MODES, default="stock")
    a = ap.parse_args(argv)
    if a.machine == "LO":
        ap.error("LO has no packets to count per; profile R4, R16 or R64")
    res = run(a.virtual_ms, a.top, a.machine, a.mode)
    print(f"{res['target']}, {res['tool']}")
    print(format_rows(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
