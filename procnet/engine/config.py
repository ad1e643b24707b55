"""Describing a machine, separately from running it (Mininet's Topo vs. Mininet).

Everything here is a frozen dataclass: a `MachineConfig` plus a seed fully determines a run.
Durations are integer nanoseconds and say so in their names.

Simplifications:
  * Costs are flat per-event constants (no cache model, no frequency scaling); see docs/model.md
    for each default and where it comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from .defs import NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC  # noqa: F401 (re-exported)

MAX_COST_NS = NSEC_PER_SEC      # one step costs at most 1 s: sums of costs stay far inside int64


@dataclass(frozen=True)
class CostModel:
    """Virtual CPU cost of each kernel step, in ns. docs/model.md gives the source of each default."""

    hardirq_ns: int = 1_000            # IRQ entry + driver top half + irq_exit
    softirq_entry_ns: int = 200        # __do_softirq / net_rx_action entry bookkeeping
    napi_poll_ns: int = 300            # one __napi_poll call (fixed part)
    driver_rx_ns: int = 150            # per packet: descriptor -> skb in a NAPI driver
    enqueue_ns: int = 100              # per packet: enqueue_to_backlog (lock, append)
    protocol_ns: int = 1_000           # per packet: __netif_receive_skb -> IP -> UDP/TCP socket
    ipi_send_ns: int = 300             # sender side of smp_call_function_single_async
    ipi_latency_ns: int = 1_500        # IPI flight until the target takes the interrupt
    wakeup_ns: int = 500               # try_to_wake_up on the waker's CPU
    wakeup_latency_ns: int = 2_000     # idle exit / reschedule IPI until the wakee can run
    context_switch_ns: int = 2_000     # __schedule + switch_to, direct and cache cost
    migration_ns: int = 5_000          # cache refill charged to a task after it changes CPU
    udp_send_ns: int = 1_500           # sendmsg() of a small UDP datagram up to dev_queue_xmit
    udp_recv_ns: int = 1_000           # recvmsg() of a small UDP datagram
    spin_ns: int = 200                 # one empty napi_threaded_poll iteration (see seed-000 docs)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not (isinstance(v, int) and 0 <= v <= MAX_COST_NS):
                raise ValueError(f"{f.name} must be an integer in 0..{MAX_COST_NS} ns (got {v!r})")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class SchedConfig:
    """kernel/sched/fair.c tunables, scaled for the CPU count as the kernel does (factor 1+ilog2)."""

    base_slice_ns: int = 750_000            # sysctl_sched_base_slice before scaling
    wakeup_granularity_ns: int = 1_000_000  # sysctl_sched_wakeup_granularity before scaling
    balance_interval_ns: int = 4_000_000    # periodic load balance (one tick at HZ=250)


@dataclass(frozen=True)
class NetDeviceConfig:
    """A NIC (or lo). `irq_cpus[i]` is the CPU taking rx queue i's interrupt."""

    name: str = "eth0"
    rx_queues: int = 1
    irq_cpus: tuple[int, ...] = (0,)
    driver: str = "napi"               # "napi" (netif_receive_skb) or "netif_rx" (non-NAPI)
    ring_size: int = 1024              # rx descriptors per queue; a full ring drops ("ring_full")
    napi_weight: int = 64              # NAPI_POLL_WEIGHT
    rx_usecs: int = 8                  # interrupt coalescing delay after the first packet
    loopback: bool = False

    def __post_init__(self) -> None:
        if self.driver not in ("napi", "netif_rx"):
            raise ValueError(f"driver must be napi or netif_rx (got {self.driver!r})")
        if self.rx_queues < 1:
            raise ValueError(f"rx_queues must be >= 1 (got {self.rx_queues})")
        if self.ring_size < 1:
            raise ValueError(f"ring_size must be >= 1 (got {self.ring_size})")


def spread_irqs(rx_queues: int, ncpus: int) -> tuple[int, ...]:
    """Default IRQ placement: queue i's interrupt on CPU i % ncpus, the spread drivers ask for
    with cpumask_local_spread() affinity hints (and irqbalance keeps)."""
    return tuple(i % ncpus for i in range(rx_queues))


