# C types for traffic.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *
from procnet.engine.skbuff cimport SkbQueue

cdef long long RSS_INDIR_SIZE, BLOCK_SPAN_NS, MIN_BLOCK, MAX_BLOCK


@cython.final
cdef class Flow:
    cdef public long long fid
    cdef public str name
    cdef public object tuple5
    cdef public long long hash
    cdef public object dev
    cdef public long long delivered, dropped
    cdef public object sink


@cython.final
cdef class ArrivalStream:
    cdef public list flows
    cdef public str pattern
    cdef public double rate_pps
    cdef public object rng_gaps, rng_flows
    cdef Py_ssize_t _block
    cdef public long long on_ns, cycle_ns, start_ns
    cdef public bint active
    cdef double _phase, _tau
    cdef long long _k, _last
    cdef long long[::1] _t, _fi, _tbuf, _fbuf
    cdef object _gbuf, _ubuf        # numpy arrays: the generators' out= takes no memoryview
    cdef Py_ssize_t _n, _i
    cdef public long long next_ns
    cdef long long[::1] _fids
    cdef public long long taken_fid, taken_local

    @cython.locals(n=Py_ssize_t, gap=cython.double, poisson=bint, nflows=Py_ssize_t, i=Py_ssize_t,
                   x=Py_ssize_t, u=cython.double[::1])
    cpdef _refill(self)
    @cython.locals(g=cython.double[::1], acc=cython.double, floor_ns=cython.longlong,
                   run=cython.longlong, i=Py_ssize_t, tau=cython.longlong, v=cython.longlong)
    cdef _block_times(self, bint poisson, Py_ssize_t n, double gap)
    @cython.locals(t=cython.longlong, local=Py_ssize_t)
    cpdef long long take(self)
    @cython.locals(taken=cython.longlong, flow=Flow, i=Py_ssize_t, j=Py_ssize_t,
                   push=Py_ssize_t, x=Py_ssize_t, tail=Py_ssize_t, mask=Py_ssize_t,
                   fid=cython.longlong)
    cpdef long long take_into(self, SkbQueue ring, long long now_ns, long long room)
    @cython.locals(i=Py_ssize_t)
    cdef inline _advance(self)
    cpdef stop(self)
