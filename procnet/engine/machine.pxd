# C types for machine.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *
from procnet.engine.cpu cimport Cpu
from procnet.engine.dev cimport Costs, NetCore
from procnet.engine.events cimport EventQueue
from procnet.engine.netdevice cimport RxQueue
from procnet.engine.sched cimport QueuedTasks, RunQueue, Task
from procnet.engine.softnet cimport SoftnetData

cdef long long MAX_SOFTIRQ_RESTART, PELT_HALFLIFE_NS, IMBALANCE_PCT, LONG_CHUNK_NS
cdef long long PID_KTHREAD_BASE, PID_USER_BASE, DMESG_LINES


cdef class Machine(NetCore):
    cdef public long long slice_ns, wakeup_gran_ns, total_forks, _next_kpid, _next_upid
    cdef public dict tasks, user_tasks, udp_rr
    cdef public QueuedTasks queued_tasks

    # the CPU model the receive path calls (declared by NetCore)
    @cython.locals(remsd=SoftnetData)
    cpdef int raise_irq(self, Cpu cpu, object src) except -1
    cpdef int raise_net_rx(self, Cpu cpu) except -1
    @cython.locals(waker=cython.int, new_cpu=cython.int, rq=RunQueue)
    cpdef bint wake_up_process(self, Task t, bint charge=*) except -1
    @cython.locals(now=cython.longlong)
    cdef int _start_chunk(self, Cpu cpu, int kind, long long dur_ns, Task task,
                          bint preemptible, int done) except -1
    @cython.locals(kind=cython.int, start=cython.longlong, task=Task, now=cython.longlong,
                   elapsed=cython.longlong)
    cdef _cut_chunk(self, Cpu cpu)
    cdef _kick(self, Cpu cpu, long long delay_ns=*)
    cdef int _dispatch(self, Cpu cpu) except -1
    @cython.locals(host=Task)
    cdef int _net_rx_action_done(self, Cpu cpu) except -1
    cdef long long _jiffy, _jiffy_start, _jiffy_end
    @cython.locals(t=cython.longlong, hz=cython.longlong, j=cython.longlong)
    cpdef long long jiffies(self, long long t_ns=*)
    @cython.locals(hz=cython.longlong)
    cdef long long _jiffy_ns(self, long long j)

    @cython.locals(eq=EventQueue, n=cython.longlong, t=cython.longlong, kind=cython.int)
    cdef bint _run_events(self, long long end_ns, long long limit, object should_yield) except -1

    # tasks and the scheduler
    cdef _detach_current(self, Cpu cpu, Task t)
    @cython.locals(old=Cpu)
    cdef _move_task(self, Task t, int new_cpu)
    @cython.locals(a=Cpu, b=Cpu)
    cdef _count_migration(self, Task t, int src, int dst)
    @cython.locals(cpus=list, cpu=Cpu, prev=cython.int, n=cython.int, i=cython.int,
                   c=cython.int, first=cython.int)
    cdef int _select_task_rq(self, Task t, int waker_cpu) except -1
    @cython.locals(cpu=Cpu)
    cdef inline bint _idle_allowed(self, Task t, int c) except -1
    @cython.locals(cpu=Cpu, curr=Task, remote=bint)
    cdef _enqueue(self, Task t, bint wakeup)
    cdef bint _should_preempt(self, Task t, Task curr) except -1
    cdef _recheck_chunk(self, Cpu cpu)
    cdef _dispatch_event(self, Cpu cpu)

    # chunks
    @cython.locals(elapsed=cython.longlong)
    cdef void _account_time(self, Cpu cpu, int kind, Task task, long long upto) noexcept
    @cython.locals(rq=RunQueue, low=cython.longlong, x=Task)
    cdef _account_vruntime(self, Cpu cpu, Task task, long long elapsed)
    @cython.locals(kind=cython.int, start=cython.longlong, end=cython.longlong, task=Task,
                   done=cython.int)
    cdef int _chunk_end(self, Cpu cpu, long long token) except -1
    cdef int _preempt_for_irq(self, Cpu cpu) except -1

    # interrupts and softirqs
    @cython.locals(cost=cython.longlong)
    cdef int _run_hardirq(self, Cpu cpu) except -1
    cdef int _irq_exit(self, Cpu cpu) except -1
    @cython.locals(k=Task)
    cdef _wakeup_softirqd(self, Cpu cpu)
    cdef _do_softirq_begin(self, Cpu cpu, Task host)
    cdef int _softirq_step(self, Cpu cpu) except -1
    cdef _do_softirq_end(self, Cpu cpu)

    # task level
    @cython.locals(t=Task, now=cython.longlong, pen=cython.longlong)
    cdef _run_task_level(self, Cpu cpu)
    @cython.locals(end=cython.longlong)
    cdef _run_request(self, Cpu cpu, Task t)
    @cython.locals(op=cython.int)
    cdef _advance_body(self, Cpu cpu, Task t)
    @cython.locals(op=object)
    cdef int _decode_request(self, Task t, tuple req) except -1
    @cython.locals(prev=Task, nxt=Task)
    cdef Task _schedule(self, Cpu cpu)
    @cython.locals(best=Task, other=Cpu, t=Task, src=Cpu, bc=Cpu)
    cdef Task _newidle_balance(self, Cpu cpu)
    cdef int _ksoftirqd_step(self, Task t, Cpu cpu) except -1
    cpdef timer_wake(self, Task t)
    cpdef sock_deliver(self, int cpu_id, object sock, object pkt)
