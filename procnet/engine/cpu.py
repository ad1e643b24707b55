"""One CPU's execution state: what it runs now, what is pending on it, where its time went.

A CPU runs "chunks" (machine.py explains the execution model). The chunk's kind is also the
/proc/stat bucket its time goes to, so both are one small integer (defs.py):

    USER, SYSTEM, IRQ, SOFTIRQ   a chunk of that kind runs; IDLE is only a bucket
    NO_CHUNK                     the CPU runs nothing (idle, or between two chunks)

`chunk_done` says what happens when the chunk ends (DONE_*): nothing, irq_exit(), or
net_rx_action's check after a poll. `Machine.ctx` is the context code runs in (CTX_*).
"""
from __future__ import annotations

from array import array
from collections.abc import MutableMapping

import cython

from .listhead import ListHead
from .sched import QueuedTasks, RunQueue

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import DONE_NONE, NO_CHUNK

BUCKETS = ("user", "system", "irq", "softirq", "idle")     # by chunk kind: defs.USER ... IDLE


class Cpu:
    """One CPU: its run queue, pending interrupts, softirq loop state and time accounting."""

    def __init__(self, cpu_id: int, queued: QueuedTasks | None = None) -> None:
        self.id = cpu_id
        self.online = True
        self.rq = RunQueue(queued)
        self.curr = None                  # the running Task, if any
        self.irq_pending = ListHead()     # interrupts waiting: an RxQueue (NIC) or a
                                          # SoftnetData (RPS IPI to that backlog), oldest first
        self.softirq_pending = False
        self.softirq_active = False       # inside __do_softirq
        self.softirq_host = None          # Task context running it (None: irq exit)
        self.softirq_restart = 0
        self.softirq_end_jiffy = 0
        # The running net_rx_action (in_net_rx): its local list, repoll list, budget, limit.
        self.in_net_rx = False
        self.net_rx_list = ListHead()
        self.net_rx_repoll = ListHead()
        self.net_rx_budget = 0
        self.net_rx_time_limit = 0
        self.need_resched = False
        self.token = 0                    # current chunk; a stale chunk-end event is ignored
        self.chunk_kind = NO_CHUNK
        self.chunk_start = 0
        self.chunk_end = 0
        self.chunk_task = None            # whose time the chunk is (None: IRQ context)
        self.chunk_preemptible = False
        self.chunk_done = DONE_NONE
        self.dispatch_pending = False
        self.idle_since = 0               # -1: not idle
        self.slice_end_ns = 0
        self.acct_ns = array("q", bytes(8 * len(BUCKETS)))   # ns per bucket (BUCKETS order)
        self.ctxt = 0
        self.net_rx_softirqs = 0          # NET_RX entries in /proc/softirqs
        self.ipi_cal = 0                  # function-call IPIs taken (CAL in /proc/interrupts)
        self.ipi_res = 0                  # rescheduling IPIs taken (RES)
        self.irqs_other: dict[str, int] = {}   # other arch vectors, when set (see irqs)
        self.ksoftirqd = None
        self.backlog_thread = None        # seed 002's backlog_napi/N
        self.delivered = 0
        self.last_ran = None              # for counting context switches (None = idle)
        self.acct_from = 0                # running chunk's time is accounted up to here
        self.irq_avg = 0.0                # decayed share of time in hard/soft IRQ
        self.irq_seen_ns = 0              # irq+softirq time at the last balance tick

    @property
    def idle(self) -> bool:
        """idle_cpu(): no task running or queued (IRQ and softirq work is invisible here)."""
        return self.curr is None and not self.rq.tasks

    @property
    def acct(self) -> "CpuTimes":
        """The time buckets as a mapping, e.g. acct["softirq"] (ns; writable)."""
        return CpuTimes(self.acct_ns)

    @property
    def irqs(self) -> "CpuIrqs":
        """Arch interrupt counts by /proc/interrupts symbol, e.g. irqs["CAL"] (writable)."""
        return CpuIrqs(self)

    @property
    def chunk(self) -> tuple | None:
        """The running chunk as (bucket, start_ns, end_ns, task, preemptible, done), or None."""
        if self.chunk_kind == NO_CHUNK:
            return None
        return (BUCKETS[self.chunk_kind], self.chunk_start, self.chunk_end, self.chunk_task,
                self.chunk_preemptible, self.chunk_done)

    @property
    def net_rx(self) -> dict | None:
        """The running net_rx_action's state, or None."""
        if not self.in_net_rx:
            return None
        return {"list": list(self.net_rx_list), "repoll": list(self.net_rx_repoll),
                "budget": self.net_rx_budget, "time_limit": self.net_rx_time_limit}


class CpuTimes(MutableMapping):
    """A CPU's time buckets by name, backed by its acct_ns array."""

    def __init__(self, acct_ns) -> None:
        self._ns = acct_ns

    def __getitem__(self, bucket: str) -> int:
        return self._ns[_bucket_index(bucket)]

    def __setitem__(self, bucket: str, ns: int) -> None:
        self._ns[_bucket_index(bucket)] = ns

    def __delitem__(self, bucket: str) -> None:
        raise TypeError("CPU time buckets cannot be removed")

    def __iter__(self):
        return iter(BUCKETS)

    def __len__(self) -> int:
        return len(BUCKETS)


class CpuIrqs(MutableMapping):
    """A CPU's arch interrupt counts by symbol: CAL and RES are the engine's own counters
    (Cpu.ipi_cal, ipi_res), any other symbol lives in Cpu.irqs_other."""

    _FIELDS = {"CAL": "ipi_cal", "RES": "ipi_res"}

    def __init__(self, cpu: Cpu) -> None:
        self._cpu = cpu

    def __getitem__(self, sym: str) -> int:
        field = self._FIELDS.get(sym)
        return getattr(self._cpu, field) if field else self._cpu.irqs_other[sym]

    def __setitem__(self, sym: str, n: int) -> None:
        field = self._FIELDS.get(sym)
        if field:
            setattr(self._cpu, field, n)
        else:
            self._cpu.irqs_other[sym] = n

    def __delitem__(self, sym: str) -> None:
        if sym in self._FIELDS:
            raise TypeError(f"{sym} cannot be removed")
        del self._cpu.irqs_other[sym]

    def __iter__(self):
        return iter([*self._FIELDS, *self._cpu.irqs_other])

    def __len__(self) -> int:
        return len(self._FIELDS) + len(self._cpu.irqs_other)


def _bucket_index(bucket: str) -> int:
    try:
        return BUCKETS.index(bucket)
    except ValueError:
        raise KeyError(bucket) from None
