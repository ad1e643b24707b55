"""unregister_netdevice(): dev_close + flush_all_backlogs per mode (kernel-facts.md sections 5.3
"flush_backlog", 6).

  * stock / mainline: flush_backlog() on each online CPU unlinks the device's packets from
    input_pkt_queue and process_queue (counted here as "device_gone"); no waiting.
  * felix threaded: input_pkt_queue purged; process_queue is left to the thread and, if it was
    non-empty, unregister sleeps in msleep(1) steps until the thread has emptied it once
    (process_queue_empty changes). procnet bounds that wait by cfg.flush_wait_limit_ns.
"""
from __future__ import annotations

import pytest
from engine_helpers import MS, eth, fill_ring, inject, machine, make_flow, task

from procnet.engine.config import TaskConfig


def two_nics(mode, **kw):
    m = machine(cpus=4, devices=(eth("eth0"), eth("eth1")),
                thread_backlog_napi=(mode == "mainline"), **kw)
    if mode == "felix":
        m.set_sysctl("backlog_threaded", 1)
    return m


def load(m):
    """eth0/eth1 packets interleaved: CPU 2 process_queue 3+3, CPU 2 input 4+4 (enqueued from
    CPU 0, so CPU 2's backlog is scheduled), CPU 1 input 2+2 (enqueued on CPU 1); eth0's ring
    holds 5 more. Returns the two flows."""
    fa, fb = make_flow(m, 0x1111, "eth0"), make_flow(m, 0x2222, "eth1")
    sd2 = m.softnet[2]
    for _ in range(3):
        for f in (fa, fb):
            sd2.process_queue.append((m.now_ns, f))
            sd2.input_queue_tail += 1
            m.stats.offered += 1
    for _ in range(4):
        inject(m, fa, 2, 0)
        inject(m, fb, 2, 0)
    for _ in range(2):
        inject(m, fa, 1, 1)
        inject(m, fb, 1, 1)
    fill_ring(m, m.netdevs["eth0"].rxqs[0], fa, 5)
    m.check_conservation()
    return fa, fb


@pytest.mark.parametrize("mode", ["stock", "mainline"])
def test_flush_removes_device_packets_from_both_queues(mode):
    m = two_nics(mode)
    fa, fb = load(m)
    res = m.unregister_netdev("eth0")
    m.check_conservation()
    # eth0: 3 (process_queue) + 4 + 2 (input queues) + 5 (ring) = 14 gone, nothing waited.
    assert res.dropped == 14 and res.waited_ns == 0 and res.error is None
    assert m.stats.dropped["device_gone"] == 14 and fa.dropped == 14
    # eth1's packets stay, in order, on their queues.
    sd1, sd2 = m.softnet[1], m.softnet[2]
    assert [p[1] for p in sd2.process_queue] == [fb] * 3
    assert [p[1] for p in sd2.input_pkt_queue] == [fb] * 4
    assert [p[1] for p in sd1.input_pkt_queue] == [fb] * 2
    # flush_backlog advances input_queue_head for every removed packet.
    assert sd2.input_queue_head == 3 + 4 and sd1.input_queue_head == 2
    assert "eth0" not in m.netdevs
    m.run_for(2 * MS)
    m.check_conservation()
    assert fa.delivered == 0 and fb.delivered == 9
    assert m.stats.delivered_after_unregister == 0
    # Nothing of the device is accepted afterwards (not running -> dropped, no sd->dropped).
    assert inject(m, fa, 2, 0) == [False]
    assert m.stats.dropped["device_gone"] == 15 and m.softnet[2].dropped == 0
    m.check_conservation()


def test_felix_waits_for_the_thread_to_drain_process_queue():
    m = two_nics("felix")
    fa, fb = load(m)
    res = m.unregister_netdev("eth0")
    m.check_conservation()
    # Input queues purged (4 + 2) plus the ring (5); process_queue skipped and waited for: the
    # thread napi/backlog-2 (woken by the first enqueue) empties it within the first msleep(1).
    assert res.error is None
    assert res.waited_ns == MS
    assert res.dropped == 4 + 2 + 5
    assert fa.delivered == 3            # eth0's process_queue packets, processed by the thread
    m.run_for(2 * MS)
    m.check_conservation()
    assert fa.delivered == 3 and fb.delivered == 9
    assert m.stats.delivered_after_unregister == 0


def test_felix_starved_thread_bounded_wait_error_and_dmesg():
    limit = 20 * MS
    m = two_nics("felix", flush_wait_limit_ns=limit)
    th = task(m, "napi/backlog-2")
    m.set_affinity(th.pid, [2])
    m.add_task(TaskConfig("rt", cpus=(2,)), policy="fifo")     # SCHED_FIFO hog: th never runs
    fa, fb = load(m)
    res = m.unregister_netdev("eth0")
    m.check_conservation()
    # 20 msleep(1) rounds, then give up (a kernel would hang here): error + dmesg, bounded.
    assert res.waited_ns == limit
    assert res.error is not None and "napi/backlog-2" in res.error
    assert any("unregister" in line and "cpu2" in line for _, line in m.dmesg)
    # The 3 eth0 packets the thread never processed are dropped as device_gone with the rest.
    assert res.dropped == 4 + 2 + 5 + 3
    assert fa.delivered == 0 and [p[1] for p in m.softnet[2].process_queue] == [fb] * 3
    assert th.runtime_ns == 0
    m.check_conservation()


def test_felix_dead_cpu_queue_survives_the_flush():
    # Seed 000 hazard: dev_cpu_dead left CPU 2's queues to its thread and flush_all_backlogs
    # only walks online CPUs, so eth0 packets outlive the device. A kernel would touch a freed
    # net_device; procnet counts them and drops them instead of delivering.
    m = two_nics("felix")
    th = task(m, "napi/backlog-2")
    m.set_affinity(th.pid, [2])
    m.add_task(TaskConfig("rt", cpus=(2,)), policy="fifo")
    fa, fb = load(m)
    m.cpu_down(2)                  # th is now allowed nowhere online -> fallback to any CPU
    res = m.unregister_netdev("eth0")
    assert res.dropped == 2 + 5                  # only CPU 1's input queue and the ring
    m.run_for(2 * MS)
    m.check_conservation()
    assert m.stats.delivered_after_unregister == 3 + 4
    assert fa.delivered == 0 and fb.delivered == 9
    assert any("seed 000 hazard" in line for _, line in m.dmesg)
