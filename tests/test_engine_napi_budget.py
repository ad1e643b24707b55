"""net_rx_action() round robin between NAPIs on one CPU (kernel-facts.md section 4.3).

Exit rule: poll_list = (unprocessed part of the local list) + (NAPIs scheduled meanwhile) +
(repoll: NAPIs that used their full weight). So a NAPI that used its full weight goes behind
the ones not polled yet. NIC queues with hand-filled rings (no traffic generator) and IRQs on
CPU 0 make every poll's work exact.
"""
from __future__ import annotations

from engine_helpers import MS, TIME_SQUEEZE, PollTrace, eth, fill_ring, machine, make_flow, row


def nic_machine(queues: int, pkts: int):
    m = machine(cpus=2, devices=(eth(rx_queues=queues, irq_cpus=(0,) * queues),))
    f = make_flow(m, 0x12345678)
    trace = PollTrace(m)
    for rxq in m.netdevs["eth0"].rxqs:
        fill_ring(m, rxq, f, pkts)
        m.rxq_interrupt(rxq, m.cpus[0])       # scheduled in queue order: rx-0 first
    return m, trace


def short(names):
    return [n.rsplit("-", 1)[1] for n in names]      # "eth0-rx-1" -> "1"


def test_two_napis_default_budget_polled_alternately():
    m, trace = nic_machine(2, 320)
    m.run_for(5 * MS)
    m.check_conservation()
    # 320 = 5 * 64: each NAPI 5 full polls then one empty poll that completes it. Budget 300
    # never runs out with 2 polls per run (128): every run polls 0 then 1 -> 6 runs.
    assert short(trace.names()) == ["0", "1"] * 6
    assert trace.works() == [64] * 10 + [0, 0]
    assert m.cpus[0].net_rx_softirqs == 6
    assert row(m, 0)[TIME_SQUEEZE] == 0


def test_two_napis_budget_64_full_weight_goes_to_the_tail():
    m, trace = nic_machine(2, 300)
    m.set_sysctl("netdev_budget", 64)
    m.run_for(5 * MS)
    m.check_conservation()
    # Budget 64: one full poll per run, then squeeze. Run 1 polls 0 -> exit list = [1] + [] +
    # repoll [0] = [1, 0]; run 2 polls 1 -> [0, 1]; ... 300 = 4 * 64 + 44: after 8 runs
    # (4 full polls each), run 9 = [0, 1]: 0 polls 44 (64 - 44 = 20 > 0, completes), then 1
    # polls 44 (20 - 44 <= 0: squeeze, completes). 9 runs, 9 squeezes, strict alternation.
    assert short(trace.names()) == ["0", "1"] * 5
    assert trace.works() == [64] * 8 + [44, 44]
    assert m.cpus[0].net_rx_softirqs == 9
    assert row(m, 0)[TIME_SQUEEZE] == 9


def test_three_napis_budget_100_unpolled_napi_goes_first():
    m, trace = nic_machine(3, 192)
    m.set_sysctl("netdev_budget", 100)
    m.run_for(5 * MS)
    m.check_conservation()
    # 192 = 3 * 64 (3 full polls, then a 0-work poll completes). Budget 100: two full polls per
    # run (100 - 128 <= 0 -> squeeze). Run 1 [0,1,2]: 0, 1 -> exit [2] + repoll [0,1] = [2,0,1]
    # run 2: 2, 0 -> [1,2,0]; run 3: 1, 2 -> [0,1,2]; run 4: 0, 1 (their 3rd) -> [2,0,1];
    # run 5: 2 (64, 3rd), 0 (0, done), 1 (0, done), 36 left -> no squeeze, repoll [2];
    # run 6: 2 (0, done). Order is a strict 0,1,2 cycle; 6 runs, 4 squeezes.
    assert short(trace.names()) == ["0", "1", "2"] * 4
    assert trace.works() == [64] * 9 + [0, 0, 0]
    assert m.cpus[0].net_rx_softirqs == 6
    assert row(m, 0)[TIME_SQUEEZE] == 4
