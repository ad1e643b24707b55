"""net_rx_action() budget/time_squeeze and __do_softirq()'s hand-off to ksoftirqd
(kernel-facts.md sections 4.1-4.3).

Kernel rules used for the hand counts:
  * net_rx_action takes the poll_list into a local list and polls each entry ONCE; a NAPI that
    used its full weight goes to `repoll` and is only polled again by the next net_rx_action
    (the loop breaks when the local list is empty and repoll is not). So a lone NAPI is polled
    exactly once per NET_RX softirq, and its budget of 300 is never exhausted by weight 64.
  * time_squeeze++ when, after a poll, budget <= 0 (or the 2-jiffy time limit passed).
  * __do_softirq restarts while NET_RX is pending, at most MAX_SOFTIRQ_RESTART = 10 runs, and
    only while jiffies < start + msecs_to_jiffies(2); leftover work wakes ksoftirqd/N.
  * Raising NET_RX from task context (not in interrupt) wakes ksoftirqd/N directly.

Costs come from the engine's CostModel (entry, per-poll, per-packet constants).
"""
from __future__ import annotations

import random

from engine_helpers import (MS, PROCESSED, TIME_SQUEEZE, PollTrace, eth, fill_ring, inject,
                            machine, make_flow, row, task)

from procnet.engine.config import CostModel

HASH = 0x12345678


def fill_backlog(m, cpu, n):
    """n packets into cpu's input_pkt_queue, enqueued on cpu itself from task context."""
    f = make_flow(m, HASH)
    assert all(inject(m, f, target=cpu, this_cpu=cpu, n=n))


def test_single_backlog_1000_packets_no_squeeze():
    m = machine(cpus=2)
    m.set_sysctl("netdev_max_backlog", 100_000)
    trace = PollTrace(m)
    fill_backlog(m, 1, 1000)
    m.run_for(5 * MS)
    m.check_conservation()
    c = m.cost
    # 1000 = 15 * 64 + 40: 16 polls (15 full, then 40 < 64 completes the backlog). One poll
    # per net_rx_action (lone NAPI -> repoll list), so 16 NET_RX runs; budget 300 - 64 > 0 after
    # every run and 16 runs take ~1 ms < 2 jiffies: time_squeeze stays 0.
    assert trace.works() == [64] * 15 + [40]
    assert m.cpus[1].net_rx_softirqs == 16
    assert row(m, 1)[TIME_SQUEEZE] == 0
    assert row(m, 1)[PROCESSED] == 1000
    # Raised from task context -> ksoftirqd/1 ran all of it, woken once.
    k = task(m, "ksoftirqd/1")
    assert {p[4] for p in trace.polls} == {"ksoftirqd/1"}
    assert k.wakeups == 1
    softirq_ns = 16 * c.softirq_entry_ns + 16 * c.napi_poll_ns + 1000 * c.protocol_ns
    assert m.cpu_times()[1]["softirq"] == softirq_ns              # 1,008,000 ns by default
    assert k.runtime_ns == softirq_ns + c.context_switch_ns       # + one switch to ksoftirqd


def test_single_backlog_budget_64_squeezes_every_full_poll():
    m = machine(cpus=2)
    m.set_sysctl("netdev_max_backlog", 100_000)
    m.set_sysctl("netdev_budget", 64)
    fill_backlog(m, 1, 1000)
    m.run_for(5 * MS)
    m.check_conservation()
    # Budget 64: each full poll leaves 64 - 64 = 0 <= 0 -> squeeze (15 times); the last poll
    # of 40 leaves 24 > 0 and the backlog completed -> no squeeze. Still 16 runs.
    assert row(m, 1)[TIME_SQUEEZE] == 15
    assert m.cpus[1].net_rx_softirqs == 16


