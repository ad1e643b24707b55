"""The machine: CPUs running hardirqs, softirqs and tasks over one event queue.

This module models how a CPU spends its time (kernel/softirq.c `__do_softirq`, `irq_exit`,
`ksoftirqd`; the scheduler's core in kernel/sched/core.c) and owns every object of a run.
The receive path itself (net/core/dev.c) lives in `procnet.engine.dev`, mixed in as `NetCore`.

Execution model. A CPU executes "chunks": a hardirq handler, one NAPI poll inside
`net_rx_action`, or a slice of a task's work. A chunk's effects are applied when it starts (with
exact per-packet timestamps inside it); the CPU is then busy until the chunk ends. Priority at
each dispatch: pending hardirqs, then an active softirq loop, then the current task.

Simplifications:
  * Hard and soft IRQ chunks and NAPI polls in threads are not preempted; a hardirq that arrives
    meanwhile is taken when the chunk ends (a poll is tens of microseconds). User-task chunks and
    busy-spinning threads are preempted at once.
  * A CPU going offline stops at once; the chunk it was running has already taken effect.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

import cython

from .config import MachineConfig, TaskConfig, UdpRRConfig
from .cpu import BUCKETS, Cpu
from .dev import NetCore
from .events import EventQueue
from .netdevice import RxQueue
from .sched import DEAD, OPS, PARKED, RUNNING, SLEEPING, QueuedTasks, Task, ilog2
from .softnet import SoftnetData
from .stats import LatencyHistogram, Stats

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import (BODY_KSOFTIRQD, BODY_NAPI, CTX_HARDIRQ, CTX_TASK, CTX_TASK_BH,
                       DONE_AFTER_POLL, DONE_IRQ_EXIT, DONE_NONE, EV_BALANCE, EV_CHUNK_END,
                       EV_DISPATCH, EV_IPI_ARRIVE, EV_IRQ_FIRE, EV_SOCK_DELIVER, EV_TIMER_WAKE,
                       IDLE, IRQ, KSOFTIRQD_RAN, KSOFTIRQD_RESCHED, KSOFTIRQD_TOP, NO_CHUNK,
                       NO_EVENT, NSEC_PER_MSEC, NSEC_PER_SEC, OP_BH_ENABLE, OP_RESCHED, OP_RUN, OP_SLEEP, OP_SOFTIRQ, SOFTIRQ,
                       SYSTEM, USER, YIELD_MASK)

MAX_SOFTIRQ_RESTART = 10
PELT_HALFLIFE_NS = 32 * NSEC_PER_MSEC   # PELT: a contribution halves every 32 ms
IMBALANCE_PCT = 117                     # sched_domain imbalance_pct of the MC level
LONG_CHUNK_NS = 10 * NSEC_PER_MSEC
PID_KTHREAD_BASE = 3      # 1 is init, 2 kthreadd (not emulated)
PID_USER_BASE = 1000

DMESG_LINES = 10_000


class Socket:
    """A UDP socket an emulated task blocks on (one end of a UDP_RR pair)."""

    __slots__ = ("queue", "waiter")

    def __init__(self) -> None:
        self.queue: deque = deque()
        self.waiter: Task | None = None


class UdpRR:
    """A netperf UDP_RR-like pair over lo: one transaction = request + response."""

    def __init__(self, cfg: UdpRRConfig) -> None:
        self.cfg = cfg
        self.client_sock = Socket()
        self.server_sock = Socket()
        self.transactions = 0
        self.rtt = LatencyHistogram()
        self.client: Task | None = None
        self.server: Task | None = None
        self.req_flow = None
        self.resp_flow = None


class Machine(NetCore):
    """A running machine. See README "Python API" for a walk-through.

    >>> m = Machine(MachineConfig(cpus=4))
    >>> m.add_traffic(TrafficConfig("t", flows=2, pps=100_000))
    >>> m.run_for(10 * NSEC_PER_MSEC)
    """

    def __init__(self, cfg: MachineConfig | None = None) -> None:
        cfg = cfg or MachineConfig()
        self.cfg = cfg
        self.eq = EventQueue()
        self.stats = Stats()
        self.dmesg: list[tuple[int, str]] = []
        self.queued_tasks = QueuedTasks()         # tasks on all run queues
        self.cpus = [Cpu(i, self.queued_tasks) for i in range(cfg.cpus)]
        factor = 1 + ilog2(min(cfg.cpus, 8))        # sysctl_sched_tunable_scaling = log
        self.slice_ns = cfg.sched.base_slice_ns * factor
        self.wakeup_gran_ns = cfg.sched.wakeup_granularity_ns * factor
        self.tasks: dict[int, Task] = {}          # live tasks; release_task() drops the dead
        self.total_forks = 0                      # kernel/fork.c total_forks: /proc/stat processes
        self._next_kpid = PID_KTHREAD_BASE
        self._next_upid = PID_USER_BASE
        self.user_tasks: dict[str, Task] = {}
        self.udp_rr: dict[str, UdpRR] = {}
        self._cost_acc = 0                        # extra cost accrued by the current chunk
        self._jiffy = self._jiffy_start = self._jiffy_end = 0     # jiffies()' cache: none yet
        self.ctx = CTX_TASK                       # the context code runs in (cpu.CTX_*)
        self.curr_cpu = 0                         # the CPU whose chunk is being computed
        NetCore.__init__(self)
        for c in self.cpus:
            c.ksoftirqd = self._spawn_kthread(f"ksoftirqd/{c.id}", BODY_KSOFTIRQD,
                                              cpu=c.id, per_cpu=True)
        if cfg.use_backlog_threads:
            self._setup_backlog_napi_threads()
        for d in cfg.devices:
            self.add_netdev(d)
        for t in cfg.traffic:
            self.add_traffic(t)
        for t in cfg.tasks:
            self.add_task(t)
        for p in cfg.udp_rr:
            self.add_udp_rr(p)
        self.eq.at(cfg.sched.balance_interval_ns, EV_BALANCE, None, 0)

    # ------------------------------------------------------------------ public API: time
    @property
    def now_ns(self) -> int:
        return self.eq.now_ns

    def run_for(self, duration_ns: int) -> None:
        """Simulate `duration_ns` more nanoseconds of virtual time."""
        if duration_ns < 0:
            raise ValueError(f"duration must be >= 0 (got {duration_ns})")
        self.run_until(self.eq.now_ns + duration_ns)

    def run_until(self, end_ns: int, max_events: int | None = None,
                  should_yield: Callable[[], bool] | None = None) -> bool:
        """Run every event with time <= end_ns, then set now to end_ns; returns True.

        With `max_events`, stop early (returns False, now at the last event run) so a caller
        can interleave other work. `should_yield` is asked every YIELD_MASK + 1 events (a
        cond_resched() point): True stops early as well. Where a run stops never changes what
        it computes, only when the caller gets control."""
        done = self._run_events(end_ns, -1 if max_events is None else max_events, should_yield)
        if done:
            self._fill_all_rings()
        self.sync_accounting()
        return done

    def _run_events(self, end_ns: int, limit: int, should_yield) -> bool:
        eq = self.eq
        n = 0
        while True:
            t = eq._head()                  # head_ns(), inline compiled (events.pxd)
            if t == NO_EVENT or t > end_ns:
                break
            if n == limit or (should_yield is not None and n & YIELD_MASK == YIELD_MASK
                              and should_yield()):
                eq.events_run += n
                return False
            kind = eq._pop()                # pop(), inline compiled
            obj = eq.popped_obj
            # Unchecked casts: an event's kind says what its obj is (the EV_* list in defs.py).
            if kind == EV_CHUNK_END:
                self._chunk_end(cython.cast(Cpu, obj), eq.popped_token)
            elif kind == EV_IRQ_FIRE:
                self._irq_fire(cython.cast(RxQueue, obj), eq.popped_token)
            elif kind == EV_IPI_ARRIVE:
                self._ipi_arrive(cython.cast(SoftnetData, obj))
            elif kind == EV_DISPATCH:
                self._dispatch_event(cython.cast(Cpu, obj))
            elif kind == EV_TIMER_WAKE:
                self.timer_wake(cython.cast(Task, obj))
            elif kind == EV_SOCK_DELIVER:
                self.sock_deliver(obj[0], obj[1], obj[2])
            elif kind == EV_BALANCE:
                self._periodic_balance()
            else:
                raise ValueError(f"unknown event kind {kind}")
            n += 1
        eq.events_run += n
        eq.now_ns = max(eq.now_ns, end_ns)
        return True

    def jiffies(self, t_ns: int = -1) -> int:
        """jiffies at t_ns (default: now), floor(t * HZ / NSEC_PER_SEC) exactly, for any time
        without a 64-bit overflow. The jiffy last asked for is kept with the nanoseconds it
        spans: softirq and net_rx_action ask about once per poll, and a jiffy lasts 1-10 ms."""
        t = self.eq.now_ns if t_ns < 0 else t_ns
        if self._jiffy_start <= t < self._jiffy_end:
            return self._jiffy
        hz = self.hz
        j = t // NSEC_PER_SEC * hz + t % NSEC_PER_SEC * hz // NSEC_PER_SEC
        self._jiffy = j
        self._jiffy_start = self._jiffy_ns(j)
        self._jiffy_end = self._jiffy_ns(j + 1)
        return j

    def _jiffy_ns(self, j: int) -> int:
        """The first nanosecond of jiffy j: ceil(j * NSEC_PER_SEC / HZ), without overflow."""
        hz = self.hz
        return j // hz * NSEC_PER_SEC + (j % hz * NSEC_PER_SEC + hz - 1) // hz

    def log(self, msg: str) -> None:
        """printk(): kept with its virtual timestamp for procnet/dmesg; like the kernel's log
        buffer it keeps the newest DMESG_LINES messages."""
        self.dmesg.append((self.eq.now_ns, msg))
        if len(self.dmesg) > DMESG_LINES:
            del self.dmesg[:len(self.dmesg) - DMESG_LINES]

    # ------------------------------------------------------------------ public API: tasks
    def add_task(self, cfg: TaskConfig, policy: str = "other") -> Task:
        """Start a CPU-hog (util=100) or duty-cycle user task."""
        if cfg.name in self.user_tasks:
            raise ValueError(f"task {cfg.name!r} already exists")
        if not 0 < cfg.util <= 100:
            raise ValueError(f"util must be in 1..100 (got {cfg.util})")
        if cfg.util < 100 and cfg.period_ns < 1000:
            raise ValueError(f"period must be >= 1us (got {cfg.period_ns} ns)")
        allowed = self._affinity(cfg.cpus)
        t = self._new_task(cfg.name, "user", allowed, min(allowed), policy=policy)
        t.body = self._hog_body(t, cfg)
        self.user_tasks[cfg.name] = t
        self.wake_up_process(t)
        return t

    def del_task(self, name: str) -> None:
        t = self.user_tasks.pop(name, None)
        if t is None:
            raise KeyError(f"no task {name!r}")
        self._kill(t)

    def set_affinity(self, pid: int, cpus) -> None:
        """sched_setaffinity(): refuses per-CPU kthreads (EINVAL) and masks with no online CPU."""
        t = self.tasks.get(pid)
        if t is None or t.state == DEAD:
            raise LookupError(f"no task with pid {pid}")
        if t.per_cpu:
            raise PermissionError(f"{t.comm} is bound to its CPU (PF_NO_SETAFFINITY)")
        allowed = self._affinity(cpus)
        if not any(self.cpus[c].online for c in allowed):
            raise ValueError(f"affinity {sorted(allowed)} has no online CPU")
        t.allowed = allowed
        if t.cpu not in allowed:
            self._move_task(t, self._select_task_rq(t, t.cpu))

    def add_udp_rr(self, cfg: UdpRRConfig) -> UdpRR:
        """Start a UDP_RR pair over lo: client sends, server answers, each transaction counted."""
        if cfg.name in self.udp_rr:
            raise ValueError(f"udp_rr {cfg.name!r} already exists")
        lo = self.netdevs.get("lo")
        if lo is None:
            raise ValueError("udp_rr needs the lo device")
        pair = UdpRR(cfg)
        pair.req_flow = self._new_flow(f"{cfg.name}/req", lo, ("127.0.0.1", "127.0.0.1", 17,
                                                               40000 + len(self.udp_rr), 12865))
        pair.resp_flow = self._new_flow(f"{cfg.name}/resp", lo, ("127.0.0.1", "127.0.0.1", 17,
                                                                 12865, 40000 + len(self.udp_rr)))
        pair.req_flow.sink = pair.server_sock
        pair.resp_flow.sink = pair.client_sock
        ca, sa = self._affinity(cfg.client_cpus), self._affinity(cfg.server_cpus)
        pair.server = self._new_task(f"{cfg.name}-server", "user", sa, min(sa))
        pair.client = self._new_task(f"{cfg.name}-client", "user", ca, min(ca))
        pair.server.body = self._udp_server_body(pair)
        pair.client.body = self._udp_client_body(pair)
        self.udp_rr[cfg.name] = pair
        self.wake_up_process(pair.server)
        self.wake_up_process(pair.client)
        return pair

    def task_list(self) -> list[Task]:
        return [t for t in sorted(self.tasks.values(), key=lambda t: t.pid) if t.state != DEAD]

    # ------------------------------------------------------------------ task plumbing
    def _affinity(self, cpus) -> frozenset[int]:
        if cpus is None:
            return frozenset(range(self.cfg.cpus))
        s = frozenset(int(c) for c in cpus)
        if not s or any(not 0 <= c < self.cfg.cpus for c in s):
            raise ValueError(f"cpus must be a non-empty subset of 0..{self.cfg.cpus - 1} "
                             f"(got {sorted(s)})")
        return s

    def _new_task(self, comm: str, kind: str, allowed: frozenset[int], cpu: int,
                  per_cpu: bool = False, policy: str = "other") -> Task:
        if kind == "kthread":
            pid, self._next_kpid = self._next_kpid, self._next_kpid + 1
        else:
            pid, self._next_upid = self._next_upid, self._next_upid + 1
        t = Task(pid, comm, kind, allowed, cpu, per_cpu=per_cpu, policy=policy)
        t.start_ns = self.eq.now_ns
        t.vruntime = self.cpus[cpu].rq.min_vruntime
        self.tasks[pid] = t
        self.total_forks += 1
        return t

    def _spawn_kthread(self, comm: str, body_kind: int, cpu: int, per_cpu: bool,
                       napi=None) -> Task:
        """kthread_run()/smpboot: a kernel thread that starts asleep in its wait loop
        (body_kind: BODY_KSOFTIRQD or BODY_NAPI)."""
        allowed = frozenset([cpu]) if per_cpu else frozenset(range(self.cfg.cpus))
        t = self._new_task(comm, "kthread", allowed, cpu, per_cpu=per_cpu)
        t.napi = napi
        t.body_kind = body_kind
        if per_cpu and not self.cpus[cpu].online:
            t.state = PARKED
        return t

    def _kill(self, t: Task) -> None:
        if t.on_rq:
            self.cpus[t.cpu].rq.remove(t)
        cpu = self.cpus[t.cpu]
        t.state = DEAD
        if cpu.curr is t:
            self._detach_current(cpu, t)
        self._release_task(t)

    def _release_task(self, t: Task) -> None:
        """release_task(): the pid is gone from /proc. Events still pointing at the task
        see it DEAD and do nothing; the object goes when the last of them has fired."""
        self.tasks.pop(t.pid, None)

    def _detach_current(self, cpu: Cpu, t: Task) -> None:
        """Take the current task off its CPU (migration or exit). Only its own task chunk is
        cut: an interrupt or softirq running on top of it finishes, without it."""
        if cpu.chunk_kind != NO_CHUNK and cpu.chunk_task is t:
            if cpu.chunk_kind == IRQ or cpu.chunk_kind == SOFTIRQ:
                cpu.chunk_task = None
            else:
                self._cut_chunk(cpu)
        if cpu.softirq_host is t:
            cpu.softirq_host = None       # the softirq loop ends in this CPU's own context
        cpu.curr = None
        self._kick(cpu)

    def _move_task(self, t: Task, new_cpu: int) -> None:
        """Migrate a task (queued or running) to new_cpu, charging the migration cost."""
        old = self.cpus[t.cpu]
        if old.curr is t:
            self._detach_current(old, t)
        if t.on_rq:
            old.rq.remove(t)
        self._count_migration(t, old.id, new_cpu)
        t.cpu = new_cpu
        if t.state == RUNNING:
            self._enqueue(t, wakeup=False)

    def _count_migration(self, t: Task, src: int, dst: int) -> None:
        if src != dst:
            a, b = self.cpus[src], self.cpus[dst]
            t.migrations += 1
            t.penalty_ns += self.c.migration_ns
            t.vruntime += b.rq.min_vruntime - a.rq.min_vruntime
            self.stats.migrations += 1

    def _select_task_rq(self, t: Task, waker_cpu: int) -> int:
        """select_task_rq_fair() reduced: previous CPU if idle, waker's if idle, any idle, else
        previous. select_fallback_rq() when no allowed CPU is online."""
        cpus = self.cpus
        if t.per_cpu:
            return t.cpu
        for c in t.allowed:
            cpu = cpus[c]
            if cpu.online:
                break
        else:
            self.log(f"process {t.pid} ({t.comm}) no longer affine to cpu{t.cpu}")
            t.allowed = frozenset(range(len(cpus)))
        prev = t.cpu
        if self._idle_allowed(t, prev):
            return prev
        if self._idle_allowed(t, waker_cpu):
            return waker_cpu
        n = len(cpus)
        for i in range(1, n + 1):
            c = (prev + i) % n
            if self._idle_allowed(t, c):
                return c
        cpu = cpus[prev]
        if prev in t.allowed and cpu.online:
            return prev
        first = -1                                   # the lowest allowed online CPU
        for c in t.allowed:
            cpu = cpus[c]
            if cpu.online and (first < 0 or c < first):
                first = c
        return first

    def _idle_allowed(self, t: Task, c: int) -> bool:
        """CPU c is in t's affinity, online and idle_cpu()."""
        cpu = self.cpus[c]
        return cpu.online and cpu.curr is None and not cpu.rq.tasks and c in t.allowed

    def wake_up_process(self, t: Task, charge: bool = True) -> bool:
        """try_to_wake_up(): make a sleeping task runnable on a CPU chosen by the scheduler.
        Its cost goes to the waker's current chunk unless the caller already charged it."""
        if t.state != SLEEPING:
            return False
        waker = self.curr_cpu
        t.state = RUNNING
        t.wakeups += 1
        self.stats.wakeups += 1
        if charge:
            self._cost_acc += self.c.wakeup_ns
        new_cpu = self._select_task_rq(t, waker)
        if new_cpu != t.cpu:
            self._count_migration(t, t.cpu, new_cpu)
            t.cpu = new_cpu
        rq = self.cpus[new_cpu].rq
        # place_entity(): a sleeper gets at most half a slice of credit.
        t.vruntime = max(t.vruntime, rq.min_vruntime - self.slice_ns // 2)
        self._enqueue(t, wakeup=True)
        return True

    def _enqueue(self, t: Task, wakeup: bool) -> None:
        cpu = self.cpus[t.cpu]
        cpu.rq.add(t)
        curr = cpu.curr
        if curr is None:
            if cpu.chunk_kind == NO_CHUNK:
                remote = t.cpu != self.curr_cpu
                if remote and wakeup:
                    cpu.ipi_res += 1             # reschedule IPI to wake an idle CPU
                self._kick(cpu, self.c.wakeup_latency_ns if wakeup else 0)
            else:
                cpu.need_resched = True
            return
        if self._should_preempt(t, curr):
            cpu.need_resched = True
        self._recheck_chunk(cpu)

    def _should_preempt(self, t: Task, curr: Task) -> bool:
        """check_preempt_wakeup_fair(): FIFO beats OTHER; else a vruntime lead of a granule."""
        if t.is_fifo and not curr.is_fifo:
            return True
        if curr.is_fifo:
            return False
        return t.vruntime + self.wakeup_gran_ns < curr.vruntime

    def _recheck_chunk(self, cpu: Cpu) -> None:
        """A running preemptible chunk is cut so the scheduler can look again (slice/preempt).
        The new dispatch is an event of its own: we may be inside another CPU's chunk, whose
        context (curr_cpu, accrued cost) a nested dispatch would overwrite."""
        if cpu.chunk_kind != NO_CHUNK and cpu.chunk_preemptible:
            self._cut_chunk(cpu)
            self._kick(cpu)

    def _kick(self, cpu: Cpu, delay_ns: int = 0) -> None:
        if cpu.chunk_kind == NO_CHUNK and not cpu.dispatch_pending and cpu.online:
            cpu.dispatch_pending = True
            self.eq.after(delay_ns, EV_DISPATCH, cpu, 0)

    def _dispatch_event(self, cpu: Cpu) -> None:
        cpu.dispatch_pending = False
        if cpu.chunk_kind == NO_CHUNK:
            self._dispatch(cpu)

    # ------------------------------------------------------------------ chunks
    def _start_chunk(self, cpu: Cpu, kind: int, dur_ns: int, task: Task | None,
                     preemptible: bool, done: int) -> int:
        """Run a chunk of `kind` (cpu.USER/SYSTEM/IRQ/SOFTIRQ) for dur_ns; `done` (DONE_*)
        says what runs when it ends."""
        now = self.eq.now_ns
        if cpu.idle_since >= 0:
            cpu.acct_ns[IDLE] += now - cpu.idle_since
            cpu.idle_since = -1
        cpu.token += 1
        if dur_ns < 1:
            dur_ns = 1
        cpu.chunk_kind = kind
        cpu.chunk_start = now
        cpu.chunk_end = now + dur_ns
        cpu.chunk_task = task
        cpu.chunk_preemptible = preemptible
        cpu.chunk_done = done
        cpu.acct_from = now
        self.eq._push(now + dur_ns, EV_CHUNK_END, cpu, cpu.token)     # at(), inline compiled
        return 0

    def _account_time(self, cpu: Cpu, kind: int, task: Task | None, upto: int) -> None:
        """CPU and task time up to `upto` (what /proc/stat and /proc/<pid>/stat show)."""
        elapsed = upto - cpu.acct_from
        if elapsed <= 0:
            return
        cpu.acct_from = upto
        cpu.acct_ns[kind] += elapsed
        if task is not None:
            task.runtime_ns += elapsed
            if kind == USER:
                task.utime_ns += elapsed
            else:
                task.stime_ns += elapsed

    def _account_vruntime(self, cpu: Cpu, task: Task, elapsed: int) -> None:
        """update_curr(): only at chunk end or preemption, so reads never change scheduling.
        Callers skip chunks without a task (hardirq, softirq): most chunks, and a call each."""
        task.vruntime += elapsed
        rq = cpu.rq
        low = task.vruntime
        for x in rq.tasks:
            if x.vruntime < low:
                low = x.vruntime
        if low > rq.min_vruntime:
            rq.min_vruntime = low

    def sync_accounting(self) -> None:
        """Bring running chunks' time into the counters (cheap; no effect on the model)."""
        now = self.eq.now_ns
        for cpu in self.cpus:
            if cpu.chunk_kind != NO_CHUNK:
                self._account_time(cpu, cpu.chunk_kind, cpu.chunk_task, now)

    def _chunk_end(self, cpu: Cpu, token: int) -> int:
        if token != cpu.token or cpu.chunk_kind == NO_CHUNK:
            return 0
        kind, start, end, task = cpu.chunk_kind, cpu.chunk_start, cpu.chunk_end, cpu.chunk_task
        done = cpu.chunk_done
        cpu.chunk_kind = NO_CHUNK
        cpu.chunk_task = None
        self._account_time(cpu, kind, task, end)
        if task is not None:
            self._account_vruntime(cpu, task, end - start)
            if kind == USER or kind == SYSTEM:
                task.remaining_ns = max(0, task.remaining_ns - (end - start))
                if task.spinning:
                    task.spin_iters += (end - start) // max(1, self.c.spin_ns)
        if done != DONE_NONE:
            self.curr_cpu = cpu.id
            if done == DONE_IRQ_EXIT:
                self._irq_exit(cpu)
            else:
                self._net_rx_action_after_poll(cpu)
        self._dispatch(cpu)
        return 0

    def _cut_chunk(self, cpu: Cpu) -> None:
        """Stop the running chunk now (preemption); account the part that ran."""
        if cpu.chunk_kind == NO_CHUNK:
            return
        kind, start, task = cpu.chunk_kind, cpu.chunk_start, cpu.chunk_task
        now = self.eq.now_ns
        elapsed = now - start
        cpu.chunk_kind = NO_CHUNK
        cpu.chunk_task = None
        cpu.token += 1
        self._account_time(cpu, kind, task, now)
        if task is not None:
            self._account_vruntime(cpu, task, elapsed)
            task.remaining_ns = max(0, task.remaining_ns - elapsed)
            if task.spinning:
                # a spinner re-checks its condition when it runs again
                task.spin_iters += elapsed // max(1, self.c.spin_ns)
                task.remaining_ns = 0
                task.spinning = False

    def _preempt_for_irq(self, cpu: Cpu) -> int:
        """Called only from top-level events (interrupt arrival), so dispatching here is safe."""
        if cpu.chunk_kind == NO_CHUNK:
            if not cpu.dispatch_pending:
                self._dispatch(cpu)
        elif cpu.chunk_preemptible:
            self._cut_chunk(cpu)
            self._dispatch(cpu)
        return 0

    # ------------------------------------------------------------------ dispatch
    def _dispatch(self, cpu: Cpu) -> int:
        """What runs next on this CPU: hardirq > softirq loop > current task > idle."""
        if cpu.chunk_kind != NO_CHUNK or not cpu.online:
            return 0
        self.curr_cpu = cpu.id
        if cpu.irq_pending.count:
            self._run_hardirq(cpu)
            return 0
        if cpu.softirq_active and (cpu.softirq_host is None or cpu.softirq_host is cpu.curr):
            self._softirq_step(cpu)
            return 0
        self._run_task_level(cpu)
        return 0

    def _run_hardirq(self, cpu: Cpu) -> int:
        src = cpu.irq_pending._pop_first()
        self._cost_acc = 0
        self.ctx = CTX_HARDIRQ
        if isinstance(src, SoftnetData):        # an RPS IPI (CALL_FUNCTION_SINGLE)
            cpu.ipi_cal += 1
            self.rps_trigger_softirq(cython.cast(SoftnetData, src), cpu)
        else:                                   # a NIC rx queue's interrupt (raise_irq)
            self.rxq_interrupt(cython.cast(RxQueue, src), cpu)
        self.ctx = CTX_TASK
        cost = self.c.hardirq_ns + self._cost_acc
        self._start_chunk(cpu, IRQ, cost, None, False, DONE_IRQ_EXIT)
        return 0

    def _irq_exit(self, cpu: Cpu) -> int:
        """irq_exit(): run pending softirqs unless already inside one; PREEMPT_RT defers them."""
        if cpu.softirq_pending and not cpu.softirq_active:
            if self.preempt_rt:
                self._wakeup_softirqd(cpu)
            else:
                self._do_softirq_begin(cpu, None)
        return 0

    def raise_net_rx(self, cpu: Cpu) -> int:
        """raise_softirq_irqoff(NET_RX_SOFTIRQ) from the current context."""
        cpu.softirq_pending = True
        if self.ctx == CTX_TASK and not cpu.softirq_active:
            self._wakeup_softirqd(cpu)
        return 0

    def _wakeup_softirqd(self, cpu: Cpu) -> None:
        k = cpu.ksoftirqd
        if k is not None and cpu.curr is not k:
            self.wake_up_process(k)

    def _do_softirq_begin(self, cpu: Cpu, host: Task | None) -> None:
        cpu.softirq_active = True
        cpu.softirq_host = host
        cpu.softirq_restart = MAX_SOFTIRQ_RESTART
        cpu.softirq_end_jiffy = self.jiffies() + self.max_softirq_jiffies
        self._softirq_step(cpu)

    def _softirq_step(self, cpu: Cpu) -> int:
        """One step of __do_softirq: start net_rx_action, or poll one NAPI inside it."""
        if not cpu.in_net_rx:
            if not cpu.softirq_pending:
                self._do_softirq_end(cpu)
                self._dispatch(cpu)
                return 0
            cpu.softirq_pending = False
            cpu.net_rx_softirqs += 1
            self.net_rx_action_begin(cpu)
            self._start_chunk(cpu, SOFTIRQ, self.c.softirq_entry_ns, cpu.softirq_host, False,
                              DONE_NONE)
            return 0
        self.net_rx_action_poll_one(cpu)
        return 0

    def _do_softirq_end(self, cpu: Cpu) -> None:
        cpu.softirq_active = False
        cpu.softirq_host = None

    def _net_rx_action_done(self, cpu: Cpu) -> int:
        """__do_softirq's restart decision after one net_rx_action."""
        if not cpu.softirq_pending:
            self._do_softirq_end(cpu)
            return 0
        cpu.softirq_restart -= 1
        if (self.jiffies() < cpu.softirq_end_jiffy and not cpu.need_resched
                and cpu.softirq_restart):
            return 0    # restart: next step starts another net_rx_action
        host = cpu.softirq_host
        self._do_softirq_end(cpu)
        if host is not cpu.ksoftirqd:
            self._wakeup_softirqd(cpu)
        return 0

    def _run_task_level(self, cpu: Cpu) -> None:
        for _ in range(64):          # bounded: each pass starts a chunk or changes state
            if cpu.chunk_kind != NO_CHUNK:
                return
            t = cpu.curr
            now = self.eq.now_ns
            if (t is None or t.state != RUNNING or cpu.need_resched
                    or (now >= cpu.slice_end_ns and cpu.rq.tasks)):
                t = self._schedule(cpu)
                if t is None:
                    if cpu.idle_since < 0:
                        cpu.idle_since = now
                    return
            if t.penalty_ns:
                pen, t.penalty_ns = t.penalty_ns, 0
                self._start_chunk(cpu, SYSTEM, pen, t, False, DONE_NONE)
                return
            if t.remaining_ns > 0:
                self._run_request(cpu, t)
                return
            self._advance_body(cpu, t)
        raise RuntimeError(f"cpu{cpu.id}: task {cpu.curr} made no progress")

    def _run_request(self, cpu: Cpu, t: Task) -> None:
        end = t.remaining_ns
        if t.preemptible and cpu.rq.tasks:
            end = min(end, max(cpu.slice_end_ns - self.eq.now_ns, 1))
        self._start_chunk(cpu, t.bucket, min(end, LONG_CHUNK_NS), t, t.preemptible, DONE_NONE)

    def _advance_body(self, cpu: Cpu, t: Task) -> None:
        """Resume the task's body for its next request."""
        self.curr_cpu = cpu.id
        self._cost_acc = 0
        self.ctx = CTX_TASK_BH if t.is_kthread else CTX_TASK
        try:
            if t.body_kind == BODY_NAPI:
                op = self._napi_thread_step(t)
            elif t.body_kind == BODY_KSOFTIRQD:
                op = self._ksoftirqd_step(t, cpu)
            else:
                try:
                    op = self._decode_request(t, next(t.body))
                except StopIteration:
                    t.state = DEAD
                    cpu.curr = None
                    self._release_task(t)
                    return
        finally:
            self.ctx = CTX_TASK
        # Work the body did while resuming (enqueues, wake-ups) is charged before its request.
        t.penalty_ns += self._cost_acc
        self._cost_acc = 0
        t.spinning = False
        if op == OP_RUN:
            pass                         # the body set remaining_ns, bucket and preemptible
        elif op == OP_SLEEP:
            t.state = SLEEPING
            t.nvcsw += 1
            cpu.curr = None
        elif op == OP_SOFTIRQ or op == OP_BH_ENABLE:
            if cpu.softirq_pending and not cpu.softirq_active:
                self._do_softirq_begin(cpu, t)
        elif op == OP_RESCHED:
            if cpu.rq.tasks and self.eq.now_ns >= cpu.slice_end_ns:
                cpu.need_resched = True
        else:   # OP_SPIN
            t.spinning = True
            t.remaining_ns = LONG_CHUNK_NS
            t.bucket, t.preemptible = SYSTEM, True

    def _decode_request(self, t: Task, req: tuple) -> int:
        """A generator body's request tuple (sched.py) as an OP_* code; "run" sets the task's
        remaining time, bucket and preemptibility."""
        op = OPS.get(req[0])
        if op is None:
            raise ValueError(f"unknown task request {req!r}")
        if op == OP_RUN:
            t.remaining_ns = req[1]
            t.bucket = USER if req[2] == "user" else SYSTEM
            t.preemptible = req[3]
        return op

    def _schedule(self, cpu: Cpu) -> Task | None:
        """__schedule(): put prev back if runnable, pick next, count the context switch."""
        prev = cpu.curr
        cpu.need_resched = False
        if prev is not None and prev.state == RUNNING and not prev.on_rq:
            cpu.rq.add(prev)
        nxt = cpu.rq.pick()
        if nxt is None:
            nxt = self._newidle_balance(cpu)
        if nxt is not None:
            cpu.rq.remove(nxt)
        if nxt is not cpu.last_ran:
            cpu.ctxt += 1
            if prev is not None and prev.state == RUNNING:
                prev.nivcsw += 1
            if nxt is not None:
                nxt.penalty_ns += self.c.context_switch_ns
            cpu.last_ran = nxt
        cpu.curr = nxt
        cpu.slice_end_ns = self.eq.now_ns + self.slice_ns
        return nxt

    def _newidle_balance(self, cpu: Cpu) -> Task | None:
        """newidle_balance(): an idle CPU pulls a queued task from the busiest CPU."""
        if self.queued_tasks.n == len(cpu.rq.tasks):
            return None                 # no other CPU has a task waiting
        best = None
        for other in self.cpus:
            if other is cpu or not other.online or not other.rq.tasks:
                continue
            if other.curr is None and other.chunk_kind == NO_CHUNK:
                continue            # that CPU is about to run it itself
            if best is not None and len(other.rq.tasks) <= len(self.cpus[best.cpu].rq.tasks):
                continue
            for t in other.rq.tasks:
                if not t.per_cpu and cpu.id in t.allowed and not t.is_fifo:
                    best = t
                    break
        if best is None:
            return None
        src = self.cpus[best.cpu]
        src.rq.remove(best)
        self._count_migration(best, src.id, cpu.id)
        best.cpu = cpu.id
        cpu.rq.add(best)
        return best

    def _periodic_balance(self) -> None:
        """Periodic load balancing (one tick): update each CPU's IRQ pressure, pull queued tasks
        to idle CPUs, and active-balance a lone task off a CPU whose capacity IRQs eat."""
        interval = self.cfg.sched.balance_interval_ns
        decay = 0.5 ** (interval / PELT_HALFLIFE_NS)
        times = self.cpu_times()
        for cpu, acct in zip(self.cpus, times):
            irq_ns = acct["irq"] + acct["softirq"]
            share = min(1.0, (irq_ns - cpu.irq_seen_ns) / interval)
            cpu.irq_seen_ns = irq_ns
            cpu.irq_avg = cpu.irq_avg * decay + share * (1 - decay)
        for cpu in self.cpus:
            if not (cpu.online and cpu.idle and cpu.chunk_kind == NO_CHUNK):
                continue
            self.curr_cpu = cpu.id
            t = self._newidle_balance(cpu)
            if t is not None:
                cpu.rq.remove(t)
                self._enqueue(t, wakeup=False)
            else:
                self._active_balance(cpu)
        self.detect_stalls()
        self._check_pending_softirqs()
        self.eq.after(interval, EV_BALANCE, None, 0)

    def _check_pending_softirqs(self) -> None:
        """The kernel's "NOHZ tick-stop error: local softirq work is pending" check: a CPU that
        idles with NET_RX pending and no ksoftirqd to run it has lost work. Never expected."""
        for cpu in self.cpus:
            if (cpu.online and cpu.softirq_pending and not cpu.softirq_active
                    and cpu.chunk_kind == NO_CHUNK and cpu.curr is None and not cpu.rq.tasks
                    and not cpu.dispatch_pending and not cpu.irq_pending.count):
                self.stats.softirq_stuck += 1
                self.log(f"NOHZ tick-stop error: local softirq work is pending, handler #08!!! "
                         f"(cpu{cpu.id})")
                self._wakeup_softirqd(cpu)     # as the kernel's own tick would, eventually

    def _active_balance(self, dst: Cpu) -> None:
        """need_active_balance()/check_cpu_capacity(): an idle CPU takes the only running task
        of a CPU whose capacity is reduced by IRQ time beyond the domain's imbalance_pct."""
        for src in self.cpus:
            t = src.curr
            if (src is dst or not src.online or t is None or src.rq.tasks or t.per_cpu
                    or t.is_fifo or dst.id not in t.allowed
                    or src.irq_avg * IMBALANCE_PCT <= IMBALANCE_PCT - 100):
                continue
            if (src.chunk_kind != NO_CHUNK and src.chunk_task is t
                    and not src.chunk_preemptible):
                continue        # the stopper waits until the task can be preempted
            self._move_task(t, dst.id)
            return

    # ------------------------------------------------------------------ task bodies
    def _hog_body(self, t: Task, cfg: TaskConfig):
        """A user task computing util% of every period (100% = a CPU hog)."""
        if cfg.util >= 100:
            while True:
                yield ("run", LONG_CHUNK_NS, "user", True)
        on = cfg.period_ns * cfg.util // 100
        while True:
            start = self.eq.now_ns
            yield ("run", on, "user", True)
            wake_at = start + cfg.period_ns
            if wake_at > self.eq.now_ns:
                self.eq.at(wake_at, EV_TIMER_WAKE, t, 0)
                yield ("sleep",)

    def _ksoftirqd_step(self, t: Task, cpu: Cpu) -> int:
        """run_ksoftirqd() as a state machine (BODY_KSOFTIRQD), one request per step:

            while True:
                if not cpu.softirq_pending: sleep; continue
                softirq                  # handle them in this task
                resched                  # cond_resched()
        """
        if t.pc == KSOFTIRQD_RAN:
            t.pc = KSOFTIRQD_RESCHED
            return OP_RESCHED
        t.pc = KSOFTIRQD_TOP
        if not cpu.softirq_pending:
            return OP_SLEEP
        t.pc = KSOFTIRQD_RAN
        return OP_SOFTIRQ

    def _udp_client_body(self, pair: UdpRR):
        t = pair.client
        while True:
            sent = self.eq.now_ns
            yield ("run", self.c.udp_send_ns, "system", True)
            self.loopback_xmit(pair.req_flow, self.cpus[t.cpu])
            yield ("bh_enable",)
            while not pair.client_sock.queue:
                pair.client_sock.waiter = t
                yield ("sleep",)
            pair.client_sock.queue.popleft()
            yield ("run", self.c.udp_recv_ns, "system", True)
            pair.transactions += 1
            pair.rtt.record(self.eq.now_ns - sent)

    def _udp_server_body(self, pair: UdpRR):
        t = pair.server
        while True:
            while not pair.server_sock.queue:
                pair.server_sock.waiter = t
                yield ("sleep",)
            pair.server_sock.queue.popleft()
            yield ("run", self.c.udp_recv_ns + self.c.udp_send_ns, "system", True)
            self.loopback_xmit(pair.resp_flow, self.cpus[t.cpu])
            yield ("bh_enable",)

    def timer_wake(self, t: Task) -> None:
        """An hrtimer firing on the task's CPU wakes it."""
        self.curr_cpu = t.cpu
        self.wake_up_process(t)

    def sock_deliver(self, cpu_id: int, sock: Socket, pkt) -> None:
        """The protocol queued a datagram on the socket (sock_def_readable wakes the reader)."""
        self.curr_cpu = cpu_id
        sock.queue.append(pkt)
        w = sock.waiter
        if w is not None:
            sock.waiter = None
            self.wake_up_process(w, charge=False)    # deliver() charged the softirq for it

    # ------------------------------------------------------------------ CPU hotplug
    def cpu_down(self, n: int) -> None:
        """Take CPU n offline (echo 0 > cpuN/online): migrate tasks, park bound threads, move
        IRQs, then run dev_cpu_dead() on a surviving CPU."""
        cpu = self._cpu(n)
        if not cpu.online:
            return
        others = [c for c in self.cpus if c.online and c is not cpu]
        if not others:
            raise OSError(16, f"cpu{n} is the last online CPU")
        self._cut_chunk(cpu)
        if cpu.idle_since >= 0:
            cpu.acct_ns[IDLE] += self.eq.now_ns - cpu.idle_since
            cpu.idle_since = -1
        # stop_machine() cannot run inside a softirq: a running net_rx_action has finished, its
        # unprocessed and repoll NAPIs back on the poll_list for dev_cpu_dead() to move.
        sd = self.softnet[n]
        if cpu.in_net_rx:
            rest = [*cpu.net_rx_list, *sd.poll_list, *cpu.net_rx_repoll]
            sd.poll_list.clear()
            for napi in rest:
                sd.poll_list.add_tail(napi)
                napi.on_poll_list = n
        sd.in_net_rx_action = False
        sd.in_napi_threaded_poll = False
        cpu.online = False
        cpu.softirq_pending = False
        cpu.softirq_active = False
        cpu.softirq_host = None
        cpu.in_net_rx = False
        cpu.net_rx_list.clear()
        cpu.net_rx_repoll.clear()
        cpu.need_resched = False
        movers = list(cpu.rq.tasks)
        if cpu.curr is not None and cpu.curr.state == RUNNING:
            movers.append(cpu.curr)
        cpu.curr = None
        for t in list(cpu.rq.tasks):
            cpu.rq.remove(t)
        for t in self.tasks.values():
            if t.per_cpu and t.cpu == n and t.state != DEAD:
                t.state = PARKED
        target = others[0]
        self.curr_cpu = target.id
        for t in movers:
            if t.per_cpu:
                continue
            new = self._select_task_rq(t, target.id)
            self._count_migration(t, n, new)
            t.cpu = new
            self._enqueue(t, wakeup=False)
        pending_irqs = list(cpu.irq_pending)
        cpu.irq_pending.clear()
        self.smpcfd_dying_cpu(n, sum(1 for src in pending_irqs if isinstance(src, SoftnetData)))
        for dev in self.netdevs.values():
            for rxq in dev.rxqs:
                if rxq.irq_cpu == n:
                    rxq.irq_cpu = target.id   # irq_migrate_all_off_this_cpu()
        for src in pending_irqs:
            if not isinstance(src, SoftnetData):
                self.raise_irq(self.cpus[src.irq_cpu], src)
        self.dev_cpu_dead(n, target)

    def cpu_up(self, n: int) -> None:
        """Bring CPU n online: unpark its bound threads. RPS maps and IRQs are not rebuilt."""
        cpu = self._cpu(n)
        if cpu.online:
            return
        cpu.online = True
        cpu.idle_since = self.eq.now_ns
        cpu.rq.min_vruntime = max(c.rq.min_vruntime for c in self.cpus)
        for t in self.tasks.values():
            if t.per_cpu and t.cpu == n and t.state == PARKED:
                t.state = SLEEPING
                t.vruntime = cpu.rq.min_vruntime
                if t.napi is not None or t is cpu.ksoftirqd:
                    self.wake_up_process(t)   # smpboot: the thread re-checks thread_should_run
        self._kick(cpu)

    def _cpu(self, n: int) -> Cpu:
        if not 0 <= n < len(self.cpus):
            raise ValueError(f"no cpu{n} (cpus 0..{len(self.cpus) - 1})")
        return self.cpus[n]

    def online_cpus(self) -> list[int]:
        return [c.id for c in self.cpus if c.online]

    # ------------------------------------------------------------------ interrupts
    def raise_irq(self, cpu: Cpu, src) -> int:
        """An interrupt from `src` (an RxQueue, or the SoftnetData an RPS IPI is for) arrives
        at `cpu`; it runs now unless a non-preemptible chunk runs."""
        if not cpu.online:
            return 0
        cpu.irq_pending._add_tail(src)
        self._preempt_for_irq(cpu)
        return 0

    # ------------------------------------------------------------------ accounting views
    def cpu_times(self) -> list[dict[str, int]]:
        """Per-CPU time split in ns, including the running chunk's elapsed part."""
        now = self.eq.now_ns
        out = []
        for c in self.cpus:
            ns = list(c.acct_ns)
            if c.chunk_kind != NO_CHUNK:
                ns[c.chunk_kind] += now - c.acct_from
            elif c.idle_since >= 0 and c.online:
                ns[IDLE] += now - c.idle_since
            out.append(dict(zip(BUCKETS, ns)))
        return out

    def _fill_all_rings(self) -> None:
        for dev in self.netdevs.values():
            for rxq in dev.rxqs:
                rxq.fill(self.eq.now_ns, self.stats)

    # ------------------------------------------------------------------ summary
    def mode_name(self) -> str:
        """stock | backlog_threaded (seed 000) | thread_backlog_napi (seed 002)."""
        if self.use_backlog_threads:
            return "thread_backlog_napi"
        return "backlog_threaded" if self.backlog_threaded else "stock"

    def summary(self, max_flows: int = 256) -> dict:
        """Everything procnet/stats.json shows, as plain data (a consistent snapshot)."""
        offered, delivered, dropped, queued = self.conservation()
        now = self.eq.now_ns
        per_cpu = []
        for c, acct in zip(self.cpus, self.cpu_times()):
            busy = sum(v for k, v in acct.items() if k != "idle")
            per_cpu.append({"cpu": c.id, "online": c.online, **{f"{k}_ns": v for k, v in acct.items()},
                            "util": round(busy / now, 4) if now else 0.0,
                            "delivered": c.delivered, "context_switches": c.ctxt,
                            "net_rx_softirqs": c.net_rx_softirqs, "ipi_cal": c.ipi_cal,
                            "ipi_res": c.ipi_res})
        s = self.stats
        out = {
            "time_ns": now,
            "mode": self.mode_name(),
            "felix_variant": self.felix_variant,
            "preempt_rt": self.cfg.preempt_rt,
            "offered": offered,
            "delivered": delivered,
            "dropped": dropped,
            "queued": queued,
            "conserved": offered == delivered + sum(dropped.values()) + queued,
            "latency_us": s.latency.summary_us(),
            "ipis": s.ipis_sent,
            "received_rps": sum(sd.received_rps for sd in self.softnet),
            "wakeups": s.wakeups,
            "context_switches": sum(c.ctxt for c in self.cpus),
            "migrations": s.migrations,
            "stalls_detected": s.stalls_detected,
            "softirq_stuck": s.softirq_stuck,
            "stalled_cpus": sorted(self.stalled),
            "delivered_after_unregister": s.delivered_after_unregister,
            "per_cpu": per_cpu,
            "udp_rr": {name: {"transactions": p.transactions, "rtt_us": p.rtt.summary_us()}
                       for name, p in self.udp_rr.items()},
            "tasks": [{"pid": t.pid, "comm": t.comm, "cpu": t.cpu, "state": t.state,
                       "runtime_ns": t.runtime_ns, "migrations": t.migrations,
                       "spin_iters": t.spin_iters} for t in self.task_list()],
        }
        if len(self.flows) <= max_flows:
            out["flows"] = [{"name": f.name, "dev": f.dev.name, "hash": f"{f.hash:08x}",
                             "delivered": f.delivered, "dropped": f.dropped} for f in self.flows]
        return out
