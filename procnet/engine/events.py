"""The event core: a heap with a total order, integer nanoseconds (SimPy's key, minus priority).

Every event is `(time_ns, seq, fn, args)`. `seq` is a global counter, so two events at the same
instant run in the order they were scheduled and a run is a pure function of its inputs.
Cancellation is lazy: owners keep a token and ignore stale callbacks (cheaper than heap removal).
"""
from __future__ import annotations

from heapq import heappop, heappush
from typing import Any, Callable

YIELD_MASK = 31   # should_yield() is asked every 32 events (~0.1-0.2 ms of Python)


class EventQueue:
    __slots__ = ("_heap", "_seq", "now_ns", "events_run")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Callable[..., Any], tuple]] = []
        self._seq = 0
        self.now_ns = 0
        self.events_run = 0

    def at(self, time_ns: int, fn: Callable[..., Any], *args: Any) -> None:
        if time_ns < self.now_ns:
            raise ValueError(f"event in the past: {time_ns} < now {self.now_ns}")
        self._seq += 1
        heappush(self._heap, (time_ns, self._seq, fn, args))

    def after(self, delay_ns: int, fn: Callable[..., Any], *args: Any) -> None:
        self.at(self.now_ns + delay_ns, fn, *args)

    def next_time(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def run_until(self, end_ns: int, max_events: int | None = None,
                  should_yield: Callable[[], bool] | None = None) -> bool:
        """Run every event with time <= end_ns, then set now to end_ns.

        With `max_events`, stop early (returns False, `now_ns` at the last event run) so a caller
        can interleave other work; returns True once `end_ns` is reached. `should_yield` is
        asked every YIELD_MASK + 1 events (a cond_resched() point): True stops early as well.
        Where a run stops never changes what it computes, only when the caller gets control.
        """
        heap = self._heap
        n = 0
        limit = max_events if max_events is not None else -1
        while heap and heap[0][0] <= end_ns:
            if n == limit or (should_yield is not None and n & YIELD_MASK == YIELD_MASK
                              and should_yield()):
                self.events_run += n
                return False
            t, _, fn, args = heappop(heap)
            self.now_ns = t
            fn(*args)
            n += 1
        self.events_run += n
        self.now_ns = max(self.now_ns, end_ns)
        return True