def test_five_napis_budget_exhausted_by_the_fifth_poll():
    # Five NIC queues with their IRQs on CPU 0, 600 packets each, no RPS.
    m = machine(cpus=2, devices=(eth(rx_queues=5, irq_cpus=(0,) * 5),))
    f = make_flow(m, HASH)
    dev = m.netdevs["eth0"]
    trace = PollTrace(m)
    for rxq in dev.rxqs:
        fill_ring(m, rxq, f, 600)
        m.rxq_interrupt(rxq, m.cpus[0])       # napi_schedule() on CPU 0 (from task context)
    m.run_for(10 * MS)
    m.check_conservation()
    # 600 = 9 * 64 + 24. Runs 1..9 poll all five NAPIs at 64: budget 300 - 4*64 = 44 > 0 after
    # the 4th, 44 - 64 = -20 <= 0 after the 5th -> time_squeeze (9 times). Run 10 polls each
    # for 24 (all complete), 300 - 120 > 0 -> no squeeze. 10 NET_RX runs, 50 polls.
    assert m.cpus[0].net_rx_softirqs == 10
    assert row(m, 0)[TIME_SQUEEZE] == 9
    assert trace.works() == [64] * 45 + [24] * 5
    assert row(m, 0)[PROCESSED] == 3000
    c = m.cost
    assert m.cpu_times()[0]["softirq"] == (10 * c.softirq_entry_ns + 50 * c.napi_poll_ns
                                           + 3000 * (c.driver_rx_ns + c.protocol_ns))


def irq_then_trace(m, n_pkts):
    """n_pkts in eth0's ring and its interrupt raised on CPU 0: softirq runs on irq exit."""
    f = make_flow(m, HASH)
    rxq = m.netdevs["eth0"].rxqs[0]
    fill_ring(m, rxq, f, n_pkts)
    trace = PollTrace(m)
    m.raise_irq(m.cpus[0], rxq)
    return trace


def test_ksoftirqd_takes_over_after_max_softirq_restart():
    m = machine(cpus=2)                       # HZ 250: MAX_SOFTIRQ_TIME = 1 jiffy = 4 ms
    trace = irq_then_trace(m, 1000)
    m.run_for(10 * MS)
    m.check_conservation()
    c = m.cost
    run_ns = c.softirq_entry_ns + c.napi_poll_ns + 64 * (c.driver_rx_ns + c.protocol_ns)
    assert 10 * run_ns + c.hardirq_ns < 4 * MS        # the restart limit bites before jiffy 1
    # On irq exit __do_softirq runs net_rx_action at most 10 times (one 64-packet poll each),
    # then wakes ksoftirqd/0, which polls the rest: 1000 - 640 = 360 = 5 * 64 + 40 -> 6 polls.
    ctx = [p[4] for p in trace.polls]
    assert ctx == ["irq_exit"] * 10 + ["ksoftirqd/0"] * 6
    assert trace.works() == [64] * 15 + [40]
    k = task(m, "ksoftirqd/0")
    assert k.wakeups == 1 and k.runtime_ns > 0
    assert m.cpus[0].net_rx_softirqs == 16
    assert row(m, 0)[TIME_SQUEEZE] == 0


def test_ksoftirqd_takes_over_after_max_softirq_time():
    # HZ 1000: msecs_to_jiffies(2) = 2 jiffies. Expensive packets: one run = entry 200 +
    # poll 300 + 64 * (150 + 5000) = 330,100 ns. Hardirq ends at 1,000 ns (jiffy 0), so
    # __do_softirq may restart while jiffies < 2: run k ends at 1000 + k * 330,100;
    # k = 6 ends at 1,981,600 (jiffy 1, restart), k = 7 ends at 2,311,700 (jiffy 2, stop)
    # -> 7 runs (< 10 restarts) on irq exit, then ksoftirqd/0: 1000 - 448 = 552 = 8*64 + 40.
    m = machine(cpus=2, hz=1000, cost=CostModel(protocol_ns=5_000))
    c = m.cost
    assert c.hardirq_ns == 1_000 and c.softirq_entry_ns == 200 and c.napi_poll_ns == 300
    assert c.driver_rx_ns == 150
    trace = irq_then_trace(m, 1000)
    m.run_for(10 * MS)
    m.check_conservation()
    ctx = [p[4] for p in trace.polls]
    assert ctx == ["irq_exit"] * 7 + ["ksoftirqd/0"] * 9
    assert trace.polls[6][0] == 1_000 + 6 * 330_100 + 200        # 7th poll starts in jiffy 1
    k = task(m, "ksoftirqd/0")
    assert k.wakeups == 1 and k.runtime_ns > 0
    assert row(m, 0)[PROCESSED] == 1000


