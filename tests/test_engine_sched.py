"""The scheduler model (procnet/engine/sched.py, machine.py): placement, per-CPU kthreads, fair
sharing, load balancing, context switch and migration counters.

Model constants used below: slice = base_slice (750 us) * (1 + ilog2(4 CPUs)) = 2.25 ms;
periodic balance every SchedConfig.balance_interval_ns = 4 ms.
"""
from __future__ import annotations

import pytest
from engine_helpers import MS, PROCESSED, inject, machine, make_flow, row, task

from procnet.engine.config import TaskConfig, TrafficConfig


def bare(cpus=4, **kw):
    return machine(cpus=cpus, devices=(), **kw)


def test_slice_scaling():
    m = bare()
    assert m.slice_ns == 750_000 * 3


def test_unbound_wakee_goes_to_an_idle_allowed_cpu():
    m = bare()
    hog = m.add_task(TaskConfig("hog", cpus=(0,)))
    # A duty-cycle task starts with prev = min(allowed) = 0. At its first wake-up CPU 0 is busy
    # (hog queued), the waker (the test, CPU 0) too; the scan from prev+1 finds CPU 1 idle.
    d = m.add_task(TaskConfig("duty", util=50, period_ns=MS))
    assert d.cpu == 1 and d.migrations == 1 and m.stats.migrations == 1
    m.run_for(10 * MS)
    # It keeps finding CPU 1 idle when it wakes (prev idle -> stay): no further migration.
    assert d.cpu == 1 and d.migrations == 1
    assert hog.cpu == 0 and hog.migrations == 0
    # 50% of every 1 ms period: ~5 ms of CPU in 10 ms (+ switch costs, within 10%).
    assert 4.5 * MS <= d.runtime_ns <= 5.5 * MS


def test_wakee_with_busy_allowed_cpus_stays_on_prev():
    m = bare()
    m.add_task(TaskConfig("h0", cpus=(0,)))
    m.add_task(TaskConfig("h1", cpus=(1,)))
    d = m.add_task(TaskConfig("duty", cpus=(0, 1), util=50, period_ns=MS))
    # Allowed CPUs 0 and 1 both busy, no idle allowed CPU: stays on prev (0).
    assert d.cpu == 0 and d.migrations == 0


def test_bound_kthread_never_moves():
    m = machine(cpus=4)
    m.add_task(TaskConfig("hog", cpus=(0,)))
    m.set_sysctl("netdev_max_backlog", 10_000)
    f = make_flow(m, 0x12345678)
    inject(m, f, target=0, this_cpu=0, n=500)   # NET_RX raised from task context on CPU 0
    m.run_for(20 * MS)
    m.check_conservation()
    k = task(m, "ksoftirqd/0")
    # CPUs 1-3 are idle, CPU 0 has a hog: the per-CPU ksoftirqd/0 still runs on CPU 0 only.
    assert k.cpu == 0 and k.migrations == 0 and k.wakeups >= 1 and k.runtime_ns > 0
    assert row(m, 0)[PROCESSED] == 500
    with pytest.raises(PermissionError):
        m.set_affinity(k.pid, [1])


def test_two_hogs_share_one_cpu_fairly():
    m = bare()
    a = m.add_task(TaskConfig("a", cpus=(1,)))
    b = m.add_task(TaskConfig("b", cpus=(1,)))
    m.run_for(100 * MS)
    for t in (a, b):
        assert abs(t.runtime_ns - 50 * MS) <= 5 * MS          # within 10% of half
    # One switch per 2.25 ms slice: 1 (idle -> first) + floor(100 / 2.25) = 45.
    assert m.cpus[1].ctxt == 1 + (100 * MS) // m.slice_ns
    assert a.nivcsw + b.nivcsw == m.cpus[1].ctxt - 1
    assert a.migrations == b.migrations == 0


def test_hog_and_busy_napi_thread_share_fairly():
    # Felix's napi/backlog-1 pinned to CPU 1 with far more RPS work than it can do, and a hog
    # on CPU 1: two always-runnable SCHED_OTHER tasks -> roughly 50/50 over 100 ms.
    m = machine(cpus=4)
    m.add_traffic(TrafficConfig("t", flows=64, pps=2_000_000))
    m.set_sysctl("backlog_threaded", 1)
    m.set_rps_cpus("eth0", 0, 0b10)
    th = task(m, "napi/backlog-1")
    m.set_affinity(th.pid, [1])
    hog = m.add_task(TaskConfig("hog", cpus=(1,)))
    m.run_for(100 * MS)
    m.check_conservation()
    assert abs(th.runtime_ns - 50 * MS) <= 5 * MS
    assert abs(hog.runtime_ns - 50 * MS) <= 5 * MS
    assert th.cpu == 1 and th.migrations == 0


def test_periodic_balance_pulls_a_queued_task_to_an_idle_cpu():
    m = bare()
    h1 = m.add_task(TaskConfig("h1", cpus=(0,)))
    h2 = m.add_task(TaskConfig("h2", cpus=(0,)))
    m.set_affinity(h1.pid, range(4))     # h1 may move now, but nothing wakes it
    # Slices on CPU 0: h1 [0, 2.25 ms), h2 from 2.25 ms: at 4 ms h1 is queued (not running).
    m.run_for(3_900_000)
    assert h1.cpu == 0 and h1.on_rq and m.stats.migrations == 0
    m.run_for(200_000)                   # periodic balance at 4 ms pulls it to idle CPU 1
    assert h1.cpu == 1 and h1.migrations == 1 and m.stats.migrations == 1
    assert h2.cpu == 0
    m.run_for(10 * MS)
    assert h1.cpu == 1 and h2.cpu == 0 and m.stats.migrations == 1


