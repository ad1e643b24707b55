"""Scaling sweeps: wall time against offered load, CPU count and flow count (stock mode).

    pps    R16 (16 CPUs, 16 queues, RPS all, 1024 flows) at 1, 2, 5, 10 Mpps
    cpus   R16-like machines with 4, 16, 64 CPUs (one rx queue per CPU, RPS all) at a fixed
           2 Mpps, 1024 flows: a load 4 CPUs carry without drops, so every machine does the
           same packet work
    idle_cpus  the cpus sweep's work on 4 rx queues with RPS to CPUs 0-3 only, beside 0, 12
           and 60 CPUs that get no packets: what the CPU count itself costs the engine
    flows  R16 at 10 Mpps with 16 .. 65536 flows

Each point simulates the same virtual duration; figures are medians (min-max) of the repeats.
Writes scaling_<sweep>.csv and scaling_<sweep>.png (matplotlib, Agg backend).

    python -m bench.scaling --sweep pps --virtual-ms 20 --repeats 3 --out out/bench
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from procnet.engine import NSEC_PER_MSEC

from bench import engine_bench

SWEEPS = {
    "pps": ("offered load (Mpps)", [1_000_000, 2_000_000, 5_000_000, 10_000_000]),
    "cpus": ("CPUs (one rx queue each, fixed 2 Mpps)", [4, 16, 64]),
    "idle_cpus": ("CPUs (4 rx queues, RPS to CPUs 0-3, fixed 2 Mpps)", [4, 16, 64]),
    "flows": ("flows (R16, 10 Mpps)", [16, 64, 256, 1024, 4096, 16384, 65536]),
}
CPUS_SWEEP_PPS = 2_000_000
IDLE_CPUS_QUEUES, IDLE_CPUS_RPS = 4, 0xf


def point(sweep: str, x: int, virtual_ns: int, repeats: int) -> dict:
    kw = {"pps": {"pps": x}, "cpus": {"cpus": x, "pps": CPUS_SWEEP_PPS},
          "idle_cpus": {"cpus": x, "pps": CPUS_SWEEP_PPS, "queues": IDLE_CPUS_QUEUES,
                        "rps": IDLE_CPUS_RPS},
          "flows": {"flows": x}}[sweep]
    res = engine_bench.measure("R16", "stock", virtual_ns, repeats, **kw)
    s = res["summary"]
    return {"sweep": sweep, "x": x, "virtual_ms": virtual_ns / NSEC_PER_MSEC,
            "packets": s["packets"],
            "wall_s": s["wall_s"]["median"], "wall_min": s["wall_s"]["min"],
            "wall_max": s["wall_s"]["max"],
            "us_per_pkt": s["us_per_pkt"]["median"], "us_per_pkt_min": s["us_per_pkt"]["min"],
            "us_per_pkt_max": s["us_per_pkt"]["max"],
            "pkts_per_s": s["pkts_per_s"]["median"], "rtf": s["rtf"]["median"],
            "cpu_s": s["cpu_s"]["median"],
            "events_per_pkt": s["events"] / s["packets"] if s["packets"] else 0.0,
            "ns_per_event": s["wall_s"]["median"] * 1e9 / s["events"] if s["events"] else 0.0,
            "repeats": repeats, "command": res["command"]}


def run_sweep(sweep: str, virtual_ns: int, repeats: int, xs: list[int] | None = None,
              progress=None) -> list[dict]:
    rows = []
    for x in xs or SWEEPS[sweep][1]:
        rows.append(point(sweep, x, virtual_ns, repeats))
        if progress:
            progress(rows[-1])
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def plot(sweep: str, rows: list[dict], path: Path, note: str = "") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    label = SWEEPS[sweep][0]
    xs = [r["x"] / 1e6 if sweep == "pps" else r["x"] for r in rows]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    med = [r["wall_s"] for r in rows]
    a1.errorbar(xs, med, yerr=[[m - r["wall_min"] for m, r in zip(med, rows)],
                               [r["wall_max"] - m for m, r in zip(med, rows)]],
                marker="o", capsize=3, label="wall (median, min-max)")
    if all("cpu_s" in r for r in rows):
        a1.plot(xs, [r["cpu_s"] for r in rows], marker="s", ls="--", color="tab:green",
                label="CPU time of the process")
    a1.legend(fontsize=8)
    a1.set_xlabel(label)
    a1.set_ylabel(f"wall s for {rows[0]['virtual_ms']:g} ms virtual")
    a1.set_ylim(bottom=0)
    upp = [r["us_per_pkt"] for r in rows]
    a2.errorbar(xs, upp, yerr=[[u - r["us_per_pkt_min"] for u, r in zip(upp, rows)],
                               [r["us_per_pkt_max"] - u for u, r in zip(upp, rows)]],
                marker="o", capsize=3, color="tab:orange")
    a2.set_xlabel(label)
    a2.set_ylabel("wall us per simulated packet")
    a2.set_ylim(bottom=0)
    if sweep == "flows":
        a1.set_xscale("log", base=2)
        a2.set_xscale("log", base=2)
    for a in (a1, a2):
        a.grid(alpha=0.3)
    what = sweep.replace("_cpus", " CPUs")
    fig.suptitle(f"procnet engine, stock mode: scaling with {what}" + (f" ({note})" if note else ""),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def linear_fit(rows: list[dict]) -> dict:
    """Least squares wall = a + b * packets; R^2 and the per-packet cost spread."""
    xs = [r["packets"] for r in rows]
    ys = [r["wall_s"] for r in rows]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in zip(xs, ys))
    upp = [r["us_per_pkt"] for r in rows]
    return {"intercept_s": a, "us_per_pkt_fit": b * 1e6,
            "r2": 1 - ss_res / ss_tot if ss_tot else 1.0,
            "us_per_pkt_first": upp[0], "us_per_pkt_last": upp[-1],
            "last_over_first": upp[-1] / upp[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", choices=sorted(SWEEPS), required=True)
    ap.add_argument("--virtual-ms", type=float, default=20.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="out/bench")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = run_sweep(a.sweep, int(a.virtual_ms * NSEC_PER_MSEC), a.repeats,
                     progress=lambda r: print(f"  {a.sweep}={r['x']}: wall {r['wall_s']:.3f} s "
                                              f"({r['wall_min']:.3f}-{r['wall_max']:.3f}), "
                                              f"{r['us_per_pkt']:.2f} us/pkt, "
                                              f"{r['packets']} packets"))
    write_csv(rows, out / f"scaling_{a.sweep}.csv")
    plot(a.sweep, rows, out / f"scaling_{a.sweep}.png")
    print(f"wrote {out / f'scaling_{a.sweep}.csv'} and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
