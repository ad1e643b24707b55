"""Seed 000 as written on >= 6.0 trees strands remote backlogs; as intended it never does.

The stranding must come from the state rules (enqueue_to_backlog, napi_schedule_rps,
____napi_schedule, the thread's wait loop, process_backlog), and the stall detector must fire
exactly on stranded backlogs (docs/openwrt-freeze.md).
"""
import pytest

from procnet.engine import MachineConfig, Machine, NSEC_PER_MSEC, TrafficConfig
from procnet.engine.defs import NAPI_STATE_SCHED
from procnet.engine.softnet import reciprocal_scale

MS = NSEC_PER_MSEC


def router(variant: str, mask: int = 0xF, flows: int = 16, **kw) -> Machine:
    m = Machine(MachineConfig(felix_variant=variant, **kw))
    m.set_rps_cpus("eth0", 0, mask)
    m.add_traffic(TrafficConfig("t1", flows=flows, pps=300_000))
    return m


def rps_targets(m: Machine) -> set[int]:
    rxq = m.netdevs["eth0"].rxqs[0]
    return {rxq.rps_map[reciprocal_scale(f.hash, len(rxq.rps_map))]
            for f in m.traffic["t1"].flows}


def test_as_written_strands_every_remote_target_and_zero_does_not_recover():
    m = router("as-written")
    m.run_for(20 * MS)
    assert m.detect_stalls() == [] and m.stats.stalls_detected == 0   # stock: fine
    m.set_sysctl("backlog_threaded", 1)
    m.run_for(50 * MS)
    remote = rps_targets(m) - {0}
    assert remote, "the scenario needs flows steered away from the IRQ CPU"
    assert set(m.detect_stalls()) == remote
    for cpu in remote:
        sd = m.softnet[cpu]
        assert sd.backlog.state & NAPI_STATE_SCHED
        assert sd.backlog.on_poll_list < 0          # on no poll_list
        # the queue filled to netdev_max_backlog + 1, then everything was dropped
        assert len(sd.input_pkt_queue) == m.sysctl.netdev_max_backlog + 1
        assert sd.dropped > 0
    m.check_conservation()
    m.set_sysctl("backlog_threaded", 0)
    delivered = m.stats.delivered
    m.run_for(50 * MS)
    assert set(m.detect_stalls()) == remote           # writing 0 does not recover
    assert m.stats.stalls_detected == len(remote)     # each stall reported once
    assert all(len(m.softnet[c].input_pkt_queue) == 1001 for c in remote)
    assert m.stats.delivered > delivered              # CPU 0's own flows still flow
    assert any("backlog stall on cpu" in msg for _, msg in m.dmesg)
    m.check_conservation()


def test_intended_never_strands_across_toggles():
    m = router("intended")
    for i in range(20):
        m.set_sysctl("backlog_threaded", i % 2 == 0)
        m.run_for(5 * MS)
        assert m.detect_stalls() == []
        m.check_conservation()
    assert m.stats.stalls_detected == 0
    assert m.stats.dropped["backlog"] == 0


def test_busy_loop_appears_only_without_local_traffic():
    spins = {}
    for mask in (0xE, 0xF):
        m = router("as-written", mask=mask)
        m.set_sysctl("backlog_threaded", 1)
        m.run_for(100 * MS)
        t = next(t for t in m.task_list() if t.comm == "napi/backlog-0")
        spins[mask] = (t.spin_iters, t.runtime_ns)
    # RPS to CPUs 1-3 only: nothing ever sets SCHED on backlog 0, so its thread spins for good.
    assert spins[0xE][0] > 100_000 and spins[0xE][1] > 50 * MS
    # With local flows the first local packet ends each (rare) spin.
    assert spins[0xF][0] < 1000 and spins[0xF][1] < 50 * MS


STRESS = [("stock", {}), ("intended", {"felix": True}),
          ("mainline", {"thread_backlog_napi": True})]


@pytest.mark.parametrize("name,how", STRESS, ids=[s[0] for s in STRESS])
def test_detector_has_no_false_positives_under_stress(name, how):
    from procnet.engine import NetDeviceConfig
    m = router("intended", thread_backlog_napi=how.get("thread_backlog_napi", False))
    m.add_netdev(NetDeviceConfig("eth1", rx_queues=2, irq_cpus=(2, 3)))
    for q in range(2):
        m.set_rps_cpus("eth1", q, 0xF)
    m.add_traffic(TrafficConfig("t2", dev="eth1", flows=8, pps=400_000))
    for i in range(12):
        if how.get("felix"):
            m.set_sysctl("backlog_threaded", i % 3 != 2)
        cpu = 1 + i % 3
        m.cpu_down(cpu)
        m.run_for(3 * MS)
        m.check_conservation()
        m.cpu_up(cpu)
        m.run_for(3 * MS)
        m.check_conservation()
        assert m.detect_stalls() == []
    m.unregister_netdev("eth1")
    m.run_for(10 * MS)
    m.check_conservation()
    assert m.stats.stalls_detected == 0, m.dmesg
