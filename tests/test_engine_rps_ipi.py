"""RPS IPIs and received_rps in the three backlog modes (kernel-facts.md sections 1, 2.4, 5.2, 5.3).

One flow at a constant 1000 pps, steered by rps_cpus = {2} from the NIC's CPU 0 to CPU 2. A
packet needs ~10 us end to end, so each one finds CPU 2's backlog empty and unscheduled: each
enqueue is an empty -> non-empty transition and schedules the backlog exactly once.

Packet count: a constant stream of 1000 pps started at t=0 with a phase in (0, 1) puts its
arrivals at (k + phase) ms, k = 0, 1, ...; in 20 ms that is k = 0..19 -> 20 packets.
"""
from __future__ import annotations

import pytest
from engine_helpers import MS, PROCESSED, RECEIVED_RPS, machine, row, task

from procnet.engine.config import TrafficConfig

N_PKTS = 20
TARGET = 2


def run_one_flow(m):
    m.set_rps_cpus("eth0", 0, 1 << TARGET)
    m.add_traffic(TrafficConfig("t", flows=1, pps=1000, pattern="constant"))
    m.run_for(20 * MS)
    m.del_traffic("t")
    m.run_for(1 * MS)                 # let the last packet finish
    m.check_conservation()
    assert m.stats.offered == N_PKTS
    assert m.stats.delivered == N_PKTS


def test_stock_one_ipi_per_packet():
    m = machine(cpus=4)
    run_one_flow(m)
    # Stock: each transition puts sd2 on CPU 0's rps_ipi_list; net_rx_action's exit sends one
    # IPI; rps_trigger_softirq on CPU 2 counts received_rps and polls the backlog there.
    assert m.stats.ipis_sent == N_PKTS
    assert row(m, TARGET)[RECEIVED_RPS] == N_PKTS
    assert [c.irqs["CAL"] for c in m.cpus] == [0, 0, N_PKTS, 0]   # /proc/interrupts CAL
    assert [row(m, c)[RECEIVED_RPS] for c in (0, 1, 3)] == [0, 0, 0]
    assert row(m, TARGET)[PROCESSED] == N_PKTS and row(m, 0)[PROCESSED] == 0
    assert m.cpus[TARGET].net_rx_softirqs == N_PKTS          # one NET_RX per IPI


@pytest.mark.parametrize("mode", ["felix", "mainline"])
def test_threaded_modes_no_ipi_thread_wakeups(mode):
    if mode == "felix":
        m = machine(cpus=4)
        m.set_sysctl("backlog_threaded", 1)
        thread = task(m, f"napi/backlog-{TARGET}")
    else:
        m = machine(cpus=4, thread_backlog_napi=True)
        thread = task(m, f"backlog_napi/{TARGET}")
    run_one_flow(m)
    # Threaded backlog: no IPI list, the target's thread is woken directly once per
    # transition; received_rps (column 10) stays 0 everywhere.
    assert m.stats.ipis_sent == 0
    assert [row(m, c)[RECEIVED_RPS] for c in range(4)] == [0, 0, 0, 0]
    assert [c.irqs["CAL"] for c in m.cpus] == [0, 0, 0, 0]
    assert thread.wakeups == N_PKTS
    assert thread.runtime_ns > 0
    # The thread ran on CPU 2 (idle, its creation CPU), where processed is counted.
    assert row(m, TARGET)[PROCESSED] == N_PKTS
    assert m.cpus[TARGET].net_rx_softirqs == 0                 # no softirq polled it
    assert row(m, TARGET)[2] == 0                                # no time_squeeze in threads
