"""RPS map construction and get_rps_cpu() (kernel-facts.md sections 3.1 and 10.3).

map->cpus[] = CPUs of (written mask & cpu_online_mask at write time), ascending; selection is
cpus[reciprocal_scale(hash, len)] = cpus[(hash * len) >> 32]; hash 0 -> -1; offline -> -1.
"""
from __future__ import annotations

import pytest
from engine_helpers import MS, eth, machine, make_flow

from procnet.engine.config import NetDeviceConfig, TrafficConfig


def rxq(m, dev="eth0", q=0):
    return m.netdevs[dev].rxqs[q]


@pytest.mark.parametrize("hash_, expected", [
    (0x00000001, 0),
    (0x55555555, 0),          # 0x55555555 * 3 = 0xFFFFFFFF        -> >> 32 = 0
    (0x55555556, 1),          # 0x55555556 * 3 = 0x1_00000002      -> 1
    (0xAAAAAAAA, 1),          # 0xAAAAAAAA * 3 = 0x1_FFFFFFFE      -> 1
    (0xAAAAAAAB, 2),          # 0xAAAAAAAB * 3 = 0x2_00000001      -> 2
    (0xFFFFFFFF, 2),
])
def test_reciprocal_scale_over_three_cpus(hash_, expected):
    m = machine(cpus=4)
    assert m.set_rps_cpus("eth0", 0, 0b1110) == 0b1110
    # cpus[] = [1, 2, 3], len 3: index (hash * 3) >> 32 picks cpus[index].
    assert m.get_rps_cpu(rxq(m), hash_) == [1, 2, 3][expected]


def test_reciprocal_scale_two_cpus_and_sparse_mask():
    m = machine(cpus=8)
    m.set_rps_cpus("eth0", 0, 0b1010_0000)      # cpus[] = [5, 7]
    # len 2: index = hash >> 31 (top bit).
    assert m.get_rps_cpu(rxq(m), 0x7FFFFFFF) == 5
    assert m.get_rps_cpu(rxq(m), 0x80000000) == 7


def test_hash_zero_and_no_map_give_minus_one():
    m = machine(cpus=4)
    assert m.get_rps_cpu(rxq(m), 0x12345678) == -1            # no map
    m.set_rps_cpus("eth0", 0, 0b0100)
    assert m.get_rps_cpu(rxq(m), 0) == -1                     # hash 0
    assert m.get_rps_cpu(rxq(m), 1) == 2


def test_mask_is_intersected_with_online_cpus_at_write_time_and_not_rebuilt():
    m = machine(cpus=4)
    m.cpu_down(3)
    # Written 0xf while CPU 3 is offline: map = [0, 1, 2] and rps_cpus reads back 7.
    assert m.set_rps_cpus("eth0", 0, 0b1111) == 0b0111
    assert list(rxq(m).rps_map) == [0, 1, 2] and rxq(m).rps_mask == 0b0111
    m.cpu_up(3)
    # Not rebuilt on hotplug: CPU 3 stays out until rps_cpus is written again.
    assert list(rxq(m).rps_map) == [0, 1, 2] and rxq(m).rps_mask == 0b0111
    assert m.get_rps_cpu(rxq(m), 0xFFFFFFFF) == 2             # (2^32-1)*3 >> 32 = 2
    assert m.set_rps_cpus("eth0", 0, 0b1111) == 0b1111
    assert m.get_rps_cpu(rxq(m), 0xFFFFFFFF) == 3             # (2^32-1)*4 >> 32 = 3


def test_offline_target_gives_minus_one_without_fallback():
    m = machine(cpus=4)
    m.set_rps_cpus("eth0", 0, 0b1111)
    m.cpu_down(3)
    # Map still [0,1,2,3] (not rebuilt); a hash selecting index 3 gets -1, not another CPU.
    assert m.get_rps_cpu(rxq(m), 0xC0000000) == -1            # 0xC0000000 * 4 >> 32 = 3
    assert m.get_rps_cpu(rxq(m), 0xBFFFFFFF) == 2
    # netif_rx: -1 means this CPU.
    f = make_flow(m, 0xC0000000)
    m.stats.offered += 1
    m.netif_rx(0, f, m.cpus[1], rxq(m))
    assert len(m.softnet[1].input_pkt_queue) == 1 and not m.softnet[3].input_pkt_queue
    m.check_conservation()


def test_empty_intersection_disables_rps():
    m = machine(cpus=4)
    m.cpu_down(2)
    assert m.set_rps_cpus("eth0", 0, 0b0100) == 0
    assert rxq(m).rps_map is None
    assert m.get_rps_cpu(rxq(m), 0x12345678) == -1


def test_rps_default_mask_applies_to_devices_added_later_only():
    # ENGINE BUG when written: add_netdev() calls set_rps_cpus(dev.name, ...) before the device
    # is in m.netdevs -> KeyError for any non-zero rps_default_mask.
    m = machine(cpus=4)
    m.set_sysctl("rps_default_mask", 0b0110)
    dev1 = m.add_netdev(NetDeviceConfig(name="eth1", rx_queues=2, irq_cpus=(0, 1)))
    assert [q.rps_mask for q in dev1.rxqs] == [0b0110, 0b0110]
    assert [list(q.rps_map) for q in dev1.rxqs] == [[1, 2], [1, 2]]
    assert rxq(m, "eth0").rps_map is None and rxq(m, "eth0").rps_mask == 0   # existing: untouched
    # The default goes through the same set-mask routine: & online at creation time.
    m.cpu_down(2)
    dev2 = m.add_netdev(NetDeviceConfig(name="eth2", irq_cpus=(0,)))
    assert list(dev2.rxqs[0].rps_map) == [1] and dev2.rxqs[0].rps_mask == 0b0010
    # Empty default = RPS off for new devices.
    m.set_sysctl("rps_default_mask", 0)
    dev3 = m.add_netdev(NetDeviceConfig(name="eth3", irq_cpus=(0,)))
    assert dev3.rxqs[0].rps_map is None


def test_napi_driver_enqueues_even_to_this_cpu_when_rps_selects_it():
    # netif_receive_skb with RPS: get_rps_cpu >= 0 -> enqueue_to_backlog even for this CPU
    # (section 2.1). Map = [0] with the IRQ on CPU 0: every packet goes through CPU 0's backlog,
    # so the backlog NAPI is polled on CPU 0 and processed counts every packet on CPU 0.
    m = machine(cpus=2, devices=(eth(irq_cpus=(0,)),))
    m.set_rps_cpus("eth0", 0, 0b01)
    m.add_traffic(TrafficConfig("t", flows=4, pps=50_000, pattern="constant"))
    seen = []
    m.trace_napi_poll = lambda napi, work, cpu: seen.append((napi.name, work))
    m.run_for(2 * MS)
    m.del_traffic("t")
    m.run_for(MS)
    m.check_conservation()
    assert m.stats.offered == 100                     # 50 kpps * 2 ms, constant, phase in (0,1)
    assert sum(w for n, w in seen if n == "backlog/0") == 100
    assert m.softnet[0].processed == 100 and m.stats.ipis_sent == 0
