"""Seeded runs that exercise every part of the engine, and everything they let one observe.

Used two ways (tests/test_engine_build.py):
  * compiled vs. plain Python: the same scenario must give the same observation in both (the
    compiled engine is the same source; this catches C integer and typing slips);
  * against tests/data/engine_golden.json: what the engine computed when the scenario was
    recorded. A change to the model changes it on purpose; then re-record with
    `python tests/engine_scenarios.py --record` and say in the commit what changed and why.

Run as a script it prints one scenario's observation as JSON (`--scenario NAME`), which is how
the plain-Python side is run in a subprocess.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "data" / "engine_golden.json"
US, MS = 1_000, 1_000_000


def observe(m) -> dict:
    """Everything a user can see of a run, as plain data."""
    m.check_conservation()
    s = m.summary(max_flows=10_000)
    s.pop("tasks")
    return {
        "summary": s,
        "softnet_stat": [list(r) for r in m.softnet_stat()],
        "cpu_times": m.cpu_times(),
        "tasks": [[t.pid, t.comm, t.cpu, t.state, t.runtime_ns, t.utime_ns, t.stime_ns,
                   t.nvcsw, t.nivcsw, t.migrations, t.wakeups, t.spin_iters]
                  for t in m.task_list()],
        "interrupts": [[c.id, c.irqs["CAL"], c.irqs["RES"], c.net_rx_softirqs, c.ctxt]
                       for c in m.cpus],
        "irq_counts": {f"{d.name}/{q.index}": sorted(q.irq_counts.items())
                       for d in m.netdevs.values() for q in d.rxqs},
        "latency_p": [m.stats.latency.percentile(p) for p in (1, 10, 50, 90, 99, 99.9, 100)],
        "dmesg": [list(x) for x in m.dmesg[-20:]],
        "events": m.eq.events_run,
        "now": m.now_ns,
    }


def _nic_machine(mode: str, seed: int = 7, cpus: int = 4, **kw):
    from procnet.engine import Machine, MachineConfig, NetDeviceConfig, TaskConfig
    cfg = MachineConfig(
        cpus=cpus, seed=seed, thread_backlog_napi=mode == "thread_backlog_napi",
        devices=(NetDeviceConfig(rx_queues=2, irq_cpus=(0, 1)),
                 NetDeviceConfig(name="lo", irq_cpus=(), loopback=True)),
        tasks=(TaskConfig("hog", cpus=(2,)), TaskConfig("duty", util=30, period_ns=2 * MS)),
        **kw)
    m = Machine(cfg)
    if mode == "backlog_threaded":
        m.set_sysctl("backlog_threaded", 1)
    return m


def _traffic(m, pps: int = 400_000):
    from procnet.engine import TrafficConfig
    m.add_traffic(TrafficConfig("p", flows=32, pps=pps, pattern="poisson"))
    m.add_traffic(TrafficConfig("b", flows=4, pps=pps // 2, pattern="onoff",
                                on_ns=2 * MS, off_ns=3 * MS))
    m.add_traffic(TrafficConfig("c", flows=3, pps=pps // 4, pattern="constant"))


def rps_flow_limit(mode: str):
    """RPS on both queues, a small backlog and flow limit: drops of every reason but ring."""
    from procnet.engine import TrafficConfig
    m = _nic_machine(mode)
    m.set_rps_cpus("eth0", 0, 0b1110)
    m.set_rps_cpus("eth0", 1, 0b1100)
    m.set_sysctl("netdev_max_backlog", 300)
    m.set_sysctl("flow_limit_cpu_bitmap", 0b0011)
    _traffic(m, 900_000)
    m.add_traffic(TrafficConfig("elephant", flows=1, pps=400_000))
    m.run_for(30 * MS)
    return m


def switching(mode: str):
    """backlog_threaded toggled at uneven instants under load, budgets squeezed."""
    m = _nic_machine("stock" if mode == "backlog_threaded" else mode)
    m.set_rps_cpus("eth0", 0, 0b1111)
    m.set_sysctl("netdev_budget", 50)
    m.set_sysctl("dev_weight", 16)
    _traffic(m, 600_000)
    for i in range(12):
        m.run_for((300 + 170 * i) * US)
        if mode == "backlog_threaded":
            m.set_sysctl("backlog_threaded", i % 2 == 0)
    m.run_for(3 * MS)
    return m


def lifecycle(mode: str):
    """CPU hotplug, affinity, traffic and tasks added and removed, then unregister."""
    from procnet.engine import NetDeviceConfig, TaskConfig, TrafficConfig
    m = _nic_machine(mode, cpus=6)
    m.add_netdev(NetDeviceConfig(name="eth1", rx_queues=3, irq_cpus=(3, 4, 5), driver="netif_rx",
                                 ring_size=48, rx_usecs=1000))
    m.set_rps_cpus("eth0", 0, 0b111110)
    m.set_rps_cpus("eth1", 1, 0b000111)
    _traffic(m, 500_000)
    m.add_traffic(TrafficConfig("e1", dev="eth1", flows=9, pps=300_000))
    m.run_for(4 * MS)
    m.cpu_down(3)
    m.run_for(2 * MS)
    m.add_task(TaskConfig("late", cpus=(4, 5), util=50, period_ns=1 * MS))
    m.cpu_down(1)
    m.run_for(2 * MS)
    m.cpu_up(3)
    m.del_traffic("b")
    m.run_for(2 * MS)
    m.del_task("duty")
    m.unregister_netdev("eth1")
    m.run_for(2 * MS)
    m.cpu_up(1)
    m.run_for(3 * MS)
    return m


def loopback(mode: str):
    """UDP_RR pairs over lo beside NIC traffic, RFC variant of seed 002 included."""
    from procnet.engine import UdpRRConfig
    m = _nic_machine(mode, udp_rr=(UdpRRConfig("rr", client_cpus=(1,), server_cpus=(2,)),
                                   UdpRRConfig("rr2")))
    if mode == "thread_backlog_napi":
        m.set_model("backlog_local_shortcut", 0)
    m.set_rps_cpus("lo", 0, 0b0110)
    _traffic(m, 200_000)
    m.run_for(15 * MS)
    return m


def as_written():
    """Seed 000 as written on >= 6.0 trees: the freeze emerges (docs/openwrt-freeze.md)."""
    m = _nic_machine("stock", felix_variant="as-written")
    m.set_rps_cpus("eth0", 0, 0b1110)
    m.set_rps_cpus("eth0", 1, 0b1110)
    _traffic(m, 300_000)
    m.run_for(3 * MS)
    m.set_sysctl("backlog_threaded", 1)
    m.run_for(10 * MS)
    m.set_sysctl("backlog_threaded", 0)
    m.run_for(5 * MS)
    return m


def preempt_rt():
    """PREEMPT_RT: softirqs from hardirq exit go to ksoftirqd; FIFO user task."""
    from procnet.engine import Machine, MachineConfig, TaskConfig, TrafficConfig
    m = Machine(MachineConfig(cpus=4, seed=3, preempt_rt=True))
    m.add_task(TaskConfig("rt", cpus=(1,), util=40, period_ns=1 * MS), policy="fifo")
    m.set_rps_cpus("eth0", 0, 0b1110)
    m.add_traffic(TrafficConfig("t", flows=5, pps=300_000))
    m.run_for(10 * MS)
    return m


SCENARIOS = {}
for _mode in ("stock", "backlog_threaded", "thread_backlog_napi"):
    for _fn in (rps_flow_limit, switching, lifecycle, loopback):
        SCENARIOS[f"{_fn.__name__}-{_mode}"] = (lambda f, mo: lambda: f(mo))(_fn, _mode)
SCENARIOS["as_written"] = as_written
SCENARIOS["preempt_rt"] = preempt_rt


def run(name: str) -> dict:
    return json.loads(json.dumps(observe(SCENARIOS[name]()), default=str))


def digest(obs: dict) -> str:
    return hashlib.sha256(json.dumps(obs, sort_keys=True).encode()).hexdigest()


def main() -> None:
    sys.path.insert(0, str(HERE.parent))
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", action="append", help="print these scenarios' observations")
    ap.add_argument("--record", action="store_true", help=f"rewrite {GOLDEN.name}")
    args = ap.parse_args()
    if args.record:
        GOLDEN.write_text(json.dumps({n: run(n) for n in SCENARIOS}, sort_keys=True, indent=0)
                          + "\n")
        print(f"wrote {GOLDEN}")
        return
    print(json.dumps({n: run(n) for n in (args.scenario or SCENARIOS)}, sort_keys=True))


if __name__ == "__main__":
    main()
