"""Section 3: backlog_threaded 1/0 in a loop under traffic (the OpenWrt "froze and did not
recover" report, docs/openwrt-freeze.md), felix_variant "intended" (the default).

Eric Dumazet asked for exactly this test on the seed-000 thread. Every switch goes through
the file (backlog_threaded_sysctl: mutex, parse, backlog_set_threaded), with 16 flows RPS-spread
over all CPUs. After every switch, in both directions:

  * the file reads back the mode written;
  * delivery resumes: the first packet is delivered within RESUME_LIMIT_US of the switch, and
    within WINDOW_MS every flow has delivered again (a stranded backlog stops its flows);
  * no backlog stall is detected, and napi/backlog-N exists once per CPU: the thread count
    returns to N after every cycle (threads are created once and kept, v1 "fix kthread leak");
and every 50 cycles: conservation. Python memory (allocated blocks, objects) after the loop
stays within a small bound of the value after warm-up.

Quick: 500 cycles; full (PROCNET_FULL=1): 10,000.
"""
from __future__ import annotations

import time

from rel_common import bump, heap_sample, high, make_fs, pick, record

from procnet.engine.config import NSEC_PER_MSEC, NSEC_PER_USEC

SECTION = "toggle"
CYCLES = pick(500, 10_000)
WARMUP = 20
WINDOW_MS = 2
STEP_US = 25
RESUME_LIMIT_US = 1000
# After warm-up the loop must not keep allocating: generous against noise, far below what one
# leaked object per switch would cost over 10,000 cycles.
BLOCK_BOUND = 2_000
OBJECT_BOUND = 500


def test_backlog_threaded_toggle_loop_under_traffic():
    fs = make_fs("stock", cpus=4)
    m = fs.rt.machine
    assert fs.write("sys/class/net/eth0/queues/rx-0/rps_cpus", b"f\n", 0) == 2
    cmd = b"add t dev=eth0 flows=16 pps=100000 pattern=poisson\n"
    assert fs.write("procnet/traffic/ctl", cmd, 0) == len(cmd)
    flows = m.traffic["t"].flows
    m.run_for(5 * NSEC_PER_MSEC)
    tasks0 = None
    worst_resume_us = 0
    before = after = None
    t0 = time.perf_counter()
    for cycle in range(CYCLES):
        for value in (1, 0):
            delivered0 = m.stats.delivered
            per_flow0 = [f.delivered for f in flows]
            assert fs.write("backlog_threaded", b"%d\n" % value, 0) == 2
            assert fs.read_at("proc/sys/net/core/backlog_threaded", 0, 16) == b"%d\n" % value
            waited = 0
            while m.stats.delivered == delivered0:
                assert waited < RESUME_LIMIT_US, \
                    f"cycle {cycle}: nothing delivered {waited} us after writing {value}"
                m.run_for(STEP_US * NSEC_PER_USEC)
                waited += STEP_US
            worst_resume_us = max(worst_resume_us, waited)
            m.run_for(WINDOW_MS * NSEC_PER_MSEC - waited * NSEC_PER_USEC)
            stuck = [f.name for f, d in zip(flows, per_flow0) if f.delivered == d]
            assert not stuck, f"cycle {cycle}, after writing {value}: flows {stuck} stopped"
            assert m.detect_stalls() == [] and m.stats.stalls_detected == 0, m.dmesg[-3:]
        comms = [t.comm for t in m.task_list()]
        assert sorted(c for c in comms if c.startswith("napi/backlog-")) == \
            [f"napi/backlog-{n}" for n in range(4)]
        if tasks0 is None:
            tasks0 = len(comms)
        assert len(comms) == tasks0, "the thread count changed"
        if cycle % 50 == 0:
            m.check_conservation()
        if cycle == WARMUP:
            before = heap_sample(m)
    after = heap_sample(m)
    m.check_conservation()
    wall = time.perf_counter() - t0
    record(SECTION, "cycles (1 then 0)", CYCLES)
    record(SECTION, "switches", 2 * CYCLES)
    record(SECTION, "worst time to the first delivery after a switch (us)", worst_resume_us)
    record(SECTION, "window in which every flow delivered again (ms)", WINDOW_MS)
    record(SECTION, "threads after every cycle", tasks0)
    record(SECTION, "packets offered", m.stats.offered)
    record(SECTION, "conservation violations / stalls", 0)
    record(SECTION, "heap blocks growth after warm-up", after["blocks"] - before["blocks"])
    record(SECTION, "objects growth after warm-up", after["objects"] - before["objects"])
    record(SECTION, "RSS growth after warm-up (KiB)", after["rss_kib"] - before["rss_kib"])
    record(SECTION, "wall time (s)", round(wall, 1))
    assert after["blocks"] - before["blocks"] < BLOCK_BOUND, (before, after)
    assert after["objects"] - before["objects"] < OBJECT_BOUND, (before, after)
