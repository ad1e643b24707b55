"""The event core: a queue with a total order, integer nanoseconds (SimPy's key, minus priority).

An event is `(time_ns, seq, kind, obj, token)`: `kind` names the handler (EV_* in defs.py),
`obj` what it acts on (a CPU, an rx queue, a task) and `token` a number the
handler compares with its object's own to ignore a stale event. `seq` is a global counter, so
two events at the same instant run in the order they were scheduled and a run is a pure function
of its inputs. Cancellation is lazy: owners bump their token instead of removing an event.

The queue only orders events; the machine's run loop pops them and calls the handler
(`Machine._run_events`), so the compiled engine dispatches without a Python call per event.
Plain Python keeps the events as tuples on a `heapq` heap. Compiled (events.pxd), they live
in slots of C arrays, with their slot numbers in an array sorted by time: the same order, no
tuple per event.
"""
from __future__ import annotations

from array import array
from heapq import heappop, heappush

import cython

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import NO_EVENT

_INITIAL_SLOTS = 64


class EventQueue:
    def __init__(self) -> None:
        self._seq = 0
        self.now_ns = 0
        self.events_run = 0
        self.popped_obj = None          # obj and token of the event pop() returned last
        self.popped_token = 0
        self._heap = []                 # plain Python: (time, seq, kind, obj, token) tuples
        self._n = 0                     # compiled: events pending
        if cython.compiled:
            self._alloc(_INITIAL_SLOTS)

    def at(self, time_ns: int, kind: int, obj, token: int) -> int:
        """Schedule event `kind` on `obj` at `time_ns` (never in the past). Every argument
        is given and 0 returned: compiled, that is a plain C call (no optional-argument
        struct, no None to reference-count), and _push() (events.pxd) does the work."""
        if cython.compiled:
            return self._push(time_ns, kind, obj, token)
        if time_ns < self.now_ns:
            raise ValueError(f"event in the past: {time_ns} < now {self.now_ns}")
        self._seq += 1
        heappush(self._heap, (time_ns, self._seq, kind, obj, token))
        return 0

    def after(self, delay_ns: int, kind: int, obj, token: int) -> int:
        return self.at(self.now_ns + delay_ns, kind, obj, token)

    def head_ns(self) -> int:
        """Time of the next event, or NO_EVENT."""
        if cython.compiled:
            return self._head()
        return self._heap[0][0] if self._heap else NO_EVENT

    def next_time(self) -> int | None:
        t = self.head_ns()
        return None if t == NO_EVENT else t

    def pop(self) -> int:
        """Take the next event: now_ns moves to its time, `popped_obj`/`popped_token` hold its
        object and token, and its kind is returned. The queue must not be empty."""
        if cython.compiled:
            return self._pop()
        t, _, kind, self.popped_obj, self.popped_token = heappop(self._heap)
        self.now_ns = t
        return kind

    def __len__(self) -> int:
        return self._n if cython.compiled else len(self._heap)

    # ------------------------------------------------------------------ compiled queue
    # Slot s holds one event's payload in _kind/_token[s] and _obj[s]; _free[:_nfree] is a
    # stack of the unused slots. _q[2i] and _q[2i + 1] are the time and slot of the pending
    # events, i < _n, in descending order of time, so the next event is the last entry and
    # _pop() is O(1). at() finds its place by a binary search and moves the events that fire
    # no later than it up one place (one memmove): it moves only events that fire before the
    # new one, so far timers never move, and that is 11 of R16's 25 pending events on average,
    # 33 of R64's 95. Against the 4-ary heap this replaced (its pop sifted the last entry down
    # through four children a level), R16 stock ran 4.5% fewer instructions per packet and
    # 1.08x faster (docs/performance.md). Ties need no sequence number: a new event goes in
    # front of (runs after) every event at its own time.
    def _alloc(self, n: int) -> None:
        self._q = array("q", bytes(16 * n))
        self._token = array("q", bytes(8 * n))
        self._kind = array("i", bytes(4 * n))
        self._obj = [None] * n
        self._free = array("i", range(n - 1, -1, -1))
        self._nfree = n
        self._cap = n

    def _grow(self) -> None:
        """Twice the slots; the events keep theirs (called only when none is free)."""
        n = self._cap
        self._q = array("q", self._q) + array("q", bytes(16 * n))
        self._token = array("q", self._token) + array("q", bytes(8 * n))
        self._kind = array("i", self._kind) + array("i", bytes(4 * n))
        self._obj = self._obj + [None] * n
        self._free = array("i", range(2 * n - 1, n - 1, -1)) + array("i", bytes(4 * n))
        self._nfree = n
        self._cap = 2 * n

    # _push(), _head() and _pop(), at(), head_ns() and pop() of the compiled queue, are
    # inline methods in events.pxd, so that the engine's hot paths (the run loop, the start of
    # a chunk, an interrupt's or an IPI's event) compile them without a call.


if not cython.compiled:     # the same names, plain: the hot paths call these in both ways
    EventQueue._push = EventQueue.at
    EventQueue._head = EventQueue.head_ns
    EventQueue._pop = EventQueue.pop
