"""Running a built-in experiment and reporting it: table, CSV, JSON, PNG.

Each variant's script appends snapshots of procnet/stats.json to PN_OUT/<variant>.snapshots
("label<TAB>json" lines). Metrics are taken between the "start" snapshot (time 0 if none) and the
"end" snapshot (the last one if none); latency percentiles cover the whole run.
"""
from __future__ import annotations

import csv
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from .registry import EXPERIMENTS, Experiment, Verdict
from .runner import run_script

MARKER_PREFIXES = ("switch:", "cpu", "before-", "after-")
SCHEMA_KEYS = ("mode", "offered_pps", "delivered_pps", "dropped", "latency_us", "context_switches",
               "ipis", "wakeups", "migrations", "cpu_util")


def load_snapshots(path: Path) -> list[tuple[str, dict]]:
    out = []
    for line in path.read_text().splitlines():
        label, _, js = line.partition("\t")
        out.append((label, json.loads(js)))
    return out


def _busy(c: dict) -> int:
    return sum(v for k, v in c.items() if k.endswith("_ns") and k != "idle_ns")


def variant_metrics(snaps: list[tuple[str, dict]], mode: str) -> dict:
    """The output contract (docs/experiments.md) computed from a variant's snapshots."""
    if not snaps:
        raise ValueError("the script recorded no snapshot (pn_snapshot)")
    by_label = {label: s for label, s in snaps}
    end = by_label.get("end", snaps[-1][1])
    start = by_label.get("start")
    t0 = start["time_ns"] if start else 0
    dt = max(end["time_ns"] - t0, 1) / 1e9

    def delta(key: str) -> float:
        return end[key] - (start[key] if start else 0)

    cpu_util = []
    for i, c in enumerate(end["per_cpu"]):
        before = _busy(start["per_cpu"][i]) if start else 0
        cpu_util.append(round(min(1.0, (_busy(c) - before) / (dt * 1e9)), 4))
    tasks_end = {t["comm"]: t["runtime_ns"] for t in end["tasks"]}
    tasks_start = {t["comm"]: t["runtime_ns"] for t in start["tasks"]} if start else {}
    lat = end["latency_us"]
    out = {
        "mode": mode,
        "offered_pps": round(delta("offered") / dt),
        "delivered_pps": round(delta("delivered") / dt),
        "dropped": end["dropped"],
        "latency_us": {"p50": lat["p50"], "p99": lat["p99"], "p999": lat["p999"],
                       "mean": lat["mean"]},
        "context_switches": int(delta("context_switches")),
        "ipis": int(delta("ipis")),
        "received_rps": int(delta("received_rps")),
        "wakeups": int(delta("wakeups")),
        "migrations": int(delta("migrations")),
        "cpu_util": cpu_util,
        "conserved": all(s["conserved"] for _, s in snaps),
        "stalls_detected": end["stalls_detected"],
        "delivered_after_unregister": end["delivered_after_unregister"],
        "duration_s": round(dt, 6),
    }
    if "hog" in tasks_end:
        out["hog_cpu_share"] = round((tasks_end["hog"] - tasks_start.get("hog", 0)) / (dt * 1e9), 4)
    rr = end.get("udp_rr", {})
    if rr:
        tx = sum(p["transactions"] for p in rr.values())
        tx0 = sum(p["transactions"] for p in (start or {}).get("udp_rr", {}).values())
        out["transactions_per_s"] = round((tx - tx0) / dt)
    series = []
    for (l0, a), (l1, b) in zip(snaps, snaps[1:]):
        span = (b["time_ns"] - a["time_ns"]) / 1e9
        if span > 0:
            series.append({"t_ms": b["time_ns"] / 1e6, "label": l1,
                           "delivered_pps": round((b["delivered"] - a["delivered"]) / span),
                           "dropped": sum(b["dropped"].values()) - sum(a["dropped"].values())})
    out["timeseries"] = series
    out["markers"] = [{"t_ms": snap["time_ns"] / 1e6, "label": label} for label, snap in snaps
                      if label.startswith(MARKER_PREFIXES)]
    out["final_delivered_pps"] = series[-1]["delivered_pps"] if series else out["delivered_pps"]
    if "before-unregister" in by_label and "after-unregister" in by_label:
        out["flush_wait_ms"] = (by_label["after-unregister"]["time_ns"]
                                - by_label["before-unregister"]["time_ns"]) / 1e6
    return out


