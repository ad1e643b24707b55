"""Seeded flows and their arrival processes.

A `TrafficSource` owns N flows (5-tuples with a 32-bit hash) on one device. Its packets are split
per rx queue by RSS, and each queue pulls arrivals lazily (`RxQueue.fill` takes them from its
`ArrivalStream`s), so the engine needs one event per interrupt, not one per packet, while every
packet keeps its exact arrival time.

Simplifications:
  * The flow hash stands in for the NIC's Toeplitz hash and the kernel's `skb_get_hash`: a seeded
    32-bit value per 5-tuple (blake2s of the tuple), used both for RSS and for RPS.
  * Splitting a Poisson process by flow gives independent Poisson processes (exact); splitting a
    constant-rate source gives one constant-rate stream per queue with the flows in round robin.
  * `onoff` modulates the pattern: `pps` while on, silence while off (average pps*on/(on+off)).
"""
from __future__ import annotations

import hashlib
import random
from array import array
from dataclasses import dataclass

import cython
import numpy as np

from .config import TrafficConfig

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import NO_ARRIVAL, NSEC_PER_SEC

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


# Arrivals are generated a block at a time (numpy): about BLOCK_SPAN_NS of them, so a numpy
# call's fixed cost spreads over many packets while a slow stream keeps a small buffer.
BLOCK_SPAN_NS = 20_000_000
MIN_BLOCK, MAX_BLOCK = 256, 16384


