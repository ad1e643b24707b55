# C types for netdevice.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *
from procnet.engine.skbuff cimport SkbQueue
from procnet.engine.softnet cimport Napi
from procnet.engine.stats cimport Stats
from procnet.engine.traffic cimport ArrivalStream, Flow

cdef class NetDevice


@cython.final
cdef class RxQueue:
    cdef public NetDevice dev
    cdef public int index
    cdef public SkbQueue ring
    cdef public long long ring_size
    cdef public list streams
    cdef public Napi napi
    cdef public object irq_cpu
    cdef public bint irq_armed
    cdef public long long irq_token
    cdef public long long[::1] rps_map
    cdef public object rps_mask
    cdef public long long rps_flow_cnt
    cdef public object irq
    cdef public long long[::1] irqs_per_cpu

    @cython.locals(best=cython.longlong, t=cython.longlong, s=ArrivalStream)
    cpdef long long next_arrival_ns(self)
    @cython.locals(ring=SkbQueue, room=cython.longlong, single=ArrivalStream, s=ArrivalStream,
                   x=ArrivalStream, best_t=cython.longlong, t=cython.longlong,
                   taken=cython.longlong, dropped=cython.longlong, streams=list)
    cpdef int fill(self, long long now_ns, Stats stats) except -1


@cython.final
cdef class NetDevice:
    cdef public object cfg
    cdef public str name
    cdef public int ifindex, threaded, irq_base
    cdef public bint loopback, running, unregistered, napi_driver
    cdef str _reg_state
    cdef public long long coalesce_ns
    cdef public list rxqs
