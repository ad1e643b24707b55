"""`procnet demo`: the default machine under the seeds' typical load, in the three modes.

Machine: 4 CPUs, eth0 with one rx queue whose IRQ lands on CPU 0, RPS to CPUs 1-3, two flows at
1 Mpps, and a CPU hog pinned to CPU 1 (one RPS target is busy: the imbalance seed 000 targets).
Uses the engine's Python API directly; `procnet experiment imbalance` is the full version.
"""
from __future__ import annotations

import time
from dataclasses import replace

from procnet.engine.config import MachineConfig, TaskConfig, TrafficConfig
from procnet.engine.machine import Machine
from procnet.kernelfs.render import softnet_seq_show

MODES = (("stock", {}), ("backlog_threaded=1 (seed 000)", {"felix": True}),
         ("thread_backlog_napi (seed 002)", {"thread_backlog_napi": True}))


def run_demo(base: MachineConfig, duration_ns: int, echo=print) -> list[dict]:
    results = []
    for label, how in MODES:
        cfg = replace(base, thread_backlog_napi=how.get("thread_backlog_napi", False),
                      traffic=base.traffic or (TrafficConfig("t", flows=2, pps=1_000_000),),
                      tasks=base.tasks or (TaskConfig("hog", cpus=(1 % base.cpus,)),))
        m = Machine(cfg)
        dev = next(d.name for d in cfg.devices if not d.loopback)
        for q in range(len(m.netdevs[dev].rxqs)):
            m.set_rps_cpus(dev, q, ((1 << cfg.cpus) - 1) & ~1 or 1)
        if how.get("felix"):
            m.set_sysctl("backlog_threaded", 1)
        wall = time.perf_counter()
        m.run_for(duration_ns)
        wall = time.perf_counter() - wall
        m.check_conservation()
        s = m.summary()
        echo(f"== {label}: {duration_ns / 1e6:g} ms virtual in {wall:.2f} s wall")
        echo("-- /proc/net/softnet_stat")
        echo(softnet_seq_show(m).rstrip("\n"))
        secs = duration_ns / 1e9
        echo(f"   offered {s['offered'] / secs:,.0f} pps, delivered {s['delivered'] / secs:,.0f} pps,"
             f" dropped {sum(s['dropped'].values())}, queued {s['queued']}")
        lat = s["latency_us"]
        echo(f"   latency p50 {lat['p50']} us, p99 {lat['p99']} us; IPIs {s['ipis']}, "
             f"wake-ups {s['wakeups']}, context switches {s['context_switches']}, "
             f"migrations {s['migrations']}")
        echo("   cpu util " + " ".join(f"cpu{c['cpu']}={c['util']:.0%}" for c in s["per_cpu"]))
        results.append({"mode": label, **s})
    return results
