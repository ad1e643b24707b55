"""Engine findings of the reliability suite, as minimal reproducers (docs/reliability.md).

Each was an expected failure until the engine was fixed; they now guard against regressions.
"""
from __future__ import annotations

import pytest

from procnet.engine import Machine, MachineConfig, TaskConfig, TrafficConfig
from procnet.engine.config import NSEC_PER_MSEC


def test_removed_traffic_leaves_no_flows_behind():
    m = Machine(MachineConfig())
    for i in range(40):
        m.add_traffic(TrafficConfig(f"t{i}", flows=8, pps=1000))
        m.run_for(NSEC_PER_MSEC)
        m.del_traffic(f"t{i}")
    m.add_traffic(TrafficConfig("live", flows=8, pps=1000))
    assert len(m.flows) == 8
    assert len(m.summary()["flows"]) == 8     # was a KeyError: 328 flows > 256, list dropped


def test_a_zero_period_task_is_refused_when_added():
    m = Machine(MachineConfig())
    with pytest.raises(ValueError, match="period"):
        m.add_task(TaskConfig("h", util=50, period_ns=0))   # once ran into "made no progress"
    m.run_for(NSEC_PER_MSEC)


def test_dmesg_is_bounded():
    m = Machine(MachineConfig())
    m.kthread_fail_at = 1                      # procnet/faults/kthread_run = 1
    for _ in range(20_000):                    # a script retrying `echo 1 > backlog_threaded`
        with pytest.raises(OSError):
            m.set_sysctl("backlog_threaded", 1)
    assert len(m.dmesg) <= 10_000


def test_backlog_threaded_0_on_a_thread_backlog_napi_machine():
    # docs/modes.md 3 (f): a write of 1 fails; 0 is "unchanged", a no-op, as in the patch.
    m = Machine(MachineConfig(thread_backlog_napi=True))
    m.set_sysctl("backlog_threaded", 0)
    with pytest.raises(OSError):
        m.set_sysctl("backlog_threaded", 1)


# Found by the full profile (600 s of 64 clients; docs/reliability.md).

def test_deleted_tasks_are_released():
    m = Machine(MachineConfig())
    forks0 = m.total_forks
    for i in range(200):
        m.add_task(TaskConfig(f"h{i}", util=30, period_ns=2 * NSEC_PER_MSEC))
        m.run_for(100_000)
        m.del_task(f"h{i}")
    assert len(m.tasks) == len(m.task_list())   # was 200 DEAD tasks more, ~1.2 KiB each
    assert m.total_forks == forks0 + 200        # /proc/stat "processes" still counts them
    m.run_for(10 * NSEC_PER_MSEC)               # their pending timers fire harmlessly
    m.check_conservation()


def test_onoff_durations_beyond_int64_are_refused():
    with pytest.raises(ValueError, match="on_ns"):   # was OverflowError from numpy int64
        TrafficConfig("t", pattern="onoff", on_ns=10**21, off_ns=3 * 10**6)
    with pytest.raises(ValueError, match="on_ns"):
        TrafficConfig("t", pattern="onoff", on_ns=0)
    m = Machine(MachineConfig())
    m.add_traffic(TrafficConfig("t", pattern="onoff", on_ns=2**61, off_ns=2**61 - 1, pps=1000))
    m.run_for(NSEC_PER_MSEC)
    assert m.stats.offered > 0
