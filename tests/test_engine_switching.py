"""Switching between stock and seed-000 threaded mode at any instant loses nothing, duplicates
nothing, and keeps each flow in order (a flow's packets share one backlog)."""
import random

import pytest

from procnet.engine import Machine, MachineConfig, NSEC_PER_USEC, TaskConfig, TrafficConfig


def traced_machine(pps: int) -> Machine:
    # A hog on a target CPU keeps backlogs non-empty, so switches land with packets queued,
    # spliced into process_queue, and in the middle of softirq or thread polls.
    m = Machine(MachineConfig(seed=3, tasks=(TaskConfig("hog", cpus=(2,)),)))
    m.set_rps_cpus("eth0", 0, 0b1110)
    m.add_traffic(TrafficConfig("t1", flows=6, pps=pps))
    m.delivery_trace = []
    return m


@pytest.mark.parametrize("pps", [300_000, 1_200_000])
def test_toggling_at_random_instants_keeps_every_packet_once_and_in_flow_order(pps):
    m = traced_machine(pps)
    rng = random.Random(7)
    switched_with_queue = 0
    for i in range(300):
        m.run_for(rng.randrange(1, 400) * NSEC_PER_USEC)
        if any(sd.qlen() for sd in m.softnet):
            switched_with_queue += 1
        m.set_sysctl("backlog_threaded", i % 2 == 0)
        m.check_conservation()
    m.set_sysctl("backlog_threaded", 0)
    m.run_for(20_000 * NSEC_PER_USEC)
    m.check_conservation()
    assert switched_with_queue > 100
    trace = m.delivery_trace
    assert len(trace) == m.stats.delivered
    assert len({(fid, t) for fid, t, _ in trace}) == len(trace), "a packet was delivered twice"
    last: dict[int, int] = {}
    for fid, arrival, _ in trace:
        assert arrival > last.get(fid, -1), f"flow {fid} reordered"
        last[fid] = arrival
    # every offered packet is delivered, dropped or still queued (nothing after 20 ms idle)
    offered, delivered, dropped, queued = m.conservation()
    assert queued < 100 and delivered + sum(dropped.values()) + queued == offered


@pytest.mark.parametrize("mode", ["stock", "backlog_threaded", "thread_backlog_napi"])
def test_no_cpu_idles_with_softirq_work_pending(mode):
    # Regression: migrating a task off a CPU in the middle of a hardirq once dropped the irq's
    # exit path, leaving NET_RX pending with nobody to run it (and the NIC ring full).
    m = Machine(MachineConfig(seed=5, thread_backlog_napi=mode == "thread_backlog_napi",
                              tasks=(TaskConfig("hog", cpus=(1,)),)))
    m.set_rps_cpus("eth0", 0, 0xF)
    m.add_traffic(TrafficConfig("t1", flows=8, pps=400_000))
    if mode == "backlog_threaded":
        m.set_sysctl("backlog_threaded", 1)
    m.run_for(200_000 * NSEC_PER_USEC)
    m.check_conservation()
    assert m.stats.softirq_stuck == 0, m.dmesg
    assert m.stats.dropped["ring_full"] == 0