@dataclass(frozen=True)
class TrafficConfig:
    """A seeded set of flows arriving on one device."""

    name: str
    dev: str = "eth0"
    flows: int = 1
    pps: int = 100_000
    pattern: str = "poisson"          # constant | poisson | onoff
    size: int = 64                    # bytes; reported, not costed
    on_ns: int = 1 * NSEC_PER_MSEC     # onoff: burst length
    off_ns: int = 1 * NSEC_PER_MSEC    # onoff: silence length
    seed: int = 0                     # mixed with the machine seed

    def __post_init__(self) -> None:
        if self.pattern not in ("constant", "poisson", "onoff"):
            raise ValueError(f"pattern must be constant, poisson or onoff (got {self.pattern!r})")
        if self.flows < 1:
            raise ValueError(f"flows must be >= 1 (got {self.flows})")
        if self.pps < 0:
            raise ValueError(f"pps must be >= 0 (got {self.pps})")
        # Arrival times are numpy int64 ns: a cycle must fit with room for the run itself.
        if not (0 < self.on_ns and 0 <= self.off_ns and self.on_ns + self.off_ns < 2**62):
            raise ValueError(f"on_ns > 0, off_ns >= 0 and on_ns + off_ns < 2**62 "
                             f"(got {self.on_ns}, {self.off_ns})")


@dataclass(frozen=True)
class TaskConfig:
    """A user task: a CPU hog (util=100), a duty-cycle task, or one end of a UDP_RR pair."""

    name: str
    cpus: tuple[int, ...] | None = None   # affinity; None = all CPUs
    util: int = 100                       # percent of its period it wants to run
    period_ns: int = 10 * NSEC_PER_MSEC


@dataclass(frozen=True)
class UdpRRConfig:
    """A UDP request/response pair over `lo` (netperf UDP_RR-like): client and server tasks."""

    name: str = "rr"
    client_cpus: tuple[int, ...] | None = None
    server_cpus: tuple[int, ...] | None = None


def default_devices() -> tuple[NetDeviceConfig, ...]:
    return (NetDeviceConfig(), NetDeviceConfig(name="lo", irq_cpus=(), loopback=True))


@dataclass(frozen=True)
class MachineConfig:
    """The whole machine. The default is the seeds' typical case (design.md section 5)."""

    cpus: int = 4
    seed: int = 1
    hz: int = 250
    thread_backlog_napi: bool = False        # seed 002 boot option (Linux 6.10)
    preempt_rt: bool = False                 # forces thread_backlog_napi; softirq from hardirq -> ksoftirqd
    backlog_local_shortcut: bool = True      # seed 002; False = the August 2023 RFC (always threaded)
    felix_variant: str = "intended"          # seed 000: "intended" or "as-written" (>= 6.0 tree)
    devices: tuple[NetDeviceConfig, ...] = field(default_factory=default_devices)
    traffic: tuple[TrafficConfig, ...] = ()
    tasks: tuple[TaskConfig, ...] = ()
    udp_rr: tuple[UdpRRConfig, ...] = ()
    cost: CostModel = field(default_factory=CostModel)
    sched: SchedConfig = field(default_factory=SchedConfig)
    flush_wait_limit_ns: int = 2 * NSEC_PER_SEC   # bound on seed 000's flush_backlog msleep loop
    cmdline: str = ""                        # what /proc/cmdline shows

    def __post_init__(self) -> None:
        if not 1 <= self.cpus <= 1024:
            raise ValueError(f"cpus must be in 1..1024 (got {self.cpus})")
        if self.hz not in (100, 250, 300, 1000):
            raise ValueError(f"hz must be 100, 250, 300 or 1000 (got {self.hz})")
        if self.felix_variant not in ("intended", "as-written"):
            raise ValueError(f"felix_variant must be intended or as-written (got {self.felix_variant!r})")
        names = [d.name for d in self.devices]
        if len(set(names)) != len(names):
            raise ValueError(f"device names must be unique (got {names})")
        for d in self.devices:
            for c in d.irq_cpus:
                if not 0 <= c < self.cpus:
                    raise ValueError(f"{d.name}: irq cpu {c} out of range 0..{self.cpus - 1}")

    @property
    def use_backlog_threads(self) -> bool:
        """use_backlog_threads(): the boot option, always on with PREEMPT_RT."""
        return self.thread_backlog_napi or self.preempt_rt

    def with_(self, **changes) -> "MachineConfig":
        return replace(self, **changes)
