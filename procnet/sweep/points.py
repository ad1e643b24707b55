"""One sweep point: a pure function of (config, mode, seed) over the engine's Python API.

`run_point(task)` builds a fresh Machine, applies the mode, runs it in virtual time and returns a
flat row: the point's parameters, mode, seed, and the output contract of
`procnet.experiments.report.variant_metrics` flattened into columns. No FUSE, no wall clock in
the row: the same task gives the same row, in any process, on any machine.

Any exception raised while building or running the machine becomes a row with status "error"
and the exception's text; the sweep goes on.
"""
from __future__ import annotations

import json

from procnet import __version__
from procnet.engine import (Machine, MachineConfig, NetDeviceConfig, TaskConfig, TrafficConfig,
                            UdpRRConfig)
from procnet.engine.config import spread_irqs
from procnet.engine.stats import DROP_REASONS
from procnet.experiments.report import variant_metrics

THREAD_BACKLOG_NAPI = "thread_backlog_napi"

# Columns of every row, in order (the point's parameters go between HEAD and METRIC_COLUMNS).
HEAD = ("key", "status", "error", "scenario", "mode", "seed")
METRIC_COLUMNS = (
    "offered_pps", "delivered_pps", "dropped_total",
    *(f"dropped_{r}" for r in DROP_REASONS),
    "p50_us", "p99_us", "p999_us", "mean_us", "context_switches", "ipis", "received_rps",
    "wakeups", "migrations", "hog_cpu_share", "user_cpu_share", "cpu_util_max", "cpu_util_mean",
    "cpu_util", "transactions_per_s", "stalls_detected", "conserved", "duration_s",
    "procnet_version")
INT_METRICS = ("offered_pps", "delivered_pps", "dropped_total",
               *(f"dropped_{r}" for r in DROP_REASONS), "context_switches", "ipis",
               "received_rps", "wakeups", "migrations", "transactions_per_s", "stalls_detected")
FLOAT_METRICS = ("p50_us", "p99_us", "p999_us", "mean_us", "hog_cpu_share", "user_cpu_share",
                 "cpu_util_max", "cpu_util_mean", "duration_s")


def column_value(v):
    """A parameter value as a column: scalars as they are, lists as compact JSON."""
    return json.dumps(v, separators=(",", ":")) if isinstance(v, (list, dict)) else v


def run_point(task: dict) -> dict:
    """Run one point; never raises for a problem of the point itself (error row instead)."""
    config, mode, seed = task["config"], task["mode"], task["seed"]
    row = {"key": task["key"], "status": "ok", "error": None,
           "scenario": config.get("scenario", "template"), "mode": mode, "seed": seed,
           **{k: column_value(v) for k, v in task["params"].items()}}
    try:
        if "template" in config:
            metrics = run_template(config["template"], mode, seed)
        else:
            metrics = SCENARIO_FUNCS[config["scenario"]](config["params"], mode, seed)
    except Exception as e:  # noqa: BLE001 - a failing point is data, not a crash
        row.update({"status": "error", "error": f"{type(e).__name__}: {e}"})
        row.update(dict.fromkeys(METRIC_COLUMNS))
        return row
    row.update(metrics)
    return row


# ---------------------------------------------------------------- measuring
def _machine_config(mode: str, **kw) -> MachineConfig:
    tbn = mode == THREAD_BACKLOG_NAPI
    return MachineConfig(thread_backlog_napi=tbn, cmdline=THREAD_BACKLOG_NAPI if tbn else "", **kw)


def _apply_runtime_mode(m: Machine, mode: str) -> None:
    """seed 000 is switched on at run time, as `echo 1 > backlog_threaded` does."""
    if mode == "backlog_threaded":
        m.set_sysctl("backlog_threaded", 1)
    if m.mode_name() != mode:
        raise RuntimeError(f"machine is in mode {m.mode_name()!r}, expected {mode!r}")