def test_nic_traffic_overload_wakes_ksoftirqd():
    # Sustained overload (2 Mpps > ~870 kpps one CPU can do at 1150 ns/packet): the NAPI is
    # always repolled, so every __do_softirq on irq exit ends by waking ksoftirqd/0.
    from procnet.engine.config import TrafficConfig
    m = machine(cpus=2)
    m.add_traffic(TrafficConfig("t", pps=2_000_000, pattern="constant"))
    m.run_for(5 * MS)
    m.check_conservation()
    k = task(m, "ksoftirqd/0")
    assert k.wakeups >= 1 and k.runtime_ns > 0
    assert m.stats.dropped["ring_full"] > 0


def test_dev_weight_change_takes_effect_from_the_next_poll():
    m = machine(cpus=2)
    m.set_sysctl("netdev_max_backlog", 10_000)
    trace = PollTrace(m)
    fill_backlog(m, 1, 200)
    m.set_sysctl("dev_weight", 16)
    m.run_for(5 * MS)
    m.check_conservation()
    # __napi_poll reads napi->weight (64 from boot) before process_backlog stores the new
    # dev_rx_weight = 16: first poll 64, then 16 each: 200 = 64 + 8 * 16 + 8.
    assert trace.works() == [64] + [16] * 8 + [8]


def test_dev_weight_rx_bias_multiplies():
    m = machine(cpus=2)
    m.set_sysctl("netdev_max_backlog", 10_000)
    m.set_sysctl("dev_weight", 32)
    m.set_sysctl("dev_weight_rx_bias", 3)
    assert m.sysctl.dev_rx_weight == 96
    trace = PollTrace(m)
    fill_backlog(m, 1, 200)
    m.run_for(5 * MS)
    # Boot weight 64 for the first poll, then dev_rx_weight = 32 * 3 = 96: 64 + 96 + 40.
    assert trace.works() == [64, 96, 40]


def test_time_limit_squeeze_before_budget():
    # HZ 100 (10 ms jiffies), netdev_budget_usecs default 2 * USEC_PER_SEC / HZ = 20000 ->
    # time_limit = start jiffy + 2. 100 us per packet: a 64-packet poll is 300 + 64 * 100,150
    # = 6,409,900 ns. ksoftirqd/0 starts the first run a few us after t=0 (jiffy 0); polls end
    # at ~6.4, ~12.8, ~19.2 ms (jiffy 1) and ~25.6 ms (jiffy 2 >= limit): squeeze after the
    # 4th poll with 300 - 256 = 44 budget left. The unpolled rx-4 goes first in the next run.
    m = machine(cpus=2, hz=100, devices=(eth(rx_queues=5, irq_cpus=(0,) * 5),),
                cost=CostModel(protocol_ns=100_000))
    assert m.sysctl.netdev_budget_usecs == 20_000
    f = make_flow(m, HASH)
    trace = PollTrace(m)
    for rxq in m.netdevs["eth0"].rxqs:
        fill_ring(m, rxq, f, 600)
        m.rxq_interrupt(rxq, m.cpus[0])
    m.run_for(26 * MS)
    m.check_conservation()
    assert [p[1] for p in trace.polls] == [f"eth0-rx-{i}" for i in range(5)]
    assert trace.works() == [64] * 5
    assert 25 * MS < trace.polls[4][0] < 26 * MS
    assert row(m, 0)[TIME_SQUEEZE] == 1
    assert m.cpus[0].net_rx_softirqs == 2


def test_jiffies_is_floor_of_time_times_hz_at_every_boundary():
    """Machine.jiffies keeps the last jiffy it computed with the nanoseconds it spans; asked in
    any order, at and beside every boundary, it must still be floor(t * HZ / NSEC_PER_SEC)."""
    ns = 1_000_000_000
    for hz in (100, 250, 300, 1000):
        m = machine(cpus=1, hz=hz)
        times = []
        for j in (0, 1, 2, 299, 300, 301, 10**6, 3 * 10**9):
            start = -(-j * ns // hz)                        # first ns of jiffy j
            times += [start - 1, start, start + 1]
        times = [t for t in times if t >= 0]
        rng = random.Random(hz)
        times += [rng.randrange(10**16) for _ in range(200)]
        for t in times + times[::-1] + rng.sample(times, len(times)):
            assert m.jiffies(t) == t * hz // ns, (hz, t)
