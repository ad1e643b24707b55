"""Seeded flows and their arrival processes.

A `TrafficSource` owns N flows (5-tuples with a 32-bit hash) on one device. Its packets are split
per rx queue by RSS, and each queue pulls arrivals lazily (`ArrivalStream.pop_until`), so the
engine needs one event per interrupt, not one per packet, while every packet keeps its exact
arrival time.

Simplifications:
  * The flow hash stands in for the NIC's Toeplitz hash and the kernel's `skb_get_hash`: a seeded
    32-bit value per 5-tuple (blake2s of the tuple), used both for RSS and for RPS.
  * Splitting a Poisson process by flow gives independent Poisson processes (exact); splitting a
    constant-rate source gives one constant-rate stream per queue with the flows in round robin.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from .config import NSEC_PER_SEC, TrafficConfig

RSS_INDIR_SIZE = 128     # ETH_RSS_INDIR default table size of most drivers


class Flow:
    """One 5-tuple. `sink` is a socket-like object for flows that end in an emulated task."""

    __slots__ = ("fid", "name", "tuple5", "hash", "dev", "delivered", "dropped", "sink")

    def __init__(self, fid: int, name: str, tuple5: tuple, flow_hash: int, dev) -> None:
        self.fid = fid
        self.name = name
        self.tuple5 = tuple5
        self.hash = flow_hash
        self.dev = dev
        self.delivered = 0
        self.dropped = 0
        self.sink = None


def flow_hash(tuple5: tuple, seed: int) -> int:
    digest = hashlib.blake2s(repr((seed, tuple5)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def rss_queue(hash_: int, n_queues: int) -> int:
    """ethtool_rxfh_indir_default(): indirection entry i -> queue i % n, entry = hash & (size-1)."""
    return (hash_ & (RSS_INDIR_SIZE - 1)) % n_queues


class ArrivalStream:
    """Exact packet arrival times of some flows of one source on one rx queue, generated lazily."""

    __slots__ = ("flows", "pattern", "rate_pps", "rng", "next_ns", "_k", "_rr", "on_ns", "off_ns",
                 "start_ns", "active")

    def __init__(self, flows: list[Flow], cfg: TrafficConfig, rate_pps: float, rng: random.Random,
                 start_ns: int, phase: float) -> None:
        self.flows = flows
        self.pattern = cfg.pattern
        self.rate_pps = rate_pps
        self.rng = rng
        self.on_ns = cfg.on_ns
        self.off_ns = cfg.off_ns
        self.start_ns = start_ns
        self.active = rate_pps > 0
        self._k = phase          # constant pattern: arrival index (fractional phase offset)
        self._rr = 0
        self.next_ns = self._first()

    def _gap_ns(self) -> float:
        return NSEC_PER_SEC / self.rate_pps

    def _first(self) -> int | None:
        if not self.active:
            return None
        if self.pattern == "poisson":
            return self.start_ns + int(self.rng.expovariate(self.rate_pps) * NSEC_PER_SEC)
        return self._place(self.start_ns + int(self._k * self._gap_ns()))

    def _place(self, t: int) -> int:
        """onoff: move t forward out of an off period."""
        if self.pattern != "onoff":
            return t
        cycle = self.on_ns + self.off_ns
        rel = (t - self.start_ns) % cycle
        return t if rel < self.on_ns else t + (cycle - rel)

    def _advance(self) -> None:
        if self.pattern == "poisson":
            self.next_ns += max(1, int(self.rng.expovariate(self.rate_pps) * NSEC_PER_SEC))
        else:
            self._k += 1
            self.next_ns = self._place(max(self.next_ns + 1,
                                           self.start_ns + int(self._k * self._gap_ns())))

    def _pick_flow(self) -> Flow:
        flows = self.flows
        if len(flows) == 1:
            return flows[0]
        if self.pattern == "poisson":
            return flows[self.rng.randrange(len(flows))]
        self._rr = (self._rr + 1) % len(flows)
        return flows[self._rr]

    def pop_until(self, t_ns: int, out: list) -> None:
        """Append every (arrival_ns, flow) with arrival <= t_ns to `out`."""
        nxt = self.next_ns
        while nxt is not None and nxt <= t_ns:
            out.append((nxt, self._pick_flow()))
            self._advance()
            nxt = self.next_ns

    def stop(self) -> None:
        self.active = False
        self.next_ns = None


@dataclass
class TrafficSource:
    cfg: TrafficConfig
    flows: list[Flow]
    streams: list[tuple[int, ArrivalStream]]     # (rx queue index, stream)

    def stop(self) -> None:
        for _, s in self.streams:
            s.stop()


def make_source(cfg: TrafficConfig, dev, machine_seed: int, first_fid: int, start_ns: int
                ) -> TrafficSource:
    """Create the flows of `cfg` on `dev` and one arrival stream per rx queue they hash to."""
    seed = flow_hash((machine_seed, cfg.seed, cfg.name), 0)   # stable across processes
    rng = random.Random(seed)
    flows = []
    for i in range(cfg.flows):
        t5 = (f"10.{(i >> 8) & 255}.{i & 255}.2", f"10.255.0.1", 17,
              1024 + rng.randrange(60000), 5001 + (i % 1000))
        flows.append(Flow(first_fid + i, f"{cfg.name}/{i}", t5, flow_hash(t5, seed), dev))
    by_queue: dict[int, list[Flow]] = {}
    for f in flows:
        by_queue.setdefault(rss_queue(f.hash, len(dev.rxqs)), []).append(f)
    streams = []
    for q in sorted(by_queue):
        qflows = by_queue[q]
        rate = cfg.pps * len(qflows) / cfg.flows
        sub_rng = random.Random(flow_hash((seed, q), 1))
        streams.append((q, ArrivalStream(qflows, cfg, rate, sub_rng, start_ns,
                                         phase=sub_rng.random())))
    return TrafficSource(cfg, flows, streams)
