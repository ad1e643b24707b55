"""Engine findings of the reliability suite, as minimal reproducers (docs/reliability.md).

procnet/engine/ is not the reliability suite's to change, so each finding is an expected
failure here: `xfail(strict=True)`, so that fixing the engine turns it into an unexpected pass
and this file (and docs/reliability.md) must be updated.
"""
from __future__ import annotations

import pytest

from procnet.engine import Machine, MachineConfig, TaskConfig, TrafficConfig
from procnet.engine.config import NSEC_PER_MSEC


@pytest.mark.xfail(strict=True, reason="Machine.flows keeps the flows of removed traffic")
def test_removed_traffic_leaves_no_flows_behind():
    m = Machine(MachineConfig())
    for i in range(40):
        m.add_traffic(TrafficConfig(f"t{i}", flows=8, pps=1000))
        m.run_for(NSEC_PER_MSEC)
        m.del_traffic(f"t{i}")
    m.add_traffic(TrafficConfig("live", flows=8, pps=1000))
    assert len(m.flows) == 8
    assert len(m.summary()["flows"]) == 8     # KeyError today: 328 flows > 256, list dropped


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="add_task accepts period_ns=0; the next run raises RuntimeError")
def test_a_zero_period_task_is_refused_when_added():
    m = Machine(MachineConfig())
    try:
        m.add_task(TaskConfig("h", util=50, period_ns=0))
    except ValueError:
        return
    with pytest.raises(RuntimeError):         # "task ... made no progress"
        m.run_for(NSEC_PER_MSEC)
    raise AssertionError("period_ns=0 was accepted")


@pytest.mark.xfail(strict=True, reason="Machine.dmesg is an unbounded list, not a ring")
def test_dmesg_is_bounded():
    m = Machine(MachineConfig())
    m.kthread_fail_at = 1                      # procnet/faults/kthread_run = 1
    for _ in range(20_000):                    # a script retrying `echo 1 > backlog_threaded`
        with pytest.raises(OSError):
            m.set_sysctl("backlog_threaded", 1)
    assert len(m.dmesg) <= 10_000


@pytest.mark.xfail(strict=True, raises=OSError,
                   reason="docs/modes.md 3 (f) says a write of 1 fails; 0 fails too")
def test_backlog_threaded_0_on_a_thread_backlog_napi_machine():
    m = Machine(MachineConfig(thread_backlog_napi=True))
    m.set_sysctl("backlog_threaded", 0)
