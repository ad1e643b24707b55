"""Seed 000 as written on >= 6.0 trees (kernel-facts.md section 5.3, "Verified in the source").

napi_schedule_rps() for a remote THREADED target falls through to the tail, which schedules
*this* CPU's backlog: the target gets SCHED but its thread is never woken. Later enqueues see a
non-empty queue / SCHED set and never schedule it again, so the target's backlog is stranded:
input_pkt_queue fills to netdev_max_backlog + 1, the rest is dropped as "backlog", and writing 0
does not clear SCHED. The local thread meanwhile has SCHED_THREADED without SCHED and busy-loops.
The "intended" variant wakes the target's thread and never strands.
"""
from __future__ import annotations

from engine_helpers import DROPPED, INPUT_QLEN, MS, PROCESSED, machine, row, task

from procnet.engine.config import TrafficConfig
from procnet.engine.defs import NAPI_STATE_SCHED, NAPI_STATE_SCHED_THREADED

MAX = 100
TARGETS = (2, 3)


def rps_machine(variant):
    m = machine(cpus=4, felix_variant=variant)
    m.set_sysctl("netdev_max_backlog", MAX)
    m.set_rps_cpus("eth0", 0, 0b1100)              # RPS from the NIC's CPU 0 to CPUs 2, 3
    m.add_traffic(TrafficConfig("t", flows=16, pps=200_000, pattern="constant"))
    m.run_for(2 * MS)
    m.check_conservation()
    assert m.detect_stalls() == []
    assert all(row(m, c)[PROCESSED] > 0 for c in TARGETS)    # stock mode worked on both
    return m


def test_as_written_strands_remote_backlogs():
    m = rps_machine("as-written")
    processed = {c: row(m, c)[PROCESSED] for c in TARGETS}
    m.set_sysctl("backlog_threaded", 1)
    m.run_for(10 * MS)
    m.check_conservation()
    for c in TARGETS:
        sd = m.softnet[c]
        # SCHED set by the first post-enable enqueue, never polled: nothing processed since,
        # the queue sits at max + 1 and every further packet is a "backlog" drop on c's row.
        assert sd.backlog.state & NAPI_STATE_SCHED
        assert not sd.backlog.state & NAPI_STATE_SCHED_THREADED
        assert row(m, c)[PROCESSED] == processed[c]
        assert row(m, c)[INPUT_QLEN] == MAX + 1
        assert row(m, c)[DROPPED] > 0
        assert task(m, f"napi/backlog-{c}").runtime_ns == 0     # its thread never woke
    assert m.stats.dropped["backlog"] == sum(row(m, c)[DROPPED] for c in TARGETS)
    assert m.stats.dropped["flow_limit"] == 0
    assert m.detect_stalls() == list(TARGETS)
    assert sum(1 for _, line in m.dmesg if "backlog stall" in line) == len(TARGETS)
    # The local (CPU 0) thread got SCHED_THREADED without SCHED: it busy-loops.
    local = task(m, "napi/backlog-0")
    assert m.softnet[0].backlog.state & NAPI_STATE_SCHED_THREADED
    assert not m.softnet[0].backlog.state & NAPI_STATE_SCHED
    assert local.spin_iters > 0 and local.runtime_ns > 5 * MS

    # Writing 0 clears THREADED only; SCHED stays, nothing polls these backlogs again.
    m.set_sysctl("backlog_threaded", 0)
    dropped = {c: row(m, c)[DROPPED] for c in TARGETS}
    m.run_for(10 * MS)
    m.check_conservation()
    for c in TARGETS:
        assert m.softnet[c].backlog.state & NAPI_STATE_SCHED
        assert row(m, c)[PROCESSED] == processed[c]
        assert row(m, c)[INPUT_QLEN] == MAX + 1
        assert row(m, c)[DROPPED] > dropped[c]
    assert m.detect_stalls() == list(TARGETS)


def test_intended_never_stalls():
    m = rps_machine("intended")
    processed = {c: row(m, c)[PROCESSED] for c in TARGETS}
    seen = []
    m.set_sysctl("backlog_threaded", 1)
    for _ in range(10):
        m.run_for(MS)
        m.check_conservation()
        seen += m.detect_stalls()
    m.set_sysctl("backlog_threaded", 0)
    for _ in range(5):
        m.run_for(MS)
        m.check_conservation()
        seen += m.detect_stalls()
    assert seen == [] and m.stats.stalls_detected == 0
    for c in TARGETS:
        assert task(m, f"napi/backlog-{c}").runtime_ns > 0
        assert row(m, c)[PROCESSED] > processed[c]
    assert m.stats.dropped["backlog"] == 0
    assert task(m, "napi/backlog-0").spin_iters == 0
