"""enqueue_to_backlog(): the netdev_max_backlog boundary (kernel-facts.md section 2.2).

No event loop runs in these tests: packets are enqueued by hand on a fresh machine, so no
consumer can drain the target's backlog and every number follows from the accept rule
`len(input_pkt_queue) <= netdev_max_backlog` alone.
"""
from __future__ import annotations

import pytest
from engine_helpers import (BACKLOG_LEN, DROPPED, INPUT_QLEN, PROCESS_QLEN, fill_process_queue,
                            inject, machine, make_flow, row)

from procnet.engine.defs import NAPI_STATE_SCHED

HASH = 0x12345678


@pytest.mark.parametrize("max_backlog", [1, 5, 1000])
def test_exactly_max_plus_one_accepted_then_backlog_drop_on_target(max_backlog):
    m = machine(cpus=4)
    m.set_sysctl("netdev_max_backlog", max_backlog)
    f = make_flow(m, HASH)
    # Accept iff qlen <= max before the append: qlen = 0..max -> max+1 accepts, then qlen = max+1
    # is refused (section 2.2 step 4, "<=" lets the queue reach max + 1).
    results = inject(m, f, target=2, this_cpu=0, n=max_backlog + 2)
    assert results == [True] * (max_backlog + 1) + [False]
    sd = m.softnet[2]
    assert len(sd.input_pkt_queue) == max_backlog + 1
    # The refusal is counted on the TARGET's softnet_data, never on the enqueuing CPU.
    assert row(m, 2)[DROPPED] == 1
    assert row(m, 0)[DROPPED] == 0
    assert m.stats.dropped["backlog"] == 1 and m.stats.dropped["flow_limit"] == 0
    assert f.dropped == 1
    assert sd.input_queue_tail == max_backlog + 1      # incremented per accepted packet only
    m.check_conservation()


def test_schedules_only_on_empty_to_nonempty_transition():
    m = machine(cpus=4)
    f = make_flow(m, HASH)
    inject(m, f, target=2, this_cpu=0, n=10)
    sd2, sd0 = m.softnet[2], m.softnet[0]
    # Stock mode, remote target: SCHED set once and the target queued once on this CPU's
    # rps_ipi_list (section 2.4); the 9 later enqueues see qlen > 0 and schedule nothing.
    assert sd2.backlog.state & NAPI_STATE_SCHED
    assert sd0.rps_ipi_list == [sd2]
    assert m.stats.ipis_sent == 0                      # IPIs go out at net_rx_action exit
    m.check_conservation()


def test_process_queue_does_not_count_towards_the_limit():
    m = machine(cpus=4)
    m.set_sysctl("netdev_max_backlog", 5)
    f = make_flow(m, HASH)
    fill_process_queue(m, 2, f, 100)     # far above the limit, on the consumer side
    results = inject(m, f, target=2, this_cpu=0, n=7)
    # Only input_pkt_queue is compared with max_backlog: still 6 accepted, the 7th refused.
    assert results == [True] * 6 + [False]
    r = row(m, 2)
    assert (r[INPUT_QLEN], r[PROCESS_QLEN], r[BACKLOG_LEN]) == (6, 100, 106)
    assert r[DROPPED] == 1
    m.check_conservation()


@pytest.mark.parametrize("max_backlog", [-1, -2, -1000])
def test_negative_max_backlog_means_no_limit(max_backlog):
    m = machine(cpus=4)
    m.set_sysctl("netdev_max_backlog", max_backlog)
    f = make_flow(m, HASH)
    # int max_backlog compared with an unsigned qlen: converts to >= 2^31, never exceeded.
    assert all(inject(m, f, target=1, this_cpu=1, n=3000))
    assert len(m.softnet[1].input_pkt_queue) == 3000
    assert row(m, 1)[DROPPED] == 0 and sum(m.stats.dropped.values()) == 0
    m.check_conservation()


def test_zero_max_backlog_allows_exactly_one():
    m = machine(cpus=4)
    m.set_sysctl("netdev_max_backlog", 0)
    f = make_flow(m, HASH)
    assert inject(m, f, target=3, this_cpu=3, n=3) == [True, False, False]
    assert len(m.softnet[3].input_pkt_queue) == 1
    assert row(m, 3)[DROPPED] == 2
    m.check_conservation()


def test_not_running_device_does_not_touch_sd_dropped():
    m = machine(cpus=4)
    f = make_flow(m, HASH)
    m.unregister_netdev("eth0")
    # 6.10+: a packet of a device that is not running is dropped before the backlog checks and
    # only the device's rx_dropped moves; softnet_data.dropped stays 0 (section 1, 2.2 step 1).
    assert inject(m, f, target=2, this_cpu=0, n=3) == [False] * 3
    assert row(m, 2)[DROPPED] == 0 and row(m, 0)[DROPPED] == 0
    assert m.stats.dropped["device_gone"] == 3
    assert not m.softnet[2].input_pkt_queue
    m.check_conservation()
