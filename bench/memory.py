"""Peak memory: R64 with a million flows, measured in a child process.

The child builds the R64 machine (64 CPUs, 64 rx queues, RPS to all CPUs, 10 Mpps) with
FLOWS flows, simulates a short run, and reports resource.getrusage(RUSAGE_SELF).ru_maxrss
(peak RSS) after import, after building and after the run, plus the build and run wall times.
The parent only starts it and reads its JSON, so nothing else is in the figure.

    python -m bench.memory --flows 1000000 --virtual-ms 2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024     # KiB on Linux


def child(flows: int, virtual_ns: int) -> dict:
    from bench.machines import build
    imported = _rss_mib()
    t0 = time.perf_counter()
    m = build("R64", "stock", flows=flows)
    t1 = time.perf_counter()
    built = _rss_mib()
    m.run_for(virtual_ns)
    t2 = time.perf_counter()
    return {"flows": flows, "virtual_ns": virtual_ns, "rss_import_mib": imported,
            "rss_built_mib": built, "rss_peak_mib": _rss_mib(), "build_s": t1 - t0,
            "run_s": t2 - t1, "packets": m.stats.offered, "bytes_per_flow":
            (built - imported) * 1024 * 1024 / flows}


def command(flows: int, virtual_ns: int) -> str:
    return f"python -m bench.memory --flows {flows} --virtual-ms {virtual_ns / 1e6:g}"


def measure(flows: int, virtual_ns: int, timeout_s: float = 600) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "bench.memory", "--child", "--flows", str(flows),
                        "--virtual-ms", repr(virtual_ns / 1e6)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout_s)
    if r.returncode != 0:
        raise RuntimeError(f"memory child failed ({r.returncode}): {r.stderr[-2000:]}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["command"] = command(flows, virtual_ns)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--virtual-ms", type=float, default=2.0)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    vns = int(a.virtual_ms * 1e6)
    if a.child:
        print(json.dumps(child(a.flows, vns)))
        return 0
    r = measure(a.flows, vns)
    print(f"R64 with {a.flows} flows: peak RSS {r['rss_peak_mib']:.0f} MiB (after import "
          f"{r['rss_import_mib']:.0f} MiB, {r['bytes_per_flow']:.0f} B/flow), build "
          f"{r['build_s']:.1f} s, {a.virtual_ms:g} ms virtual in {r['run_s']:.2f} s")
    print(f"  command: {r['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
