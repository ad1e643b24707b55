# C types for cpu.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *
from procnet.engine.listhead cimport ListHead
from procnet.engine.sched cimport QueuedTasks, RunQueue, Task


@cython.final
cdef class Cpu:
    cdef public int id
    cdef public bint online, softirq_pending, softirq_active, in_net_rx, need_resched
    cdef public bint chunk_preemptible, dispatch_pending
    cdef public RunQueue rq
    cdef public Task curr, softirq_host, chunk_task, ksoftirqd, backlog_thread, last_ran
    cdef public ListHead irq_pending, net_rx_list, net_rx_repoll
    cdef public int softirq_restart, chunk_kind, chunk_done
    cdef public long long softirq_end_jiffy, net_rx_budget, net_rx_time_limit, token
    cdef public long long chunk_start, chunk_end, idle_since, slice_end_ns, ctxt
    cdef public long long net_rx_softirqs, delivered, acct_from, irq_seen_ns
    cdef public long long[::1] acct_ns
    cdef public long long ipi_cal, ipi_res
    cdef public dict irqs_other
    cdef public double irq_avg
