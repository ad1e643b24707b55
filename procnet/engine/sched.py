"""Tasks and the scheduler: a small model of kernel/sched/fair.c and kernel/kthread.c.

A task's behaviour is a Python generator (its "body") that yields requests to the CPU it runs
on; tasks are few, so this costs nothing on the per-packet path:

    ("run", ns, bucket, preemptible)   consume CPU time; bucket is "user" | "system"
    ("sleep",)                         block until wake_up_process()
    ("softirq",)                       run pending softirqs in this task (ksoftirqd)
    ("bh_enable",)                     local_bh_enable(): run softirqs raised meanwhile
    ("resched",)                       cond_resched(): let a waiting task in if one should run
    ("spin",)                          busy-loop until preempted or poked (see modes.md)

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

RUNNING = "R"      # runnable or running
SLEEPING = "S"
PARKED = "P"       # smpboot thread of an offline CPU
DEAD = "X"


class Task:
    __slots__ = ("pid", "comm", "kind", "policy", "allowed", "per_cpu", "cpu", "state",
                 "vruntime", "runtime_ns", "utime_ns", "stime_ns", "body", "req",
                 "remaining_ns", "bucket", "preemptible", "nvcsw", "nivcsw", "migrations",
                 "wakeups", "start_ns", "penalty_ns", "napi", "on_rq", "spinning", "spin_iters",
                 "last_cpu_switch")

    def __init__(self, pid: int, comm: str, kind: str, allowed: frozenset[int], cpu: int,
                 per_cpu: bool = False, policy: str = "other") -> None:
        self.pid = pid
        self.comm = comm
        self.kind = kind                # "user" | "kthread"
        self.policy = policy            # "other" | "fifo"
        self.allowed = allowed
        self.per_cpu = per_cpu          # kthread_bind()/smpboot: never migrates, parks on offline
        self.cpu = cpu
        self.state = SLEEPING
        self.vruntime = 0
        self.runtime_ns = 0
        self.utime_ns = 0
        self.stime_ns = 0
        self.body: Iterator | None = None
        self.req: tuple | None = None
        self.remaining_ns = 0
        self.bucket = "system"
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
        self.last_cpu_switch = 0

    def __repr__(self) -> str:
        return f"<Task {self.pid} {self.comm} {self.state} cpu{self.cpu}>"


def ilog2(n: int) -> int:
    return n.bit_length() - 1


class RunQueue:
    """One CPU's queue of runnable tasks that are not currently running."""

    __slots__ = ("tasks", "min_vruntime")

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self.min_vruntime = 0

    def add(self, t: Task) -> None:
        t.on_rq = True
        self.tasks.append(t)

    def remove(self, t: Task) -> None:
        t.on_rq = False
        self.tasks.remove(t)

    def pick(self) -> Task | None:
        """pick_next_task(): SCHED_FIFO first (FIFO order), then smallest vruntime (then pid)."""
        if not self.tasks:
            return None
        best = None
        for t in self.tasks:
            if best is None:
                best = t
            elif t.policy == "fifo" and best.policy != "fifo":
                best = t
            elif t.policy == best.policy and best.policy != "fifo" and (
                    (t.vruntime, t.pid) < (best.vruntime, best.pid)):
                best = t
        return best

    def __len__(self) -> int:
        return len(self.tasks)
