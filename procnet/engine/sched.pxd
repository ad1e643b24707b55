# C types for sched.py (Cython pure Python mode; the .py is the source).
cimport cython
from procnet.engine.defs cimport *


@cython.final
cdef class Task:
    cdef public long long pid
    cdef public str comm, kind, policy, state
    cdef public bint is_kthread, is_fifo, per_cpu, preemptible, on_rq, spinning, repoll
    cdef public object allowed
    cdef public int cpu, body_kind, pc, bucket
    cdef public long long vruntime, runtime_ns, utime_ns, stime_ns, remaining_ns
    cdef public long long nvcsw, nivcsw, migrations, wakeups, start_ns, penalty_ns, spin_iters
    cdef public object body, napi


@cython.final
cdef class QueuedTasks:
    cdef public long long n


@cython.final
cdef class RunQueue:
    cdef public list tasks
    cdef public long long min_vruntime
    cdef public QueuedTasks queued

    cpdef add(self, Task t)
    cpdef remove(self, Task t)
    @cython.locals(best=Task, t=Task)
    cpdef Task pick(self)
