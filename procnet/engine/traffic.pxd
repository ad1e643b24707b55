# C types for traffic.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *
from procnet.engine.skbuff cimport SkbQueue

cdef long long RSS_INDIR_SIZE, BLOCK_SPAN_NS, MIN_BLOCK, MAX_BLOCK

# The flow picks of a block (ArrivalStream._refill), drawn here instead of through numpy's
# Generator.random(): the same PCG64 stream and the same doubles, bit for bit (numpy's
# PCG64 is PCG XSL RR 128/64, a double is the top 53 bits of a draw times 2**-53), without a
# call through numpy's bit generator per draw. st holds the 128-bit state and increment as
# four 64-bit halves (high, low, high, low) and is advanced by n draws.
cdef extern from *:
    """
    #include <stdint.h>
    static inline void procnet_pcg64_flow_picks(unsigned long long *st, long long *out,
                                                Py_ssize_t n, long long nflows) {
        const unsigned __int128 mult =
            ((unsigned __int128)0x2360ED051FC65DA4ULL << 64) | 0x4385DF649FCCF645ULL;
        unsigned __int128 s = ((unsigned __int128)st[0] << 64) | st[1];
        const unsigned __int128 inc = ((unsigned __int128)st[2] << 64) | st[3];
        for (Py_ssize_t i = 0; i < n; i++) {
            s = s * mult + inc;
            uint64_t x = (uint64_t)(s >> 64) ^ (uint64_t)s;
            unsigned r = (unsigned)(s >> 122);
            x = (x >> r) | (x << ((-r) & 63));
            double u = (double)(x >> 11) * (1.0 / 9007199254740992.0);
            long long f = (long long)(u * (double)nflows);     /* floor(u * nflows) */
            out[i] = f < nflows ? f : nflows - 1;
        }
        st[0] = (uint64_t)(s >> 64);
        st[1] = (uint64_t)s;
    }
    """
    void procnet_pcg64_flow_picks(unsigned long long *st, long long *out, Py_ssize_t n,
                                  long long nflows) noexcept


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
    cdef object _gbuf               # a numpy array: the generator's out= takes no memoryview
    cdef unsigned long long _flow_pcg[4]    # rng_flows' PCG64 state (procnet_pcg64_flow_picks)
    cdef Py_ssize_t _n, _i
    cdef public long long next_ns
    cdef long long[::1] _fids
    cdef public long long taken_fid, taken_local

    @cython.locals(n=Py_ssize_t, gap=cython.double, poisson=bint, nflows=Py_ssize_t, i=Py_ssize_t)
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
