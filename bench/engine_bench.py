"""Engine speed: simulated packets per wall-clock second and the real-time factor.

One run = build the machine (not timed), simulate a short warm-up (not timed: queues and
threads reach their steady state), then time `Machine.run_for(virtual_ns)` with
`time.perf_counter()`. Figures of a run:

    packets      packets offered to the machine during the timed window (NIC arrivals, or lo
                 transmissions for LO) = m.stats.offered after - before
    pkts_per_s   packets / wall seconds                  ("simulated packets per wall second")
    rtf          virtual seconds / wall seconds          ("real-time factor"; 1 = keeps up)
    events_per_s engine events / wall seconds (m.eq.events_run)
    pkts_per_cpu_s, rtf_cpu   the same per CPU second of this process (time.process_time()):
                 steadier than wall time when other work shares the host's cores
    tps          LO only: UDP_RR transactions / wall seconds

`measure()` repeats runs and reports the median with min and max of each figure.

    python -m bench.engine_bench --machine R16 --mode stock --virtual-ms 20 --repeats 5
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time

from procnet.engine import NSEC_PER_MSEC, NSEC_PER_SEC

from bench.machines import MACHINES, MODES, build

FIGURES = ("pkts_per_s", "rtf", "events_per_s", "wall_s", "tps", "us_per_pkt", "cpu_s",
           "pkts_per_cpu_s", "rtf_cpu")


def warmup_ns(virtual_ns: int) -> int:
    return max(NSEC_PER_MSEC // 2, virtual_ns // 10)


def one_run(name: str, mode: str, virtual_ns: int, **overrides) -> dict:
    t_build = time.perf_counter()
    m = build(name, mode, **overrides)
    build_s = time.perf_counter() - t_build
    m.run_for(warmup_ns(virtual_ns))
    gc.collect()
    st = m.stats
    off0, del0, ev0 = st.offered, st.delivered, m.eq.events_run
    tx0 = sum(p.transactions for p in m.udp_rr.values())
    c0, t0 = time.process_time(), time.perf_counter()
    m.run_for(virtual_ns)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    packets = st.offered - off0
    tx = sum(p.transactions for p in m.udp_rr.values()) - tx0
    events = m.eq.events_run - ev0
    run = {
        "wall_s": wall,
        "build_s": build_s,
        "virtual_ns": virtual_ns,
        "packets": packets,
        "delivered": st.delivered - del0,
        "dropped_total": sum(st.dropped.values()),
        "events": events,
        "transactions": tx,
        "pkts_per_s": packets / wall,
        "rtf": virtual_ns / NSEC_PER_SEC / wall,
        "events_per_s": events / wall,
        "us_per_pkt": wall * 1e6 / packets if packets else float("nan"),
        "tps": tx / wall,
        "cpu_s": cpu,
        "pkts_per_cpu_s": packets / cpu if cpu > 0 else float("nan"),
        "rtf_cpu": virtual_ns / NSEC_PER_SEC / cpu if cpu > 0 else float("nan"),
        "mode_check": m.mode_name(),
    }
    if run["mode_check"] != mode:
        raise AssertionError(f"{name}: asked for {mode}, the machine runs {run['mode_check']}")
    del m
    gc.collect()
    return run


def summarize(runs: list[dict]) -> dict:
    out = {}
    for k in FIGURES:
        vals = [r[k] for r in runs]
        out[k] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
    for k in ("packets", "delivered", "events", "transactions"):
        out[k] = statistics.median(r[k] for r in runs)
    return out


def command(name: str, mode: str, virtual_ns: int, repeats: int, **overrides) -> str:
    extra = "".join(f" --{k} {v:#x}" if k == "rps" else f" --{k.replace('_', '-')} {v}"
                    for k, v in overrides.items() if v is not None)
    return (f"python -m bench.engine_bench --machine {name} --mode {mode} "
            f"--virtual-ms {virtual_ns / NSEC_PER_MSEC:g} --repeats {repeats}{extra}")


def _result(name: str, mode: str, virtual_ns: int, runs: list[dict], **overrides) -> dict:
    return {"machine": name, "mode": mode, "virtual_ns": virtual_ns, "repeats": len(runs),
            "overrides": {k: v for k, v in overrides.items() if v is not None},
            "runs": runs, "summary": summarize(runs),
            "command": command(name, mode, virtual_ns, len(runs), **overrides)}


def measure(name: str, mode: str, virtual_ns: int, repeats: int, **overrides) -> dict:
    runs = [one_run(name, mode, virtual_ns, **overrides) for _ in range(repeats)]
    return _result(name, mode, virtual_ns, runs, **overrides)


def measure_modes(name: str, modes, virtual_ns: int, repeats: int) -> dict:
    """Every mode of one machine, the modes taking turns (stock, then the others, `repeats`
    rounds), so that each mode's "vs_stock" is the median of ratios taken round by round: on
    this shared host one mode's median alone moved by 1.5x between runs."""
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for _ in range(repeats):
        for mode in modes:
            runs[mode].append(one_run(name, mode, virtual_ns))
    out = {mode: _result(name, mode, virtual_ns, r) for mode, r in runs.items()}
    if "stock" in runs:
        for mode, r in runs.items():
            ratios = [a["pkts_per_s"] / b["pkts_per_s"] for a, b in zip(r, runs["stock"])]
            out[mode]["vs_stock"] = {"median": statistics.median(ratios), "min": min(ratios),
                                     "max": max(ratios)}
    return out


