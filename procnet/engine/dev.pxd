# C types for dev.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *
from procnet.engine.cpu cimport Cpu
from procnet.engine.events cimport EventQueue
from procnet.engine.listhead cimport ListHead
from procnet.engine.netdevice cimport NetDevice, RxQueue
from procnet.engine.sched cimport Task
from procnet.engine.skbuff cimport SkbQueue
from procnet.engine.softnet cimport FlowLimit, Napi, SoftnetData
from procnet.engine.stats cimport LatencyHistogram, Stats
from procnet.engine.traffic cimport Flow

cdef long long KMALLOC_MAX_SIZE, MAX_SOFTIRQ_TIME_MS


@cython.final
cdef class Costs:
    cdef public long long hardirq_ns, softirq_entry_ns, napi_poll_ns, driver_rx_ns, enqueue_ns
    cdef public long long protocol_ns, ipi_send_ns, ipi_latency_ns, wakeup_ns
    cdef public long long wakeup_latency_ns, context_switch_ns, migration_ns, udp_send_ns
    cdef public long long udp_recv_ns, spin_ns


@cython.final
cdef class NetCoreSysctls:
    cdef public long long netdev_max_backlog, dev_weight, dev_weight_rx_bias, dev_weight_tx_bias
    cdef public long long dev_rx_weight, dev_tx_weight, netdev_budget, netdev_budget_usecs
    cdef public long long flow_limit_table_len, rps_sock_flow_entries
    cdef public object rps_default_mask
    cdef public long long netdev_tstamp_prequeue, busy_poll, busy_read, gro_normal_batch
    cdef public long long skb_defer_max


