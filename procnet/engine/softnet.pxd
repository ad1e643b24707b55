# C types for softnet.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *
from procnet.engine.listhead cimport ListHead
from procnet.engine.skbuff cimport SkbQueue

cdef long long FLOW_LIMIT_HISTORY

cdef class SoftnetData


@cython.final
cdef class Napi:
    cdef public str name
    cdef public long long state, weight
    cdef public object thread
    cdef public SoftnetData sd
    cdef public object rxq
    cdef public int on_poll_list


@cython.final
cdef class FlowLimit:
    cdef public long long count
    cdef public int log_buckets, history_head
    cdef public list history, buckets

    @cython.locals(new_flow=cython.longlong, head=cython.int, old_flow=cython.longlong)
    cpdef bint over_limit(self, long long flow_hash)


@cython.final
cdef class SoftnetData:
    cdef public int cpu
    cdef public SkbQueue input_pkt_queue, process_queue
    cdef public Napi backlog
    cdef public ListHead poll_list
    cdef public list rps_ipi_list, rps_ipi_spare
    cdef public long long processed, dropped, time_squeeze, received_rps
    cdef public long long input_queue_head, input_queue_tail, process_queue_empty
    cdef public long long ipi_inflight, ipi_cancelled
    cdef public FlowLimit flow_limit
    cdef public bint in_net_rx_action, in_napi_threaded_poll

    cpdef long long qlen(self)


cpdef long long hash_32(long long val, int bits)
cpdef long long reciprocal_scale(long long val, long long ep_ro)