class ArrivalStream:
    """Exact packet arrival times of some flows of one source on one rx queue, generated lazily
    in blocks (numpy) and taken one at a time (`take`) as the rx ring fills.

    Arrivals are first placed on the stream's "on-time" axis (gaps of 1/rate: constant, or
    exponential: Poisson), then mapped to virtual time; for `onoff` only on periods advance the
    axis, so `pps` is the rate while on. A block is kept as numpy arrays where the engine is
    compiled (traffic.pxd reads them as C arrays) and as lists of Python ints otherwise.

    The gaps and the flow of each arrival come from two generators of their own (spawned from
    the stream's seed), each drawn from in order: the arrivals are the same whatever the block
    size, which is only a matter of speed and memory."""

    def __init__(self, flows: list[Flow], cfg: TrafficConfig, rate_pps: float, seed: int,
                 start_ns: int, phase: float, block: int = 0) -> None:
        self.flows = flows
        self.pattern = cfg.pattern
        self.rate_pps = rate_pps
        gaps_seed, flows_seed = np.random.SeedSequence(seed).spawn(2)
        self.rng_gaps = np.random.default_rng(gaps_seed)
        self.rng_flows = np.random.default_rng(flows_seed)
        if not block:
            block = int(rate_pps * BLOCK_SPAN_NS / NSEC_PER_SEC)
        self._block = min(MAX_BLOCK, max(MIN_BLOCK, block))    # arrivals per block
        self.on_ns = cfg.on_ns if cfg.pattern == "onoff" else 0
        self.cycle_ns = cfg.on_ns + cfg.off_ns
        self.start_ns = start_ns
        self.active = rate_pps > 0
        self._phase = phase
        self._tau = 0.0                 # Poisson: on-time of the last arrival (float ns)
        self._k = 0                     # arrivals generated (round robin position)
        self._last = start_ns - 1
        self._t = None                  # the block's arrival times
        self._fi = None                 # ... and indexes into flows (None: a single flow)
        if cython.compiled:             # the compiled engine reuses these for every block
            self._tbuf = np.empty(self._block, dtype=np.int64)
            self._fbuf = np.empty(self._block, dtype=np.int64)
            self._gbuf = np.empty(self._block, dtype=np.float64)
            # ... and draws the flow picks from a copy of rng_flows' state (traffic.pxd): the
            # same stream, while the Generator itself is not drawn from again
            bitgen = self.rng_flows.bit_generator.state
            assert bitgen["bit_generator"] == "PCG64", bitgen["bit_generator"]
            state, inc = bitgen["state"]["state"], bitgen["state"]["inc"]
            self._flow_pcg[0], self._flow_pcg[1] = state >> 64, state & 0xFFFFFFFFFFFFFFFF
            self._flow_pcg[2], self._flow_pcg[3] = inc >> 64, inc & 0xFFFFFFFFFFFFFFFF
        self._n = 0
        self._i = 0
        self.next_ns = NO_ARRIVAL
        self._fids = array("q", [f.fid for f in flows])    # index in flows -> flow id
        self.taken_fid = -1             # the flow (id, index) of the arrival take() returned
        self.taken_local = -1
        if self.active:
            self._refill()

    def _refill(self) -> None:
        n = self._block
        gap = NSEC_PER_SEC / self.rate_pps
        poisson = self.pattern == "poisson"
        nflows = len(self.flows)
        if cython.compiled:
            # The same draws as the numpy branch below, into buffers kept for every block, and
            # finished in C loops instead of a numpy pass (and an array) per operation.
            if poisson:
                self.rng_gaps.standard_exponential(n, out=self._gbuf)
            self._block_times(poisson, n, gap)
            self._t = self._tbuf
            if nflows == 1:
                self._fi = None
            elif poisson:               # rng_flows.random(n), floor(u * nflows), in C
                procnet_pcg64_flow_picks(cython.address(self._flow_pcg[0]),
                                         cython.address(self._fbuf[0]), n, nflows)
                self._fi = self._fbuf
            else:
                for i in range(n):
                    self._fbuf[i] = (self._k + i + 1) % nflows
                self._fi = self._fbuf
        else:
            if poisson:
                gaps = self.rng_gaps.exponential(gap, n)
                gaps[0] += self._tau
                tau = np.cumsum(gaps)
                self._tau = float(tau[-1])
            else:   # arrival k at (k + phase) gaps, computed directly so rounding never drifts
                tau = (np.arange(self._k, self._k + n) + self._phase) * gap
            tau = np.floor(tau).astype(np.int64)
            if self.on_ns:
                tau = (tau // self.on_ns) * self.cycle_ns + tau % self.on_ns
            t = tau + self.start_ns
            # Strictly increasing integer times (two arrivals never share a nanosecond).
            k = np.arange(n, dtype=np.int64)
            t = np.maximum.accumulate(np.maximum(t - k, self._last + 1)) + k
            self._last = int(t[-1])
            self._t = t.tolist()
            if nflows == 1:
                self._fi = None
            elif poisson:               # floor(u * nflows), u uniform in [0, 1)
                u = self.rng_flows.random(n)
                self._fi = np.minimum((u * nflows).astype(np.int64), nflows - 1).tolist()
            else:
                self._fi = ((np.arange(self._k, self._k + n) + 1) % nflows).tolist()
        self._k += n
        self._n = n
        self._i = 0
        self.next_ns = self._t[0]

    def _block_times(self, poisson: bool, n: int, gap: float) -> None:
        """The arrival times of _refill's numpy branch, one at a time into _tbuf (what the
        compiled engine runs): the same operations in the same order, floating point included,
        so both give the same times. A Poisson gap is gap * a standard exponential draw
        (_gbuf), which is what numpy's exponential(gap) computes, bit for bit."""
        g = self._gbuf
        acc = self._tau
        floor_ns = self._last + 1        # never before the previous block's last arrival + 1
        run = floor_ns
        for i in range(n):
            if poisson:
                acc = acc + gap * g[i]
            else:
                acc = (self._k + i + self._phase) * gap
            tau = int(acc)               # floor: tau >= 0
            if self.on_ns:
                tau = (tau // self.on_ns) * self.cycle_ns + tau % self.on_ns
            v = tau + self.start_ns - i
            if v < floor_ns:
                v = floor_ns
            if v > run:
                run = v
            self._tbuf[i] = run + i
        if poisson:
            self._tau = acc
        self._last = self._tbuf[n - 1]

    def take(self) -> int:
        """The next arrival's time (next_ns); its flow's id is left in `taken_fid` (and its
        index in `flows` in `taken_local`)."""
        t = self.next_ns
        local = 0 if self._fi is None else self._fi[self._i]
        self.taken_local = local
        self.taken_fid = self._fids[local]
        self._advance()
        return t

    def take_into(self, ring, now_ns: int, room: int) -> int:
        """take() every arrival up to now_ns into `ring`, the first `room` of them (a full
        ring drops the rest, counted on their flows). Returns how many were taken.

        A block at a time: the arrivals of the block up to now_ns are found first (times
        increase), then written into the ring's arrays in one loop (an interrupt's poll takes
        a handful of them, so a call and a check per packet were most of the cost)."""
        taken = 0
        while self.next_ns != NO_ARRIVAL and self.next_ns <= now_ns:
            i = self._i
            j = i + 1                              # this block's arrivals up to now: [i, j)
            while j < self._n and self._t[j] <= now_ns:
                j += 1
            push = min(j - i, room - taken) if room > taken else 0
            if push:
                if ring.qlen + push > ring.mask + 1:   # the call only when it must grow
                    ring.reserve(push)
                mask = ring.mask
                tail = ring.head + ring.qlen
                if self._fi is None:
                    fid = self._fids[0]
                    for x in range(push):
                        ring.times[(tail + x) & mask] = self._t[i + x]
                        ring.fids[(tail + x) & mask] = fid
                else:
                    for x in range(push):
                        ring.times[(tail + x) & mask] = self._t[i + x]
                        ring.fids[(tail + x) & mask] = self._fids[self._fi[i + x]]
                ring.qlen += push
            for x in range(i + push, j):           # no room: dropped, counted on the flow
                flow = self.flows[0 if self._fi is None else self._fi[x]]
                flow.dropped += 1
            taken += j - i
            if j < self._n:
                self._i = j
                self.next_ns = self._t[j]
            else:
                self._refill()
        return taken

    def _advance(self) -> None:
        """On to the block's next arrival, or to a new block."""
        i = self._i + 1
        if i < self._n:
            self._i = i
            self.next_ns = self._t[i]
        else:
            self._refill()

    def stop(self) -> None:
        self.active = False
        self.next_ns = NO_ARRIVAL


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
        t5 = (f"10.{(i >> 8) & 255}.{i & 255}.2", "10.255.0.1", 17,
              1024 + rng.randrange(60000), 5001 + (i % 1000))
        flows.append(Flow(first_fid + i, f"{cfg.name}/{i}", t5, flow_hash(t5, seed), dev))
    by_queue: dict[int, list[Flow]] = {}
    for f in flows:
        by_queue.setdefault(rss_queue(f.hash, len(dev.rxqs)), []).append(f)
    streams = []
    for q in sorted(by_queue):
        qflows = by_queue[q]
        rate = cfg.pps * len(qflows) / cfg.flows
        sub_seed = flow_hash((seed, q), 1)
        streams.append((q, ArrivalStream(qflows, cfg, rate, sub_seed, start_ns,
                                         phase=random.Random(sub_seed).random())))
    return TrafficSource(cfg, flows, streams)
