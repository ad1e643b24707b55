"""The reference machines of the performance issue, built through the engine's public API only.

    R4   4 CPUs, one-queue eth0 (IRQ on CPU 0), RPS to CPUs 1-3 (rps_cpus = e), 2 flows at
         1 Mpps Poisson, a CPU hog bound to CPU 1.
    R16  16 CPUs, eth0 with 16 rx queues (IRQ i on CPU i), RPS to every CPU on every queue,
         1024 flows at 10 Mpps Poisson.
    R64  64 CPUs, 64 rx queues, RPS to every CPU, 4096 flows at 10 Mpps Poisson.
    LO   4 CPUs, a UDP_RR pair over lo (client on CPU 1, server on CPU 2), no NIC traffic.

Modes: "stock" (default), "backlog_threaded" (seed 000: `set_sysctl("backlog_threaded", 1)` at
run time, before traffic starts) and "thread_backlog_napi" (seed 002: the boot option).

`build(name, mode, ...)` returns a ready Machine; `cpus`, `pps`, `flows` and `queues` override
the reference values for the scaling sweeps (an "R16-like" machine with other numbers; with
`cpus` alone it gets one rx queue per CPU).
"""
from __future__ import annotations

from procnet.engine import (Machine, MachineConfig, NetDeviceConfig, TaskConfig, TrafficConfig,
                            UdpRRConfig)

MODES = ("stock", "backlog_threaded", "thread_backlog_napi")
MACHINES = ("R4", "R16", "R64", "LO")

# name -> (cpus, rx queues, flows, pps); LO has no NIC traffic.
REFERENCE = {
    "R4": (4, 1, 2, 1_000_000),
    "R16": (16, 16, 1024, 10_000_000),
    "R64": (64, 64, 4096, 10_000_000),
    "LO": (4, 1, 0, 0),
}


def describe(name: str) -> str:
    cpus, queues, flows, pps = REFERENCE[name]
    if name == "LO":
        return "4 CPUs, UDP_RR pair over lo (client CPU 1, server CPU 2)"
    if name == "R4":
        return "4 CPUs, 1 rx queue, RPS 0xe, 2 flows, 1 Mpps Poisson, hog on CPU 1"
    return (f"{cpus} CPUs, {queues} rx queues, RPS all CPUs, {flows} flows, "
            f"{pps / 1e6:g} Mpps Poisson")


def _lo() -> NetDeviceConfig:
    return NetDeviceConfig(name="lo", irq_cpus=(), loopback=True)


def build(name: str, mode: str = "stock", *, cpus: int | None = None, pps: int | None = None,
          flows: int | None = None, queues: int | None = None, rps: int | None = None,
          rx_usecs: int | None = None, seed: int = 1, pattern: str = "poisson") -> Machine:
    """A machine of the reference kind `name` in `mode`, traffic already started at t=0.
    `rps` is the rps_cpus mask of every queue of R16/R64-kind machines (default: all CPUs),
    `rx_usecs` their eth0's interrupt coalescing (default: NetDeviceConfig's, 8 us)."""
    if name not in REFERENCE:
        raise ValueError(f"unknown machine {name!r} (expected one of {', '.join(MACHINES)})")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (expected one of {', '.join(MODES)})")
    ref_cpus, ref_queues, ref_flows, ref_pps = REFERENCE[name]
    napi = mode == "thread_backlog_napi"
    if name == "LO":
        m = Machine(MachineConfig(cpus=cpus or ref_cpus, seed=seed, thread_backlog_napi=napi))
        _threaded(m, mode)
        m.add_udp_rr(UdpRRConfig("rr", client_cpus=(1,), server_cpus=(2,)))
        return m
    if name == "R4":
        n = cpus or ref_cpus
        m = Machine(MachineConfig(cpus=n, seed=seed, thread_backlog_napi=napi,
                                  tasks=(TaskConfig("hog", cpus=(1,)),)))
        _threaded(m, mode)
        m.set_rps_cpus("eth0", 0, ((1 << n) - 1) & ~1)        # rps_cpus = e on 4 CPUs
    else:
        n = cpus or ref_cpus
        queues = queues or (n if cpus else ref_queues)
        coalesce = {} if rx_usecs is None else {"rx_usecs": rx_usecs}
        dev = NetDeviceConfig(name="eth0", rx_queues=queues, irq_cpus=tuple(range(queues)),
                              **coalesce)
        m = Machine(MachineConfig(cpus=n, seed=seed, thread_backlog_napi=napi,
                                  devices=(dev, _lo())))
        _threaded(m, mode)
        for q in range(queues):
            m.set_rps_cpus("eth0", q, (1 << n) - 1 if rps is None else rps)
    m.add_traffic(TrafficConfig("t1", dev="eth0", flows=flows or ref_flows,
                                pps=ref_pps if pps is None else pps, pattern=pattern))
    return m


def _threaded(m: Machine, mode: str) -> None:
    if mode == "backlog_threaded":
        m.set_sysctl("backlog_threaded", 1)
