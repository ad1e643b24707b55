"""Counters that are not kernel fields: latency, drops by reason, conservation.

Simplifications:
  * Latency is recorded for every delivered packet, into a log-linear histogram with 128
    sub-buckets per power of two (relative error < 0.8%), so percentiles cost O(buckets) and memory
    stays flat however long a run is.
"""
from __future__ import annotations

DROP_REASONS = ("ring_full", "backlog", "flow_limit", "device_gone")


class LatencyHistogram:
    """Per-packet arrival->delivery latency in ns; bucket = value with its low bits cleared."""

    __slots__ = ("counts", "total", "sum_ns", "max_ns")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        self.sum_ns = 0
        self.max_ns = 0

    def record(self, value_ns: int) -> None:
        shift = value_ns.bit_length() - 8
        key = (value_ns >> shift) << shift if shift > 0 else value_ns
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        self.total += 1
        self.sum_ns += value_ns
        if value_ns > self.max_ns:
            self.max_ns = value_ns

    def percentile(self, p: float) -> int:
        """Smallest bucket value v such that at least p% of samples are <= v's bucket."""
        if not self.total:
            return 0
        rank = max(1, -(-self.total * p // 100))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return int(key)
        return self.max_ns

    def summary_us(self) -> dict[str, float]:
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
