"""Shared builders for the engine unit tests (tests/test_engine_*.py).

The tests drive `procnet.engine` directly, without FUSE. Expected numbers in the tests are derived
by hand from ../shared/kernel-facts.md and from the engine's flat cost model (`CostModel`); the
helpers here only build machines, inject packets the way an entry point would, and observe polls.

Packets injected by hand are counted as offered (as `RxQueue.fill` and `loopback_xmit` do), so
`Machine.check_conservation()` holds in every test: offered == delivered + dropped + queued.
"""
from __future__ import annotations

from procnet.engine.config import (NSEC_PER_MSEC, NSEC_PER_USEC, MachineConfig,
                                   NetDeviceConfig)
from procnet.engine.machine import Machine
from procnet.engine.traffic import Flow

MS = NSEC_PER_MSEC
US = NSEC_PER_USEC

# /proc/net/softnet_stat columns (kernel-facts.md section 8), 0-based indexes into a row.
PROCESSED, DROPPED, TIME_SQUEEZE = 0, 1, 2
RECEIVED_RPS, FLOW_LIMIT_COUNT, BACKLOG_LEN = 9, 10, 11
CPU_ID, INPUT_QLEN, PROCESS_QLEN = 12, 13, 14

GOLDEN_RATIO_32 = 0x61C88647


def eth(name: str = "eth0", **kw) -> NetDeviceConfig:
    return NetDeviceConfig(name=name, **kw)


def machine(cpus: int = 4, devices=None, **kw) -> Machine:
    """A machine with only eth0 (IRQ on CPU 0) unless `devices` says otherwise."""
    if devices is None:
        devices = (eth(),)
    return Machine(MachineConfig(cpus=cpus, devices=tuple(devices), **kw))


def make_flow(m: Machine, hash_: int, dev: str = "eth0") -> Flow:
    """A flow with a chosen 32-bit hash on `dev`, registered like generated flows."""
    fid = m._next_fid
    m._next_fid += 1
    f = Flow(fid, f"test/{fid}", ("test", fid), hash_ & 0xFFFFFFFF, m.netdevs[dev])
    m.register_flow(f)
    return f


def inject(m: Machine, flow: Flow, target: int, this_cpu: int, n: int = 1,
           t_ns: int | None = None) -> list[bool]:
    """Call enqueue_to_backlog(t_ns, flow, target, this_cpu) n times, counting each packet as
    offered first (what netif_rx's callers do). Returns the accept/refuse results in order."""
    out = []
    for _ in range(n):
        m.stats.offered += 1
        out.append(m.enqueue_to_backlog(m.now_ns if t_ns is None else t_ns, flow, target,
                                        this_cpu))
    return out


def fill_process_queue(m: Machine, cpu: int, flow: Flow, n: int) -> None:
    """Put n packets straight onto a CPU's process_queue (as if spliced earlier)."""
    sd = m.softnet[cpu]
    for _ in range(n):
        sd.process_queue.append((m.now_ns, flow))
    sd.input_queue_tail += n
    m.stats.offered += n


def fill_ring(m: Machine, rxq, flow: Flow, n: int) -> None:
    """Put n packets in an rx ring that has no traffic stream (the NIC received them)."""
    assert not rxq.streams, "fill_ring is for queues without a traffic generator"
    for _ in range(n):
        rxq.ring.append((m.now_ns, flow))
    m.stats.offered += n


def task(m: Machine, comm: str):
    found = [t for t in m.task_list() if t.comm == comm]
    assert len(found) == 1, f"expected one task {comm!r}, found {found}"
    return found[0]


def tasks_named(m: Machine, prefix: str) -> list:
    return [t for t in m.task_list() if t.comm.startswith(prefix)]


def row(m: Machine, cpu: int) -> tuple[int, ...]:
    """softnet_stat values of one CPU (also for an offline CPU, whose row is not printed)."""
    return m.softnet[cpu].softnet_stat_row()


def run_checked(m: Machine, total_ns: int, step_ns: int = MS, each=None) -> None:
    """Run in steps, asserting conservation after every step (and calling each(m, i))."""
    steps = total_ns // step_ns
    for i in range(steps):
        m.run_for(step_ns)
        m.check_conservation()
        if each is not None:
            each(m, i)


class PollTrace:
    """Record every NAPI poll: (time_ns, napi name, work, cpu, context) where context is
    "irq_exit", the comm of the task hosting the softirq (ksoftirqd/N, a BH-enabling task) or the
    comm of the kthread polling a threaded NAPI.

    A probe on the machine's napi:napi_poll tracepoint (Machine.trace_napi_poll), which only
    observes."""

    def __init__(self, m: Machine) -> None:
        self.m = m
        self.polls: list[tuple[int, str, int, int, str | None]] = []
        m.trace_napi_poll = self._record

    def _record(self, napi, work: int, cpu: int) -> None:
        c = self.m.cpus[cpu]
        if c.softirq_active:             # net_rx_action: on irq exit or in a task's BH section
            host = c.softirq_host.comm if c.softirq_host is not None else "irq_exit"
        else:                             # a threaded NAPI poll in its kthread
            host = c.curr.comm if c.curr is not None else None
        self.polls.append((self.m.now_ns, napi.name, work, cpu, host))

    def names(self) -> list[str]:
        return [p[1] for p in self.polls]

    def works(self) -> list[int]:
        return [p[2] for p in self.polls]


def inverse_mod_2_32(a: int) -> int:
    return pow(a, -1, 1 << 32)