def measure(m: Machine, duration_ns: int, mode: str) -> dict:
    """Snapshot, run, snapshot: the contract metrics between the two, flattened."""
    start = m.summary()
    m.run_for(duration_ns)
    end = m.summary()
    v = variant_metrics([("start", start), ("end", end)], mode)
    dt = max(end["time_ns"] - start["time_ns"], 1)
    user = sum(c["user_ns"] for c in end["per_cpu"]) - sum(c["user_ns"] for c in start["per_cpu"])
    util = v["cpu_util"]
    out = {
        "offered_pps": v["offered_pps"],
        "delivered_pps": v["delivered_pps"],
        "dropped_total": sum(v["dropped"].values()),
        **{f"dropped_{r}": v["dropped"].get(r, 0) for r in DROP_REASONS},
        "p50_us": v["latency_us"]["p50"], "p99_us": v["latency_us"]["p99"],
        "p999_us": v["latency_us"]["p999"], "mean_us": v["latency_us"]["mean"],
        "context_switches": v["context_switches"], "ipis": v["ipis"],
        "received_rps": v["received_rps"], "wakeups": v["wakeups"],
        "migrations": v["migrations"],
        "hog_cpu_share": v.get("hog_cpu_share"),
        "user_cpu_share": round(user / dt, 4),
        "cpu_util_max": max(util) if util else 0.0,
        "cpu_util_mean": round(sum(util) / len(util), 4) if util else 0.0,
        "cpu_util": " ".join(f"{u:.4f}" for u in util),
        "transactions_per_s": v.get("transactions_per_s"),
        "stalls_detected": v["stalls_detected"],
        "conserved": v["conserved"],
        "duration_s": v["duration_s"],
        "procnet_version": __version__,
    }
    for k in INT_METRICS:
        if out[k] is not None:
            out[k] = int(out[k])
    for k in FLOAT_METRICS:
        if out[k] is not None:
            out[k] = float(out[k])
    return out


# ---------------------------------------------------------------- built-in scenarios
def imbalance(p: dict, mode: str, seed: int) -> dict:
    """procnet/experiments/scripts/imbalance.sh, step by step, on the engine API:
    rps_cpus of eth0 rx-0, a hog pinned next to the IRQ, the traffic, the mode, then measure."""
    m = Machine(_machine_config(mode, cpus=p["cpus"], seed=seed))
    m.set_rps_cpus("eth0", 0, p["rps_mask"])
    if p["hog_util"] > 0:
        m.add_task(TaskConfig("hog", cpus=(p["hog_cpu"],), util=p["hog_util"]))
    m.add_traffic(TrafficConfig("t1", dev="eth0", flows=p["flows"], pps=p["pps"],
                                pattern=p["pattern"]))
    _apply_runtime_mode(m, mode)
    out = measure(m, p["duration"], mode)
    if p["hog_util"] == 0:
        out["hog_cpu_share"] = 0.0
    return out


SCENARIO_FUNCS = {"imbalance": imbalance}


# ---------------------------------------------------------------- templates
def run_template(t: dict, mode: str, seed: int) -> dict:
    """A resolved template (spec.py's normalized form): machine, settings, load, mode, measure."""
    ncpu = t["cpus"]
    devices = [NetDeviceConfig(d["name"], rx_queues=d["rxqueues"],
                               irq_cpus=tuple(d["irq"]) if d["irq"] is not None
                               else spread_irqs(d["rxqueues"], ncpu),
                               driver=d["driver"], ring_size=d["ring"],
                               napi_weight=d["napi_weight"], rx_usecs=d["rx_usecs"])
               for d in t["devices"]]
    if not any(d.name == "lo" for d in devices):
        devices.append(NetDeviceConfig(name="lo", irq_cpus=(), loopback=True))
    m = Machine(_machine_config(mode, cpus=ncpu, hz=t["hz"], seed=seed, devices=tuple(devices)))
    for k, v in t["model"].items():
        m.set_model(k, v)
    for k, v in t["sysctl"].items():
        m.set_sysctl(k, v)
    for d in t["devices"]:
        if d["rps_cpus"]:
            for q in range(d["rxqueues"]):
                m.set_rps_cpus(d["name"], q, d["rps_cpus"])
    for task in t["tasks"]:
        if task["util"] > 0:
            m.add_task(TaskConfig(task["name"], cpus=tuple(task["cpus"]) if task["cpus"] else None,
                                  util=task["util"], period_ns=task["period"]),
                       policy=task["policy"])
    for rr in t["udp_rr"]:
        m.add_udp_rr(UdpRRConfig(rr["name"],
                                 client_cpus=tuple(rr["client"]) if rr["client"] else None,
                                 server_cpus=tuple(rr["server"]) if rr["server"] else None))
    for tr in t["traffic"]:
        m.add_traffic(TrafficConfig(tr["name"], dev=tr["dev"], flows=tr["flows"], pps=tr["pps"],
                                    pattern=tr["pattern"], size=tr["size"], on_ns=tr["on"],
                                    off_ns=tr["off"], seed=tr["seed"]))
    _apply_runtime_mode(m, mode)
    return measure(m, t["duration"], mode)