def fmt_range(fig: dict, scale: float = 1.0, digits: int = 3) -> str:
    def f(v: float) -> str:
        return f"{v * scale:.{digits}g}"
    return f"{f(fig['median'])} ({f(fig['min'])}-{f(fig['max'])})"


def fmt_rate(fig: dict) -> str:
    """A rate's median (min-max) in one unit, chosen by the median: '2.93 (2.73-3.25) M'."""
    for scale, unit in ((1e6, "M"), (1e3, "k")):
        if fig["median"] >= scale:
            return f"{fmt_range(fig, 1 / scale)} {unit}"
    return fmt_range(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.engine_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--machine", choices=MACHINES, default="R16")
    ap.add_argument("--mode", choices=MODES, default="stock")
    ap.add_argument("--virtual-ms", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpus", type=int)
    ap.add_argument("--pps", type=int)
    ap.add_argument("--flows", type=int)
    ap.add_argument("--queues", type=int)
    ap.add_argument("--rps", type=lambda v: int(v, 16), metavar="HEXMASK",
                    help="rps_cpus of every queue (R16/R64 kinds; default all CPUs)")
    ap.add_argument("--rx-usecs", type=int, metavar="US",
                    help="eth0's interrupt coalescing (R16/R64 kinds; default 8)")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON")
    a = ap.parse_args(argv)
    res = measure(a.machine, a.mode, int(a.virtual_ms * NSEC_PER_MSEC), a.repeats,
                  cpus=a.cpus, pps=a.pps, flows=a.flows, queues=a.queues, rps=a.rps,
                  rx_usecs=a.rx_usecs)
    if a.json:
        json.dump(res, sys.stdout, indent=1)
        print()
        return 0
    s = res["summary"]
    print(f"{a.machine} {a.mode}: {fmt_rate(s['pkts_per_s'])} simulated pkts/wall s, "
          f"real-time factor {fmt_range(s['rtf'])}, {fmt_rate(s['events_per_s'])} "
          f"events/s ({s['events'] / max(s['packets'], 1):.2f} per packet), "
          f"{fmt_rate(s['pkts_per_cpu_s'])} pkts/CPU s, "
          f"median of {a.repeats} (min-max)"
          + (f", {fmt_rate(s['tps'])} UDP_RR transactions/wall s"
             if a.machine == "LO" else ""))
    print(f"  command: {res['command']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
