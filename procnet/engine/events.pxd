# C types for events.py (Cython pure Python mode; the .py is the source).
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

    @cython.locals(s=cython.int, n=Py_ssize_t, lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t,
                   q=cython.p_longlong)
    cpdef int at(self, long long time_ns, int kind, object obj, long long token) except -1
    cpdef int after(self, long long delay_ns, int kind, object obj, long long token) except -1
    cpdef long long head_ns(self) noexcept
    cpdef int pop(self) except? -1
    cdef _alloc(self, Py_ssize_t n)
    cdef _grow(self)

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
