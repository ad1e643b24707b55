"""Tasks and the scheduler: a small model of kernel/sched/fair.c and kernel/kthread.c.

A task's behaviour is its "body": a Python generator yielding requests to the CPU it runs on,
or, for the kernel threads on the packet path (ksoftirqd, NAPI threads), the same loop written as
a small state machine in the machine (BODY_KSOFTIRQD, BODY_NAPI), which the compiled engine runs
without resuming a generator per poll. Requests (the generator form, then the OP_* code):

    ("run", ns, bucket, preemptible)   OP_RUN: consume CPU time; bucket is "user" | "system"
    ("sleep",)                         OP_SLEEP: block until wake_up_process()
    ("softirq",)                       OP_SOFTIRQ: run pending softirqs in this task (ksoftirqd)
    ("bh_enable",)                     OP_BH_ENABLE: local_bh_enable(): run softirqs raised meanwhile
    ("resched",)                       OP_RESCHED: cond_resched(): let a waiting task in if one should run
    ("spin",)                          OP_SPIN: busy-loop until preempted or poked (see modes.md)

Simplifications:
  * Every task has nice 0 (equal weight); `fifo` user tasks model SCHED_FIFO without RT
    throttling (sched_rt_runtime_us = -1) and always beat SCHED_OTHER tasks.
  * CFS/EEVDF is reduced to: pick the smallest vruntime, a slice of base_slice*(1+ilog2(ncpus)),
    wake-up preemption when the wakee's vruntime is a wakeup granularity behind, sleeper credit of
    half a slice. Load balancing pulls queued (not running) tasks to idle CPUs every
    balance interval and whenever a CPU goes idle (newidle balance).
  * A CPU counts as idle for placement when it runs no task, even if it is busy in hard/soft IRQ
    context: the kernel's idle_cpu() does not see softirq load either.
"""
from __future__ import annotations

from typing import Iterator

import cython

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import (BODY_GENERATOR, OP_BH_ENABLE, OP_RESCHED, OP_RUN, OP_SLEEP, OP_SOFTIRQ,
                       OP_SPIN)

RUNNING = "R"      # runnable or running
SLEEPING = "S"
PARKED = "P"       # smpboot thread of an offline CPU
DEAD = "X"

OPS = {"run": OP_RUN, "sleep": OP_SLEEP, "softirq": OP_SOFTIRQ, "bh_enable": OP_BH_ENABLE,
       "resched": OP_RESCHED, "spin": OP_SPIN}


class Task:
    __slots__ = ("pid", "comm", "kind", "is_kthread", "policy", "is_fifo", "allowed", "per_cpu",
                 "cpu", "state", "vruntime", "runtime_ns", "utime_ns", "stime_ns", "body",
                 "body_kind", "pc", "repoll", "remaining_ns", "bucket", "preemptible", "nvcsw",
                 "nivcsw", "migrations", "wakeups", "start_ns", "penalty_ns", "napi", "on_rq",
                 "spinning", "spin_iters")

    def __init__(self, pid: int, comm: str, kind: str, allowed: frozenset[int], cpu: int,
                 per_cpu: bool = False, policy: str = "other") -> None:
        self.pid = pid
        self.comm = comm
        self.kind = kind                # "user" | "kthread"
        self.is_kthread = kind == "kthread"
        self.policy = policy            # "other" | "fifo"
        self.is_fifo = policy == "fifo"
        self.allowed = allowed
        self.per_cpu = per_cpu          # kthread_bind()/smpboot: never migrates, parks on offline
        self.cpu = cpu
        self.state = SLEEPING
        self.vruntime = 0
        self.runtime_ns = 0
        self.utime_ns = 0
        self.stime_ns = 0
        self.body: Iterator | None = None   # BODY_GENERATOR: the generator
        self.body_kind = BODY_GENERATOR
        self.pc = 0                     # BODY_KSOFTIRQD/BODY_NAPI: where the loop resumes
        self.repoll = False             # BODY_NAPI: the last poll asked for another
        self.remaining_ns = 0
        self.bucket = 1                 # chunk kind of its "run" requests (cpu.USER/SYSTEM)
        self.preemptible = True
        self.nvcsw = 0
        self.nivcsw = 0
        self.migrations = 0
        self.wakeups = 0
        self.start_ns = 0
        self.penalty_ns = 0             # pending migration cost
        self.napi = None                # the NAPI a napi thread polls
        self.on_rq = False
        self.spinning = False
        self.spin_iters = 0

    def __repr__(self) -> str:
        return f"<Task {self.pid} {self.comm} {self.state} cpu{self.cpu}>"


def ilog2(n: int) -> int:
    return n.bit_length() - 1


class QueuedTasks:
    """The number of tasks queued on all of a machine's run queues (nr_running without the
    running ones), kept by RunQueue.add/remove: an idle CPU with nothing to pull sees it at
    once instead of looking at every other CPU (newidle balance)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0


class RunQueue:
    """One CPU's queue of runnable tasks that are not currently running."""

    __slots__ = ("tasks", "min_vruntime", "queued")

    def __init__(self, queued: QueuedTasks | None = None) -> None:
        self.tasks: list[Task] = []
        self.min_vruntime = 0
        self.queued = queued if queued is not None else QueuedTasks()

    def add(self, t: Task) -> None:
        t.on_rq = True
        self.tasks.append(t)
        self.queued.n += 1

    def remove(self, t: Task) -> None:
        self.tasks.remove(t)
        t.on_rq = False
        self.queued.n -= 1

    def pick(self) -> Task | None:
        """pick_next_task(): SCHED_FIFO first (FIFO order), then smallest vruntime (then pid)."""
        if not self.tasks:
            return None
        best = None
        for t in self.tasks:
            if best is None:
                best = t
            elif t.is_fifo and not best.is_fifo:
                best = t
            elif t.is_fifo == best.is_fifo and not best.is_fifo and (
                    t.vruntime < best.vruntime
                    or (t.vruntime == best.vruntime and t.pid < best.pid)):
                best = t
        return best

    def __len__(self) -> int:
        return len(self.tasks)