def test_newidle_balance_pulls_when_a_cpu_goes_idle():
    m = bare(cpus=2)
    # CPU 1: a task that runs 1 ms then sleeps for good (util 10% of a 10 ms period ->
    # sleeps 9 ms); CPU 0: two hogs, one of them allowed everywhere.
    d = m.add_task(TaskConfig("d", cpus=(1,), util=10, period_ns=10 * MS))
    h1 = m.add_task(TaskConfig("h1", cpus=(0,)))
    h2 = m.add_task(TaskConfig("h2", cpus=(0,)))
    m.set_affinity(h2.pid, [0, 1])
    # d runs ~1 ms, sleeps; CPU 1 goes idle before the first periodic balance (4 ms) and its
    # newidle balance pulls the queued hog h2 (h1 runs first: lower pid, equal vruntime).
    m.run_for(1_500_000)
    assert d.cpu == 1
    assert h2.cpu == 1 and h2.migrations == 1
    assert h1.cpu == 0


def test_active_balance_moves_a_lone_task_off_an_irq_loaded_cpu():
    # A hog alone on CPU 0 where the NIC's interrupts and NET_RX take most of the time: its
    # capacity (1 - irq share) * imbalance_pct 117 < 100 once the decayed IRQ share passes
    # 17/117 ~ 14.5%. The periodic balance of an idle CPU then active-balances the running task
    # over (need_active_balance/check_cpu_capacity). PELT-like decay per 4 ms tick:
    # 0.5 ** (4/32) ~ 0.917, so with ~70% IRQ share it takes a few ticks, not the first one.
    m = machine(cpus=4)
    m.add_traffic(TrafficConfig("t", flows=8, pps=600_000))
    hog = m.add_task(TaskConfig("hog", cpus=None))
    assert hog.cpu == 0
    m.run_for(4 * MS + 1)                 # first tick: share * (1 - 0.917) < 14.5%
    assert hog.cpu == 0
    m.run_for(40 * MS)
    m.check_conservation()
    assert hog.cpu != 0 and hog.migrations == 1
    assert m.cpus[0].irq_avg * 117 > 17


def test_fifo_task_beats_other_tasks():
    m = bare(cpus=2)
    o = m.add_task(TaskConfig("other", cpus=(1,)))
    rt = m.add_task(TaskConfig("rt", cpus=(1,)), policy="fifo")
    m.run_for(20 * MS)
    # SCHED_FIFO without throttling: the other task gets nothing once rt is runnable.
    assert o.runtime_ns == 0
    # CPU 1: 2 us wake-up latency idle, 2 us context switch, then rt only.
    t = m.cpu_times()[1]
    assert t["user"] == 20 * MS - m.cost.wakeup_latency_ns - m.cost.context_switch_ns
    assert rt.cpu == 1 and o.cpu == 1 and o.on_rq


def test_task_runtime_includes_the_running_slice():
    # ENGINE DEVIATION: Task.runtime_ns/utime_ns/stime_ns only grow when a chunk ends (up to
    # LONG_CHUNK_NS = 10 ms late for a lone hog), unlike Machine.cpu_times().
    # The kernel's per-task CPU time (sum_exec_runtime, read through task_sched_runtime(): the
    # total that /proc/<pid>/schedstat prints and that utime + stime of /proc/<pid>/stat are
    # scaled to) includes the slice the task is running right now, as /proc/stat's per-CPU
    # times (Machine.cpu_times) do. A lone hog on CPU 1 for 15 ms:
    # 2 us wake-up latency (idle) + 2 us switch (system) + the rest user, all of it the hog's.
    m = bare(cpus=2)
    h = m.add_task(TaskConfig("h", cpus=(1,)))
    m.run_for(15 * MS)
    t = m.cpu_times()[1]
    assert t["user"] + t["system"] == 15 * MS - m.cost.wakeup_latency_ns
    assert h.runtime_ns == t["user"] + t["system"]


def test_context_switches_and_migrations_counted_on_wakeups():
    m = machine(cpus=4)
    m.set_sysctl("backlog_threaded", 1)
    m.set_rps_cpus("eth0", 0, 0b100)
    m.add_traffic(TrafficConfig("t", pps=1000, pattern="constant"))
    m.run_for(20 * MS)
    m.check_conservation()
    th = task(m, "napi/backlog-2")
    # 20 packets, each wakes the sleeping thread on idle CPU 2: idle -> thread -> idle.
    assert th.wakeups == 20 and th.nvcsw == 20
    assert m.cpus[2].ctxt == 40
    assert th.migrations == 0


def test_set_affinity_moves_a_running_task():
    m = bare()
    h = m.add_task(TaskConfig("h", cpus=None))
    m.run_for(MS)
    assert h.cpu == 0
    m.set_affinity(h.pid, [3])
    assert h.cpu == 3 and h.migrations == 1
    before = h.runtime_ns
    m.run_for(MS)
    assert h.runtime_ns > before and m.cpu_times()[3]["user"] > 0
