"""Profile before optimising: where R16 stock spends its time, by function self time.

With py-spy (`.venv/bin/pip install py-spy`): `py-spy record --format raw` samples a child that
runs R16 stock for VIRTUAL_MS of virtual time (a few wall seconds); samples are aggregated per
function (file + name, all lines together), over the samples inside Machine.run_for (start-up,
imports and building the machine are left out). Self = samples where the function is the leaf;
total = samples where it is anywhere on the stack. Without py-spy it falls back to cProfile
(tottime/cumtime, with cProfile's own overhead on every call), and says so.

    python -m bench.profile --virtual-ms 150 --top 15
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

ROOT = Path(__file__).resolve().parents[1]
_LINE = re.compile(r":\d+\)$")


def _child_cmd(virtual_ms: float) -> list[str]:
    return [sys.executable, "-m", "bench.engine_bench", "--machine", "R16", "--mode", "stock",
            "--virtual-ms", f"{virtual_ms:g}", "--repeats", "1"]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def find_py_spy() -> str | None:
    cand = Path(sys.executable).with_name("py-spy")
    return str(cand) if cand.exists() else shutil.which("py-spy")


def _short(frame: str) -> str:
    """'NetCore.deliver (procnet/engine/dev.py:367)' -> 'NetCore.deliver (procnet/engine/dev.py)'"""
    frame = _LINE.sub(")", frame)
    return frame.replace(str(ROOT) + "/", "")


def aggregate_raw(text: str, within: str = "Machine.run_for ") -> tuple[int, Counter, Counter]:
    """Self and total samples per function, over the stacks that pass through `within`
    (the simulation itself: interpreter start-up, imports and machine building are left out)."""
    self_c, total_c, n_all = Counter(), Counter(), 0
    for line in text.splitlines():
        if not line.strip():
            continue
        stack, _, n = line.rpartition(" ")
        n = int(n)
        frames = [_short(f) for f in stack.split(";")]
        if within and not any(f.startswith(within) for f in frames):
            continue
        n_all += n
        self_c[frames[-1]] += n
        for f in set(frames):
            total_c[f] += n
    return n_all, self_c, total_c


def profile_py_spy(exe: str, virtual_ms: float, rate: int, top: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "r16.raw"
        cmd = [exe, "record", "--rate", str(rate), "--format", "raw", "--output", str(raw),
               "--", *_child_cmd(virtual_ms)]
        r = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True,
                           timeout=900)
        if r.returncode != 0 or not raw.exists():
            raise RuntimeError(f"py-spy failed ({r.returncode}): {r.stderr[-1500:]}")
        n, self_c, total_c = aggregate_raw(raw.read_text())
    rows = [{"function": f, "self_pct": 100 * c / n, "total_pct": 100 * total_c[f] / n,
             "self_samples": c} for f, c in self_c.most_common(top)]
    wall = n / rate
    return {"tool": f"py-spy record --rate {rate} (sampling; aggregated per function)",
            "samples": n, "seconds_sampled": wall, "rows": rows}


def profile_cprofile(virtual_ms: float, top: int) -> dict:
    code = (
        "import cProfile, pstats, json, sys\n"
        "from bench.machines import build\n"
        "from procnet.engine import NSEC_PER_MSEC\n"
        "m = build('R16', 'stock'); m.run_for(NSEC_PER_MSEC)\n"
        "pr = cProfile.Profile(); pr.enable()\n"
        f"m.run_for(int({virtual_ms!r} * NSEC_PER_MSEC))\n"
        "pr.disable(); st = pstats.Stats(pr)\n"
        "tot = sum(v[2] for v in st.stats.values())\n"
        "rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])\n"
        f"out = [{{'function': f'{{k[2]}} ({{k[0]}})', 'self_pct': 100*v[2]/tot, "
        f"'total_pct': 100*v[3]/tot, 'calls': v[1]}} for k, v in rows[:{top}]]\n"
        "print(json.dumps({'total_s': tot, 'rows': out}))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True,
                       text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"cProfile child failed: {r.stderr[-1500:]}")
    d = json.loads(r.stdout.strip().splitlines()[-1])
    for row in d["rows"]:
        row["function"] = row["function"].replace(str(ROOT) + "/", "")
    return {"tool": "cProfile (py-spy not installed; deterministic, adds per-call overhead)",
            "samples": None, "seconds_sampled": d["total_s"], "rows": d["rows"]}


def command(virtual_ms: float, top: int) -> str:
    return f"python -m bench.profile --virtual-ms {virtual_ms:g} --top {top}"


def run(virtual_ms: float = 150.0, top: int = 15, rate: int = 200) -> dict:
    exe = find_py_spy()
    res = profile_py_spy(exe, virtual_ms, rate, top) if exe else profile_cprofile(virtual_ms, top)
    res["command"] = command(virtual_ms, top)
    res["target"] = f"R16 stock, {virtual_ms:g} ms virtual"
    return res


def format_rows(res: dict) -> str:
    lines = [f"{'#':>2} {'self %':>6} {'total %':>7}  function"]
    for i, r in enumerate(res["rows"], 1):
        lines.append(f"{i:>2} {r['self_pct']:6.1f} {r['total_pct']:7.1f}  {r['function']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--virtual-ms", type=float, default=150.0)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    a = ap.parse_args(argv)
    res = run(a.virtual_ms, a.top, a.rate)
    print(f"{res['target']}, {res['tool']}, {res['seconds_sampled']:.1f} s")
    print(format_rows(res))
    print(f"  command: {res['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
