"""The event core: a heap with a total order, integer nanoseconds (SimPy's key, minus priority).

An event is `(time_ns, seq, kind, obj, token)`: `kind` names the handler (EV_* in defs.py),
`obj` what it acts on (a CPU, an rx queue, a task) and `token` a number the
handler compares with its object's own to ignore a stale event. `seq` is a global counter, so
two events at the same instant run in the order they were scheduled and a run is a pure function
of its inputs. Cancellation is lazy: owners bump their token instead of removing an event.

The queue only orders events; the machine's run loop pops them and calls the handler
(`Machine._run_events`), so the compiled engine dispatches without a Python call per event.
Plain Python keeps the events as tuples on a `heapq` heap. Compiled (events.pxd), they live
in slots of C arrays with a 4-ary heap of slot numbers: same order, no tuple per event.
"""
from __future__ import annotations

from array import array
from heapq import heappop, heappush

import cython

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import NO_EVENT

_INITIAL_SLOTS = 64
_SLOT_BITS = 24                 # compiled heap: fewer than 2**24 events pending at once ...
_SLOT_MASK = 0xFFFFFF
_SEQ_MAX = 0x7FFFFFFFFF         # ... and 2**39 (5.5e11) scheduled in one run: seq << 24 | slot fits


class EventQueue:
    def __init__(self) -> None:
        self._seq = 0
        self.now_ns = 0
        self.events_run = 0
        self.popped_obj = None          # obj and token of the event pop() returned last
        self.popped_token = 0
        self._heap = []                 # plain Python: (time, seq, kind, obj, token) tuples
        self._n = 0                     # compiled: events on the heap
        if cython.compiled:
            self._alloc(_INITIAL_SLOTS)

    def at(self, time_ns: int, kind: int, obj=None, token: int = 0) -> None:
        """Schedule event `kind` on `obj` at `time_ns` (never in the past)."""
        if time_ns < self.now_ns:
            raise ValueError(f"event in the past: {time_ns} < now {self.now_ns}")
        self._seq += 1
        if not cython.compiled:
            heappush(self._heap, (time_ns, self._seq, kind, obj, token))
            return
        # The compiled heap (below), written here: the call to a push function was a third
        # of a push's cost.
        if not self._nfree:
            self._grow()
        seq = self._seq
        if seq > _SEQ_MAX:
            raise OverflowError(f"more than {_SEQ_MAX} events scheduled in one run")
        self._nfree -= 1
        s = self._free[self._nfree]
        self._kind[s] = kind
        self._token[s] = token
        self._obj[s] = obj
        key = (seq << _SLOT_BITS) | s
        i = self._n
        self._n += 1
        while i > 0:                                  # sift up
            parent = (i - 1) >> 2
            pt = self._ht[parent]
            if pt < time_ns or (pt == time_ns and self._hk[parent] < key):
                break
            self._ht[i] = pt
            self._hk[i] = self._hk[parent]
            i = parent
        self._ht[i] = time_ns
        self._hk[i] = key

    def after(self, delay_ns: int, kind: int, obj=None, token: int = 0) -> None:
        self.at(self.now_ns + delay_ns, kind, obj, token)

    def head_ns(self) -> int:
        """Time of the next event, or NO_EVENT."""
        if cython.compiled:
            return self._ht[0] if self._n else NO_EVENT
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

    # ------------------------------------------------------------------ compiled heap
    # Slot s holds one event's payload in _kind/_token[s] and _obj[s]; _free[:_nfree] is a
    # stack of the unused slots. The heap is 4-ary (half the levels of a binary heap, so half
    # the moves per pop for the same number of comparisons) and keeps each entry's key beside
    # it: _ht[i] is the time and _hk[i] = seq << _SLOT_BITS | slot. seq is unique, so comparing
    # _hk breaks a tie in time exactly as comparing seq would, and one move carries the slot.
    # at() pushes, _pop() pops.
    def _alloc(self, n: int) -> None:
        self._ht = array("q", bytes(8 * n))
        self._hk = array("q", bytes(8 * n))
        self._token = array("q", bytes(8 * n))
        self._kind = array("i", bytes(4 * n))
        self._obj = [None] * n
        self._free = array("i", range(n - 1, -1, -1))
        self._nfree = n
        self._cap = n

    def _grow(self) -> None:
        """Twice the slots; the events keep theirs (called only when none is free)."""
        n = self._cap
        if 2 * n > _SLOT_MASK + 1:
            raise OverflowError(f"more than {_SLOT_MASK + 1} events pending")
        self._ht = array("q", self._ht) + array("q", bytes(8 * n))
        self._hk = array("q", self._hk) + array("q", bytes(8 * n))
        self._token = array("q", self._token) + array("q", bytes(8 * n))
        self._kind = array("i", self._kind) + array("i", bytes(4 * n))
        self._obj = self._obj + [None] * n
        self._free = array("i", range(2 * n - 1, n - 1, -1)) + array("i", bytes(4 * n))
        self._nfree = n
        self._cap = 2 * n

    def _pop(self) -> int:
        s = self._hk[0] & _SLOT_MASK
        self.now_ns = self._ht[0]
        self._n -= 1
        n = self._n
        if n:                                         # the last entry sifts down from the top
            lt, lk = self._ht[n], self._hk[n]
            i = 0
            while True:
                child = 4 * i + 1
                if child >= n:
                    break
                ct, ck = self._ht[child], self._hk[child]
                for j in range(child + 1, min(child + 4, n)):
                    jt = self._ht[j]
                    if jt < ct or (jt == ct and self._hk[j] < ck):
                        child, ct, ck = j, jt, self._hk[j]
                if lt < ct or (lt == ct and lk < ck):
                    break
                self._ht[i] = ct
                self._hk[i] = ck
                i = child
            self._ht[i] = lt
            self._hk[i] = lk
        self.popped_obj = self._obj[s]
        self.popped_token = self._token[s]
        self._free[self._nfree] = s
        self._nfree += 1
        return self._kind[s]
