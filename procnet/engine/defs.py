"""Integer constants shared by the engine's modules, in one place (like a kernel header).

The build writes defs.pxd from this file (setup.py): the same names and values as C enums,
which the compiled modules cimport. Plain Python, tests and users import them from here.
"""

NSEC_PER_USEC = 1_000
NSEC_PER_MSEC = 1_000_000
NSEC_PER_SEC = 1_000_000_000

# NAPI_STATE_* bits that matter for the backlog NAPI (names are the kernel's, values ours).
NAPI_STATE_SCHED = 1 << 0
NAPI_STATE_THREADED = 1 << 1
NAPI_STATE_SCHED_THREADED = 1 << 2
SCHED_BITS = NAPI_STATE_SCHED | NAPI_STATE_SCHED_THREADED

# Kinds of event, with their (obj, token) and the handler Machine._run_events calls.
EV_CHUNK_END = 0      # (Cpu, chunk token)          Machine._chunk_end
EV_DISPATCH = 1       # (Cpu, -)                    Machine._dispatch_event
EV_IRQ_FIRE = 2       # (RxQueue, irq token)        NetCore._irq_fire
EV_IPI_ARRIVE = 3     # (SoftnetData, -)            NetCore._ipi_arrive
EV_TIMER_WAKE = 4     # (Task, -)                   Machine.timer_wake
EV_SOCK_DELIVER = 5   # ((cpu, Socket, pkt), -)     Machine.sock_deliver
EV_BALANCE = 6        # (-, -)                      Machine._periodic_balance
NO_EVENT = -1         # EventQueue.head_ns() of an empty queue

# What a CPU runs (cpu.py): the chunk kind is also the /proc/stat bucket its time goes to.
USER = 0
SYSTEM = 1
IRQ = 2
SOFTIRQ = 3
IDLE = 4              # a bucket only
NO_CHUNK = -1         # the CPU runs no chunk
# What runs when a chunk ends (Cpu.chunk_done).
DONE_NONE = 0
DONE_IRQ_EXIT = 1     # irq_exit()
DONE_AFTER_POLL = 2   # net_rx_action()'s budget and time test after a poll
# The context code runs in (Machine.ctx).
CTX_TASK = 0
CTX_TASK_BH = 1       # a task with bottom halves disabled (kthreads, netif_rx from a task)
CTX_HARDIRQ = 2
CTX_SOFTIRQ = 3

# A task body's requests (sched.py).
OP_RUN = 0
OP_SLEEP = 1
OP_SOFTIRQ = 2
OP_BH_ENABLE = 3
OP_RESCHED = 4
OP_SPIN = 5
# Task bodies: a generator, or a kernel thread's loop as a state machine (Task.body_kind).
BODY_GENERATOR = 0
BODY_KSOFTIRQD = 1    # run_ksoftirqd()             Machine._ksoftirqd_step
BODY_NAPI = 2         # napi_threaded_poll()        NetCore._napi_thread_step
# Where those loops resume (Task.pc).
KSOFTIRQD_TOP = 0
KSOFTIRQD_RAN = 1
KSOFTIRQD_RESCHED = 2
NAPI_THREAD_WAIT = 0
NAPI_THREAD_RAN = 1
NAPI_THREAD_BH = 2
NAPI_THREAD_RESCHED = 3

NO_ARRIVAL = -1       # ArrivalStream.next_ns of a stream that has stopped
YIELD_MASK = 31       # should_yield() is asked every 32 events (~0.1-0.2 ms of Python)
