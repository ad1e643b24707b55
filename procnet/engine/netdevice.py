"""Network devices: rx queues with rings, interrupts, NAPI and RPS maps.

Models the driver side (a generic NAPI or non-NAPI NIC, and `lo`) plus the per-queue RPS state of
`struct netdev_rx_queue` (net/core/net-sysfs.c `store_rps_map`).

Simplifications:
  * A ring is filled lazily: arrivals up to "now" are pulled from the queue's streams whenever
    the ring is looked at. Between two looks the ring only grows, so ring-full drops are exact.
  * Interrupt coalescing is a fixed delay (`rx_usecs`) after the first packet that arrives while
    the queue's interrupt is armed (ethtool rx-usecs; no rx-frames, no adaptive moderation).
  * A NAPI poll takes the packets present when it starts; packets arriving during the poll are
    seen by the next one.
"""
from __future__ import annotations

from array import array

import cython

from .config import NetDeviceConfig
from .skbuff import SkbQueue
from .softnet import Napi
from .traffic import ArrivalStream

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import NO_ARRIVAL, NSEC_PER_USEC

NETREG_REGISTERED = "registered"
NETREG_UNREGISTERING = "unregistering"
NETREG_UNREGISTERED = "unregistered"


class RxQueue:
    __slots__ = ("dev", "index", "ring", "ring_size", "streams", "napi", "irq_cpu",
                 "irq_armed", "irq_token", "rps_map", "rps_mask", "rps_flow_cnt", "irqs_per_cpu",
                 "irq")

    def __init__(self, dev: "NetDevice", index: int, irq_cpu: int | None, weight: int,
                 ncpus: int, flows: list) -> None:
        self.dev = dev
        self.index = index
        self.ring = SkbQueue(flows)
        self.ring_size = dev.cfg.ring_size
        self.streams: list = []          # ArrivalStreams feeding this queue
        self.napi = Napi(f"{dev.name}-rx-{index}", weight, rxq=self)
        self.irq_cpu = irq_cpu
        self.irq_armed = True
        self.irq_token = 0               # invalidates a scheduled interrupt
        self.rps_map = None              # rps_map->cpus[], ascending (an int array), or None
        self.rps_mask = 0                # what rps_cpus reads back (= map CPUs)
        self.rps_flow_cnt = 0
        self.irq = None                  # IRQ number, set by the owner (None for lo)
        self.irqs_per_cpu = array("q", bytes(8 * ncpus))   # interrupts taken, per CPU

    @property
    def irq_counts(self) -> dict[int, int]:
        """{cpu: interrupts taken there} for the CPUs that took any (/proc/interrupts)."""
        return {c: n for c, n in enumerate(self.irqs_per_cpu) if n}

    @irq_counts.setter
    def irq_counts(self, counts: dict[int, int]) -> None:
        for c in range(len(self.irqs_per_cpu)):
            self.irqs_per_cpu[c] = counts.get(c, 0)

    def next_arrival_ns(self) -> int:
        """The earliest next arrival of the queue's streams, or NO_ARRIVAL."""
        best = NO_ARRIVAL
        for s in self.streams:
            t = s.next_ns
            if t != NO_ARRIVAL and (best == NO_ARRIVAL or t < best):
                best = t
        return best

    def fill(self, now_ns: int, stats) -> int:
        """Move arrivals up to now into the ring, oldest first (several streams merge by time,
        the first stream first on a tie); a full ring drops (counted as ring_full)."""
        streams = self.streams
        if not streams:
            return 0
        ring = self.ring
        room = self.ring_size - ring.qlen
        if len(streams) == 1:
            single = cython.cast(ArrivalStream, streams[0])    # streams holds ArrivalStreams
            taken = single.take_into(ring, now_ns, room)
            dropped = taken - room if taken > room > 0 else (taken if room <= 0 else 0)
        else:
            taken = dropped = 0
            while True:
                s = None
                best_t = NO_ARRIVAL
                for x in streams:
                    t = x.next_ns
                    if t != NO_ARRIVAL and t <= now_ns and (best_t == NO_ARRIVAL or t < best_t):
                        s, best_t = x, t
                if s is None:
                    break
                t = s.take()
                taken += 1
                if room > 0:
                    ring.push(t, s.taken_fid)
                    room -= 1
                else:
                    s.flows[s.taken_local].dropped += 1
                    dropped += 1
        if taken:
            stats.offered += taken
            if dropped:
                stats.drop("ring_full", dropped)
        return 0


class NetDevice:
    """`struct net_device` reduced to what the receive path needs."""

    def __init__(self, cfg: NetDeviceConfig, ifindex: int, irq_base: int, ncpus: int,
                 flows: list) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.ifindex = ifindex
        self.loopback = cfg.loopback
        self.reg_state = NETREG_REGISTERED      # also sets running and unregistered
        self.coalesce_ns = cfg.rx_usecs * NSEC_PER_USEC
        self.napi_driver = cfg.driver == "napi"     # else a netif_rx() driver
        self.threaded = 0                  # /sys/class/net/<dev>/threaded (device NAPIs)
        self.irq_base = irq_base           # first IRQ number, for /proc/interrupts
        n = 1 if cfg.loopback else cfg.rx_queues
        irqs = cfg.irq_cpus or (0,)
        self.rxqs = [RxQueue(self, i, None if cfg.loopback else irqs[i % len(irqs)],
                             cfg.napi_weight, ncpus, flows) for i in range(n)]
        if not cfg.loopback:
            for q in self.rxqs:
                q.irq = irq_base + q.index

    @property
    def reg_state(self) -> str:
        return self._reg_state

    @reg_state.setter
    def reg_state(self, state: str) -> None:
        self._reg_state = state
        self.running = state == NETREG_REGISTERED   # netif_running(): false once unregister starts
        self.unregistered = state == NETREG_UNREGISTERED
