"""Seed 000's net.core.backlog_threaded: backlog_set_threaded() (kernel-facts.md section 5.3).

  * first enable: kthread_run("napi/backlog-%d") for every possible CPU without a thread,
    unbound; then THREADED set under each backlog lock;
  * disable: THREADED cleared, threads kept; re-enable: no new thread (no-op if unchanged);
  * kthread_run failure: "kthread_run failed with err %d", mode forced off, creation stops.
"""
from __future__ import annotations

import pytest
from engine_helpers import MS, machine, tasks_named

from procnet.engine.config import TrafficConfig
from procnet.engine.defs import NAPI_STATE_THREADED

N = 4


def threads(m):
    return tasks_named(m, "napi/backlog-")


def test_first_enable_creates_one_unbound_thread_per_possible_cpu():
    m = machine(cpus=N)
    m.cpu_down(3)                       # possible, not online: still gets its thread
    assert threads(m) == []
    m.set_sysctl("backlog_threaded", 1)
    ts = threads(m)
    assert sorted(t.comm for t in ts) == [f"napi/backlog-{i}" for i in range(N)]
    assert all(t.kind == "kthread" and not t.per_cpu for t in ts)
    assert all(t.allowed == frozenset(range(N)) for t in ts)
    assert all(sd.backlog.state & NAPI_STATE_THREADED for sd in m.softnet)
    assert all(sd.backlog.thread is t for sd, t in zip(m.softnet, sorted(ts, key=lambda t: t.pid)))
    assert m.backlog_threaded is True and m.get_sysctl("backlog_threaded") == 1


def test_disable_keeps_threads_reenable_creates_none():
    m = machine(cpus=N)
    m.set_sysctl("backlog_threaded", 1)
    pids = [t.pid for t in threads(m)]
    m.set_sysctl("backlog_threaded", 0)
    assert [t.pid for t in threads(m)] == pids
    assert not any(sd.backlog.state & NAPI_STATE_THREADED for sd in m.softnet)
    assert m.backlog_threaded is False
    m.set_sysctl("backlog_threaded", 1)
    assert [t.pid for t in threads(m)] == pids
    m.set_sysctl("backlog_threaded", 1)          # unchanged: no-op
    assert [t.pid for t in threads(m)] == pids


def test_thousand_toggles_under_traffic():
    m = machine(cpus=N)
    m.set_rps_cpus("eth0", 0, 0b1111)
    m.add_traffic(TrafficConfig("t", flows=16, pps=300_000))
    pids = None
    for i in range(1000):
        m.set_sysctl("backlog_threaded", (i + 1) % 2)   # 1, 0, 1, 0, ...
        m.run_for(20_000)                               # 20 us between writes: 20 ms in all
        m.check_conservation()
        if pids is None:
            pids = [t.pid for t in threads(m)]
        assert len(threads(m)) == N
    assert [t.pid for t in threads(m)] == pids
    assert m.backlog_threaded is False                   # 1000th write was 0
    m.del_traffic("t")
    m.run_for(2 * MS)
    m.check_conservation()
    # Everything offered was delivered or dropped for a counted reason; the backlogs drained.
    assert sum(sd.qlen() for sd in m.softnet) == 0
    assert m.detect_stalls() == []


def test_kthread_run_failure_forces_the_mode_off():
    m = machine(cpus=N)
    m.kthread_fail_at = 2                 # the 2nd kthread_run fails (-ENOMEM)
    with pytest.raises(OSError) as ei:
        m.set_sysctl("backlog_threaded", 1)
    assert ei.value.errno == 12
    assert m.backlog_threaded is False and m.get_sysctl("backlog_threaded") == 0
    assert any("kthread_run failed with err -12" in line for _, line in m.dmesg)
    # CPU 0's thread was created before the failure and is kept; creation stopped there.
    assert [t.comm for t in threads(m)] == ["napi/backlog-0"]
    assert not any(sd.backlog.state & NAPI_STATE_THREADED for sd in m.softnet)
    assert m.softnet[1].backlog.thread is None
    # Still the stock path: traffic works without threads.
    m.set_rps_cpus("eth0", 0, 0b1110)
    m.add_traffic(TrafficConfig("t", flows=8, pps=50_000, pattern="constant"))
    m.run_for(2 * MS)
    m.check_conservation()
    assert m.stats.ipis_sent > 0 and threads(m)[0].runtime_ns == 0


def test_mainline_boot_option_refuses_the_sysctl():
    m = machine(cpus=N, thread_backlog_napi=True)
    with pytest.raises(OSError):
        m.set_sysctl("backlog_threaded", 1)
    assert threads(m) == []
    assert len(tasks_named(m, "backlog_napi/")) == N
