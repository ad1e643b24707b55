"""Counters that are not kernel fields: latency, drops by reason, conservation.

Simplifications:
  * Latency is recorded for every delivered packet, into a log-linear histogram with 128
    sub-buckets per power of two (relative error < 0.8%), so percentiles cost O(buckets) and memory
    stays flat however long a run is.
"""
from __future__ import annotations

from array import array

import cython
import numpy as np

DROP_REASONS = ("ring_full", "backlog", "flow_limit", "device_gone")

# A value's bucket keeps its top 8 significant bits: values below 256 are their own bucket,
# a value of bit length b > 8 falls in one of 128 buckets of width 2**(b - 8). Compiled, the
# counts live in one array: slot v for v < 256, then 128 slots per bit length 9..64.
EXACT_BELOW = 256
N_SLOTS = EXACT_BELOW + (64 - 8) * 128


class LatencyHistogram:
    """Per-packet arrival->delivery latency in ns; bucket = value with its low bits cleared.

    Compiled (stats.pxd), `record` counts each value in its bucket at once. Plain Python
    appends raw values to `raw` and folds them into buckets in bulk (numpy) when the list
    grows or a figure is asked for; both give the same buckets."""

    # 8192 values fold in ~0.23 ms (65536 took ~1.8 ms, one event long enough to hold up a
    # file operation on a running mount); the cost per value is the same.
    FLUSH_AT = 1 << 13

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self._total = 0
        self._sum_ns = 0
        self._max_ns = 0
        self.raw: list[int] = []
        self._slots = array("q", bytes(8 * N_SLOTS)) if cython.compiled else None

    @property
    def total(self) -> int:
        self.flush()
        return self._total

    @property
    def sum_ns(self) -> int:
        self.flush()
        return self._sum_ns

    @property
    def max_ns(self) -> int:
        self.flush()
        return self._max_ns

    @property
    def counts(self) -> dict[int, int]:
        """{bucket value: samples}."""
        self.flush()
        if cython.compiled:
            out = {}
            for slot in range(N_SLOTS):
                n = self._slots[slot]
                if n:
                    out[_slot_value(slot)] = n
            return out
        return self._counts

    def record(self, value_ns: int) -> None:
        if cython.compiled:
            self._count(value_ns)
            return
        raw = self.raw
        raw.append(value_ns)
        if len(raw) >= self.FLUSH_AT:
            self.flush()

    # _count(v), record() of the compiled engine, is written in stats.pxd as an inline
    # method, so that NetCore.deliver_batch's call per delivered packet compiles to no call.

    def flush(self) -> None:
        if cython.compiled or not self.raw:
            return
        v = np.asarray(self.raw, dtype=np.int64)
        self.raw = []
        self._total += len(v)
        self._sum_ns += int(v.sum())
        self._max_ns = max(self._max_ns, int(v.max()))
        bits = np.zeros(len(v), dtype=np.int64)
        pos = v > 0
        bits[pos] = np.floor(np.log2(v[pos])).astype(np.int64) + 1   # bit_length
        shift = np.maximum(bits - 8, 0)
        keys, n = np.unique((v >> shift) << shift, return_counts=True)
        counts = self._counts
        for k, c in zip(keys.tolist(), n.tolist()):
            counts[k] = counts.get(k, 0) + c

    def percentile(self, p: float) -> int:
        """Smallest bucket value v such that at least p% of samples are <= v's bucket."""
        self.flush()
        if not self._total:
            return 0
        rank = max(1, -(-self._total * p // 100))
        seen = 0
        if cython.compiled:              # the slots are in bucket order: no dict to build
            for slot in range(N_SLOTS):
                seen += self._slots[slot]
                if seen >= rank:
                    return _slot_value(slot)
            return self._max_ns
        counts = self._counts
        for key in sorted(counts):
            seen += counts[key]
            if seen >= rank:
                return int(key)
        return self._max_ns

    def summary_us(self) -> dict[str, float]:
        self.flush()
        to_us = lambda ns: round(ns / 1000, 3)  # noqa: E731
        return {
            "count": self.total,
            "mean": to_us(self.sum_ns / self.total) if self.total else 0.0,
            "p50": to_us(self.percentile(50)),
            "p90": to_us(self.percentile(90)),
            "p99": to_us(self.percentile(99)),
            "p999": to_us(self.percentile(99.9)),
            "max": to_us(self.max_ns),
        }


def _slot_value(slot: int) -> int:
    """The bucket value (lowest value in the bucket) of a compiled histogram's slot."""
    if slot < EXACT_BELOW:
        return slot
    shift = (slot - EXACT_BELOW) // 128 + 1
    return (128 + (slot - EXACT_BELOW) % 128) << shift


class Stats:
    """Machine-wide counters that the kernel does not keep in one place."""

    def __init__(self) -> None:
        self.offered = 0
        self.delivered = 0
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self.latency = LatencyHistogram()
        self.ipis_sent = 0
        self.wakeups = 0
        self.migrations = 0
        self.delivered_after_unregister = 0
        self.stalls_detected = 0
        self.softirq_stuck = 0

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n
