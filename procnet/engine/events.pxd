# C types for events.py (Cython pure Python mode; the .py is the source), and the compiled
# queue's _push, _head and _pop: inline methods, written here so that callers in other
# modules compile them without a call (events.py says what they do).
cimport cython
from libc.string cimport memmove
from procnet.engine.defs cimport *

cdef Py_ssize_t _INITIAL_SLOTS


@cython.final
cdef class EventQueue:
    cdef long long _seq
    cdef public long long now_ns
    cdef public long long events_run
    cdef public object popped_obj
    cdef public long long popped_token
    cdef list _heap
    cdef Py_ssize_t _n, _cap
    cdef long long[::1] _q, _token
    cdef int[::1] _kind
    cdef int[::1] _free
    cdef Py_ssize_t _nfree
    cdef list _obj

    cpdef int at(self, long long time_ns, int kind, object obj, long long token) except -1
    cpdef int after(self, long long delay_ns, int kind, object obj, long long token) except -1
    cpdef long long head_ns(self) noexcept
    cpdef int pop(self) except? -1
    cdef _alloc(self, Py_ssize_t n)
    cdef _grow(self)

    cdef inline int _push(self, long long time_ns, int kind, object obj,
                          long long token) except -1:
        """at(), compiled."""
        cdef int s
        cdef Py_ssize_t n, lo, hi, mid
        cdef long long *q
        if time_ns < self.now_ns:
            raise ValueError(f"event in the past: {time_ns} < now {self.now_ns}")
        if not self._nfree:
            self._grow()
        self._nfree -= 1
        s = self._free[self._nfree]
        self._kind[s] = kind
        self._token[s] = token
        self._obj[s] = obj
        # Through a C pointer: a store through the array's own field would make the
        # compiler reload its data pointer.
        q = &self._q[0]
        n = self._n
        lo = 0                                        # binary search: lo becomes the
        hi = n                                        # number of events that fire later
        while lo < hi:
            mid = (lo + hi) >> 1
            if q[2 * mid] <= time_ns:
                hi = mid
            else:
                lo = mid + 1
        if lo < n:
            memmove(q + 2 * lo + 2, q + 2 * lo, (n - lo) * 16)
        q[2 * lo] = time_ns
        q[2 * lo + 1] = s
        self._n = n + 1
        return 0

    cdef inline long long _head(self) noexcept:
        """head_ns(), compiled."""
        return self._q[2 * self._n - 2] if self._n else NO_EVENT

    cdef inline int _pop(self) noexcept:
        """pop(), compiled: the last entry is the next event. The queue must not be empty."""
        cdef Py_ssize_t n
        cdef int s
        self._n -= 1
        n = self._n
        s = <int>self._q[2 * n + 1]
        self.now_ns = self._q[2 * n]
        self.popped_obj = self._obj[s]
        self.popped_token = self._token[s]
        self._free[self._nfree] = s
        self._nfree += 1
        return self._kind[s]