cdef class NetCore:
    # set by Machine.__init__, used by both halves
    cdef public object cfg, cost
    cdef public EventQueue eq
    cdef public Stats stats
    cdef public list cpus, dmesg
    cdef public long long _cost_acc
    cdef public int ctx, curr_cpu
    # the receive path's own
    cdef public Costs c
    cdef public int hz
    cdef public long long max_softirq_jiffies
    cdef public bint preempt_rt, use_backlog_threads, backlog_threaded, felix_intended
    cdef public bint backlog_local_shortcut
    cdef public NetCoreSysctls sysctl
    cdef public list softnet, flows
    cdef public dict netdevs, traffic, stalled
    cdef public long long _next_fid, _next_ifindex, _next_irq, _kthreads_created
    cdef public object kthread_fail_at, delivery_trace, trace_napi_poll
    cdef public str felix_variant
    cdef public list flows_by_id
    cdef long long[::1] _flow_hash
    cdef long long[::1] _rps_first, _rps_tail, _rps_count, _rps_order, _rps_next, _rps_done

    # the CPU model (Machine implements these)
    cpdef int raise_irq(self, Cpu cpu, object src) except -1
    cpdef int raise_net_rx(self, Cpu cpu) except -1
    cpdef bint wake_up_process(self, Task t, bint charge=*) except -1
    cdef int _start_chunk(self, Cpu cpu, int kind, long long dur_ns, Task task,
                          bint preemptible, int done) except -1
    cdef _cut_chunk(self, Cpu cpu)
    cdef _kick(self, Cpu cpu, long long delay_ns=*)
    cdef int _dispatch(self, Cpu cpu) except -1
    cdef int _net_rx_action_done(self, Cpu cpu) except -1
    cpdef long long jiffies(self, long long t_ns=*)

    # NIC interrupts
    @cython.locals(when=cython.longlong, nxt=cython.longlong)
    cdef int _arm_irq(self, RxQueue rxq) except -1
    @cython.locals(irq_cpu=cython.int)
    cdef int _irq_fire(self, RxQueue rxq, long long token) except -1
    @cython.locals(napi=Napi, ring=SkbQueue, cost=cython.longlong, t=cython.longlong)
    cpdef int rxq_interrupt(self, RxQueue rxq, Cpu cpu) except -1

    # entry points
    @cython.locals(target=cython.int)
    cpdef netif_rx(self, long long t_ns, Flow flow, Cpu cpu, RxQueue rxq)
    @cython.locals(tcpu=cython.int, c=Cpu)
    cpdef int get_rps_cpu(self, RxQueue rxq, long long hash_) except? -2
    @cython.locals(dev=NetDevice, sd=SoftnetData, qlen=Py_ssize_t, max_backlog=cython.longlong)
    cpdef bint enqueue_to_backlog(self, long long t_ns, Flow flow, int target,
                                  int this_cpu) except -1
    @cython.locals(max_backlog=cython.longlong, fl=FlowLimit)
    cdef bint skb_flow_limit(self, long long hash_, Py_ssize_t qlen, int this_cpu) except -1

    # scheduling NAPIs
    cdef int napi_schedule_rps(self, SoftnetData sd, SoftnetData mysd) except -1
    @cython.locals(thread=Task, local_shortcut=bint, c=Cpu)
    cdef int ____napi_schedule(self, SoftnetData sd, Napi napi) except -1
    @cython.locals(cpu=Cpu)
    cdef _poke_spinner(self, Task thread)
    cdef int _ipi_arrive(self, SoftnetData remsd) except -1
    cpdef int rps_trigger_softirq(self, SoftnetData sd, Cpu cpu) except -1
    @cython.locals(cost=cython.longlong, lst=list, remsd=SoftnetData, target=Cpu)
    cdef long long net_rps_send_ipi(self, SoftnetData mysd)

    # polling
    @cython.locals(dev=NetDevice, stats=Stats, sd=SoftnetData, c=Cpu)
    cpdef deliver(self, long long t_ns, Flow flow, int run_cpu, long long t_done)
    @cython.locals(latency=LatencyHistogram, t=cython.longlong, fast=cython.longlong,
                   t_ns=cython.longlong, flow=Flow, i=Py_ssize_t, sd=SoftnetData,
                   c=Cpu, flows=list, k=Py_ssize_t, head=Py_ssize_t, mask=Py_ssize_t)
    cdef int deliver_batch(self, SkbQueue q, Py_ssize_t n, int run_cpu, long long t_first,
                           long long step) except -1
    @cython.locals(sd=SoftnetData, cost=cython.longlong, work=cython.longlong,
                   per_pkt=cython.longlong, pq=SkbQueue, n=cython.longlong)
    cdef (long long, long long) process_backlog(self, Napi napi, long long quota, int run_cpu,
                                                long long t0) except *
    @cython.locals(sd=SoftnetData, q=SkbQueue, qlen=Py_ssize_t, max_backlog=cython.longlong,
                   last=cython.longlong, mysd=SoftnetData, i=Py_ssize_t, j=Py_ssize_t,
                   mask=Py_ssize_t, src_head=Py_ssize_t, src_mask=Py_ssize_t, o=Py_ssize_t,
                   target=cython.int, k=Py_ssize_t, count=Py_ssize_t)
    cdef int enqueue_batch(self, SkbQueue ring, Py_ssize_t norder, int this_cpu,
                           NetDevice dev) except -1
    @cython.locals(rxq=RxQueue, ring=SkbQueue, c=Costs, work=cython.longlong,
                   step=cython.longlong, cost=cython.longlong, n=cython.longlong, cpus=list,
                   norder=Py_ssize_t,
                   inline_first=Py_ssize_t, inline_tail=Py_ssize_t, head=Py_ssize_t,
                   mask=Py_ssize_t, k=Py_ssize_t, fid=cython.longlong, h=cython.longlong,
                   tcpu=cython.int, i=Py_ssize_t, driver_rx_ns=cython.longlong,
                   enqueue_ns=cython.longlong, protocol_ns=cython.longlong)
    cdef (long long, long long) napi_poll_device(self, Napi napi, long long quota, Cpu cpu,
                                                 long long t0) except *
    @cython.locals(weight=cython.longlong, work=cython.longlong, cost=cython.longlong)
    cdef (long long, long long, bint) __napi_poll(self, Napi napi, Cpu cpu,
                                                  long long t0) except *
    @cython.locals(sd=SoftnetData)
    cdef net_rx_action_begin(self, Cpu cpu)
    @cython.locals(sd=SoftnetData, napi=Napi, fixed=cython.longlong, work=cython.longlong,
                   cost=cython.longlong, repoll=bint)
    cdef int net_rx_action_poll_one(self, Cpu cpu) except -1
    @cython.locals(sd=SoftnetData)
    cdef int _net_rx_action_after_poll(self, Cpu cpu) except -1
    @cython.locals(new=ListHead, n=Napi, k=Py_ssize_t, cost=cython.longlong)
    cdef int _net_rx_action_exit(self, Cpu cpu, SoftnetData sd, bint dispatch) except -1

    # threaded NAPI
    @cython.locals(napi=Napi, pc=cython.int, cpu=Cpu, sd=SoftnetData, work=cython.longlong,
                   cost=cython.longlong, repoll=bint)
    cdef int _napi_thread_step(self, Task t) except -1