def run_experiment(exp: Experiment, base_opts, out_dir: Path, progress=None,
                   echo=print) -> dict:
    """Run every variant of `exp` on a fresh machine; write results.{json,csv} and a plot."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    logs: dict[str, str] = {}
    for v in exp.variants:
        snap = out_dir / f"{v.label}.snapshots"
        snap.unlink(missing_ok=True)
        cmd = " ".join(w for w in (base_opts.machine.cmdline, v.cmdline) if w)
        machine = replace(base_opts.machine, cpus=exp.cpus,
                          thread_backlog_napi="thread_backlog_napi" in cmd.split(), cmdline=cmd)
        opts = replace(base_opts, machine=machine, clock="manual")
        with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
            status, out = run_script(exp.script, opts, env={"PN_OUT": str(out_dir),
                                                            "PN_VARIANT": v.label},
                                     log_file=log.name, capture=True)
        logs[v.label] = out
        if status != 0:
            raise RuntimeError(f"{exp.name}: script failed for {v.label} (exit {status}):\n{out}")
        results[v.label] = variant_metrics(load_snapshots(snap), v.mode)
        results[v.label]["checks"] = out.count("[ ok ]")
        if progress:
            progress(v.label)
    verdict = exp.judge(results)
    doc = {"experiment": exp.name, "title": exp.title, "claim": exp.claim, "source": exp.source,
           "prediction": verdict.prediction, "model_agrees": verdict.agrees,
           "detail": verdict.detail, "seed": base_opts.machine.seed,
           "variants": [{"variant": v.label, "note": v.note, **results[v.label]}
                        for v in exp.variants]}
    (out_dir / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_csv(exp, results, out_dir / "results.csv")
    plot(exp, results, out_dir / f"{exp.name}.png")
    return doc


def write_csv(exp: Experiment, results: dict[str, dict], path: Path) -> None:
    cols = ["variant", "mode", "offered_pps", "delivered_pps", "dropped_total", "p50_us", "p99_us",
            "p999_us", "context_switches", "ipis", "received_rps", "wakeups", "migrations",
            *exp.extra_metrics, "cpu_util"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for label, r in results.items():
            w.writerow([label, r["mode"], r["offered_pps"], r["delivered_pps"],
                        sum(r["dropped"].values()), r["latency_us"]["p50"], r["latency_us"]["p99"],
                        r["latency_us"]["p999"], r["context_switches"], r["ipis"],
                        r["received_rps"], r["wakeups"], r["migrations"],
                        *(r.get(m, "") for m in exp.extra_metrics),
                        " ".join(f"{u:.2f}" for u in r["cpu_util"])])


def table(exp: Experiment, doc: dict) -> str:
    rows = [("variant", "delivered pps", "dropped", "p50 us", "p99 us", "p99.9 us", "ctx sw",
             "IPIs", "wake-ups", *exp.extra_metrics, "cpu util")]
    for v in doc["variants"]:
        rows.append((v["variant"], f"{v['delivered_pps']:,}", f"{sum(v['dropped'].values()):,}",
                     f"{v['latency_us']['p50']:g}", f"{v['latency_us']['p99']:g}",
                     f"{v['latency_us']['p999']:g}", f"{v['context_switches']:,}",
                     f"{v['ipis']:,}", f"{v['wakeups']:,}",
                     *(f"{v.get(m, 0):,}" for m in exp.extra_metrics),
                     " ".join(f"{u:.0%}" for u in v["cpu_util"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    return "\n".join(lines)


def plot(exp: Experiment, results: dict[str, dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(results)
    if exp.timeseries:
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for label in labels:
            ts = results[label]["timeseries"]
            ax.plot([p["t_ms"] for p in ts], [p["delivered_pps"] / 1e3 for p in ts], label=label,
                    drawstyle="steps-pre")
        for mk in results[labels[0]]["markers"]:
            ax.axvline(mk["t_ms"], color="grey", lw=0.8, ls=":")
            ax.annotate(mk["label"].removeprefix("switch:"), (mk["t_ms"], 0.02),
                        xycoords=("data", "axes fraction"), rotation=90, fontsize=8,
                        va="bottom", ha="right", color="dimgrey")
        ax.set_xlabel("virtual time (ms)")
        ax.set_ylabel("delivered (kpps)")
        ax.legend()
    else:
        metrics = [("delivered_pps", "delivered (pps)"), ("p99", "p99 latency (us)"),
                   ("context_switches", "context switches"), ("ipis", "IPIs / wake-ups")]
        if exp.extra_metrics:
            metrics[0] = (exp.extra_metrics[0], exp.extra_metrics[0].replace("_", " "))
        fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
        for ax, (key, title) in zip(axes, metrics):
            if key == "p99":
                vals = [results[lb]["latency_us"]["p99"] for lb in labels]
            else:
                vals = [results[lb][key] for lb in labels]
            ax.bar(labels, vals, color=["#4c72b0", "#dd8452", "#55a868", "#c44e52"][:len(labels)])
            if key == "ipis":
                ax.plot(labels, [results[lb]["wakeups"] for lb in labels], "k^", label="wake-ups")
                ax.legend(fontsize=7)
            ax.set_title(title, fontsize=9)
            ax.tick_params(axis="x", labelrotation=25, labelsize=7)
    fig.suptitle(f"{exp.name}: {exp.title}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def get(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"no experiment {name!r} (have: {', '.join(EXPERIMENTS)})") from None


__all__ = ["run_experiment", "table", "get", "Verdict", "SCHEMA_KEYS"]
