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

from collections import deque

from .config import NSEC_PER_USEC, NetDeviceConfig
from .softnet import Napi

NETREG_REGISTERED = "registered"
NETREG_UNREGISTERING = "unregistering"
NETREG_UNREGISTERED = "unregistered"


class RxQueue:
    __slots__ = ("dev", "index", "ring", "ring_size", "streams", "napi", "irq_cpu",
                 "irq_armed", "irq_token", "rps_map", "rps_mask", "rps_flow_cnt", "irq_counts", "irq")

    def __init__(self, dev: "NetDevice", index: int, irq_cpu: int | None, weight: int) -> None:
        self.dev = dev
        self.index = index
        self.ring: deque = deque()
        self.ring_size = dev.cfg.ring_size
        self.streams: list = []          # ArrivalStreams feeding this queue
        self.napi = Napi(f"{dev.name}-rx-{index}", weight, rxq=self)
        self.irq_cpu = irq_cpu
        self.irq_armed = True
        self.irq_token = 0               # invalidates a scheduled interrupt
        self.rps_map: list[int] | None = None   # rps_map->cpus[], ascending
        self.rps_mask = 0                # what rps_cpus reads back (= map CPUs)
        self.rps_flow_cnt = 0
        self.irq = None                  # IRQ number, set by the owner (None for lo)
        self.irq_counts: dict[int, int] = {}   # per CPU, for /proc/interrupts

    def next_arrival_ns(self) -> int | None:
        best = None
        for s in self.streams:
            t = s.next_ns
            if t is not None and (best is None or t < best):
                best = t
        return best

    def fill(self, now_ns: int, stats) -> None:
        """Move arrivals up to now into the ring; a full ring drops (counted as ring_full)."""
        if not self.streams:
            return
        arrivals: list = []
        for s in self.streams:
            s.pop_until(now_ns, arrivals)
        if not arrivals:
            return
        if len(self.streams) > 1:
            arrivals.sort(key=lambda p: p[0])
        stats.offered += len(arrivals)
        room = self.ring_size - len(self.ring)
        if len(arrivals) <= room:
            self.ring.extend(arrivals)
            return
        if room > 0:
            self.ring.extend(arrivals[:room])
        for _, flow in arrivals[max(room, 0):]:
            flow.dropped += 1
        stats.drop("ring_full", len(arrivals) - max(room, 0))


class NetDevice:
    """`struct net_device` reduced to what the receive path needs."""

    def __init__(self, cfg: NetDeviceConfig, ifindex: int, irq_base: int) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.ifindex = ifindex
        self.loopback = cfg.loopback
        self.reg_state = NETREG_REGISTERED
        self.threaded = 0                  # /sys/class/net/<dev>/threaded (device NAPIs)
        self.irq_base = irq_base           # first IRQ number, for /proc/interrupts
        n = 1 if cfg.loopback else cfg.rx_queues
        irqs = cfg.irq_cpus or (0,)
        self.rxqs = [RxQueue(self, i, None if cfg.loopback else irqs[i % len(irqs)],
                             cfg.napi_weight) for i in range(n)]
        if not cfg.loopback:
            for q in self.rxqs:
                q.irq = irq_base + q.index

    @property
    def running(self) -> bool:
        """netif_running(): false from the moment unregister starts."""
        return self.reg_state == NETREG_REGISTERED

    def coalesce_ns(self) -> int:
        return self.cfg.rx_usecs * NSEC_PER_USEC
