# C types for stats.py (Cython pure Python mode; the .py is the source), and the compiled
# LatencyHistogram._count: an inline method, written here so that deliver_batch (dev.py)
# compiles it without a call.
cimport cython

cdef long long EXACT_BELOW, N_SLOTS

cdef extern from *:
    # GCC/Clang builtin: leading zero bits of a nonzero 64-bit value.
    int __builtin_clzll(unsigned long long x) nogil


@cython.final
cdef class LatencyHistogram:
    cdef dict _counts
    cdef long long _total, _sum_ns, _max_ns
    cdef public list raw
    cdef long long[::1] _slots

    cpdef record(self, long long value_ns)
    cdef inline void _count(self, long long v) noexcept:
        """record() of the compiled engine, written here (C-level only, cannot fail) so that
        a caller in another module (NetCore.deliver_batch) compiles it inline."""
        cdef int s
        self._total += 1
        self._sum_ns += v
        if v > self._max_ns:
            self._max_ns = v
        if v < EXACT_BELOW:
            self._slots[v if v > 0 else 0] += 1     # latencies are never negative
            return
        # The bit length of v, minus 8, is how many low bits the bucket clears, >= 1 here.
        s = 64 - __builtin_clzll(v) - 8
        self._slots[EXACT_BELOW + (s - 1) * 128 + ((v >> s) - 128)] += 1
    cpdef flush(self)
    @cython.locals(seen=cython.longlong, slot=Py_ssize_t)
    cpdef long long percentile(self, double p)


@cython.final
cdef class Stats:
    cdef public long long offered, delivered, ipis_sent, wakeups, migrations
    cdef public long long delivered_after_unregister, stalls_detected, softirq_stuck
    cdef public dict dropped
    cdef public LatencyHistogram latency

    cpdef drop(self, str reason, long long n=*)
