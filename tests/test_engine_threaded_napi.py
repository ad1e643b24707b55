"""Per-device threaded NAPI, /sys/class/net/<dev>/threaded (kernel-facts.md section 5.1).

Enabling creates one unbound napi/<dev>-<id> kthread per NAPI; the NIC's napi_schedule() then
wakes that thread instead of raising NET_RX; threaded polling has no netdev_budget, no time
limit and never counts time_squeeze. Disabling keeps the threads (6.15-era code).
"""
from __future__ import annotations

from engine_helpers import MS, TIME_SQUEEZE, eth, machine, row, tasks_named

from procnet.engine.config import TrafficConfig


def test_threaded_device_napi_polls_in_threads_without_squeeze():
    m = machine(cpus=4, devices=(eth(rx_queues=2, irq_cpus=(0, 1)),))
    m.dev_set_threaded("eth0", True)
    ts = tasks_named(m, "napi/eth0-")
    assert len(ts) == 2 and all(not t.per_cpu and len(t.allowed) == 4 for t in ts)
    assert m.netdevs["eth0"].threaded == 1
    # Overload (1.5 Mpps over two queues, ~870 kpps per CPU at 1150 ns/packet): in softirq
    # mode this would squeeze and hand over to ksoftirqd; in threads it never squeezes.
    m.add_traffic(TrafficConfig("t", flows=8, pps=1_500_000))
    m.run_for(20 * MS)
    m.check_conservation()
    assert all(c.net_rx_softirqs == 0 for c in m.cpus)
    assert all(row(m, c)[TIME_SQUEEZE] == 0 for c in range(4))
    assert all(t.runtime_ns > 0 for t in ts)
    assert m.stats.dropped["ring_full"] > 0
    assert all(k.runtime_ns == 0 for k in tasks_named(m, "ksoftirqd/"))


def test_disable_keeps_threads_and_returns_to_softirq():
    m = machine(cpus=4, devices=(eth(irq_cpus=(0,)),))
    m.dev_set_threaded("eth0", True)
    m.add_traffic(TrafficConfig("t", pps=20_000, pattern="constant"))
    m.run_for(2 * MS)
    th = tasks_named(m, "napi/eth0-")[0]
    woken = th.wakeups
    assert woken >= 39                             # one wake-up per interrupt (40 packets)
    m.dev_set_threaded("eth0", False)
    assert tasks_named(m, "napi/eth0-") == [th] and m.netdevs["eth0"].threaded == 0
    m.run_for(2 * MS)
    m.check_conservation()
    # Light load: the NAPI completes after each packet, so the next interrupt sees THREADED
    # clear and raises NET_RX on CPU 0: ~40 softirqs, no more thread wake-ups.
    assert th.wakeups == woken
    assert m.cpus[0].net_rx_softirqs >= 39
