"""Section 4: CPU hotplug and device unregister under load, in every mode.

All through the files (cpuN/online, procnet/net/ctl, tasks/ctl, rps_cpus, traffic/ctl), with
16 flows RPS-spread over 4 CPUs at 100 kpps, in stock, seed000 (backlog_threaded=1) and seed002
(thread_backlog_napi):

  * hotplug: take CPU k (1..3 in turn) offline and back. softnet_stat shows the online CPUs;
    the dead CPU's queues are re-injected at once (stock, seed002) or drained by its unbound
    thread within the window (seed000); per-CPU threads park and unpark; delivery goes on
    after each transition; conservation holds; no stall.
  * unregister: add eth1 (2 queues, threaded NAPI every other cycle) with traffic, run, then
    `del eth1`. Nothing of eth1 is delivered afterwards (delivered_after_unregister == 0, its
    flows' counters freeze), its napi/eth1-N threads are gone, eth0 keeps delivering, the
    thread count returns to its value before the cycle.
  * seed 000's flush_backlog wait with a stalled thread: napi/backlog-N pinned to CPU N
    (`affinity`) under a SCHED_FIFO hog there (`add rt cpus=N policy=fifo`), with eth1's
    packets in CPU N's process_queue. The wait must be reported -- UnregisterResult.error,
    the dmesg line "INFO: task unregister blocked", ETIMEDOUT from the net/ctl write -- and
    end within a bounded wall time; afterwards the machine recovers.

Quick: 50 cycles each (6 stalled waits); full (PROCNET_FULL=1): 1,000 (100 stalled waits).
"""
from __future__ import annotations

import errno
import time

import pytest
from rel_common import MODES, bump, heap_sample, high, make_fs, pick, record

from procnet.engine.config import NSEC_PER_MSEC, NSEC_PER_USEC
from procnet.engine.sched import PARKED

SECTION = "hotplug_unregister"
CYCLES = pick(50, 1000)
STALLED = pick(6, 100)
CPUS = 4
WALL_BOUND_S = 10.0       # one stalled unregister (2 s of virtual msleep(1) loop) in wall time


def loaded(mode: str, pps: int = 100_000):
    fs = make_fs(mode, cpus=CPUS)
    w(fs, "sys/class/net/eth0/queues/rx-0/rps_cpus", "f")
    w(fs, "procnet/traffic/ctl", f"add t dev=eth0 flows=16 pps={pps}")
    fs.rt.machine.run_for(5 * NSEC_PER_MSEC)
    return fs, fs.rt.machine


def w(fs, path: str, text: str, err: int | None = None) -> None:
    data = (text + "\n").encode()
    if err is None:
        assert fs.write(path, data, 0) == len(data), (path, text)
        return
    with pytest.raises(OSError) as e:
        fs.write(path, data, 0)
    assert e.value.errno == err, (path, text, e.value)


def rows(fs) -> list[int]:
    return [int(line.split()[12], 16) for line in fs.read("proc/net/softnet_stat").decode().splitlines()]


def comms(m) -> list[str]:
    return [t.comm for t in m.task_list()]


def task(m, comm: str):
    found = [t for t in m.task_list() if t.comm == comm]
    assert len(found) == 1, (comm, found)
    return found[0]


def run_delivering(m, ms: float = 1) -> None:
    d0 = m.stats.delivered
    m.run_for(int(ms * NSEC_PER_MSEC))
    assert m.stats.delivered > d0, "delivery stopped"


@pytest.mark.parametrize("mode", MODES)
def test_hotplug_cycles_under_load(mode):
    fs, m = loaded(mode)
    before = None
    for cycle in range(CYCLES):
        k = 1 + cycle % (CPUS - 1)
        w(fs, f"sys/devices/system/cpu/cpu{k}/online", "0")
        online = [c for c in range(CPUS) if c != k]
        assert rows(fs) == online
        assert fs.read("sys/devices/system/cpu/online").decode() == \
            ("0,2-3\n" if k == 1 else "0-1,3\n" if k == 2 else "0-2\n")
        sd = m.softnet[k]
        if mode != "seed000":                     # re-injected by dev_cpu_dead at once
            assert sd.qlen() == 0 and not sd.poll_list
        assert task(m, f"ksoftirqd/{k}").state == PARKED
        if mode == "seed002":
            assert task(m, f"backlog_napi/{k}").state == PARKED
        run_delivering(m)
        if mode == "seed000":                     # the unbound thread drained it elsewhere
            assert sd.qlen() == 0, f"cycle {cycle}: cpu{k} still holds {sd.qlen()}"
        m.check_conservation()
        w(fs, f"sys/devices/system/cpu/cpu{k}/online", "1")
        assert rows(fs) == list(range(CPUS))
        assert task(m, f"ksoftirqd/{k}").state != PARKED
        if mode == "seed002":
            assert task(m, f"backlog_napi/{k}").state != PARKED
        run_delivering(m)
        m.check_conservation()
        assert m.stats.stalls_detected == 0, m.dmesg[-3:]
        if mode == "seed000":
            assert sorted(c for c in comms(m) if c.startswith("napi/backlog-")) == \
                [f"napi/backlog-{n}" for n in range(CPUS)]
        if cycle == 5:
            before = heap_sample(m)
    after = heap_sample(m)
    assert m.stats.delivered_after_unregister == 0
    record(SECTION, f"hotplug cycles per mode", CYCLES)
    record(SECTION, f"hotplug {mode}: packets offered", m.stats.offered)
    record(SECTION, f"hotplug {mode}: heap blocks growth", after["blocks"] - before["blocks"])
    assert after["blocks"] - before["blocks"] < 2_000


@pytest.mark.parametrize("mode", MODES)
def test_unregister_cycles_under_load(mode):
    fs, m = loaded(mode)
    tasks0 = len(comms(m))
    before = None
    for cycle in range(CYCLES):
        w(fs, "procnet/net/ctl", "add eth1 rxqueues=2 irq=1,2")
        w(fs, "sys/class/net/eth1/queues/rx-0/rps_cpus", "f")
        w(fs, "sys/class/net/eth1/queues/rx-1/rps_cpus", "6")
        if cycle % 2:
            w(fs, "sys/class/net/eth1/threaded", "1")
            assert sorted(c for c in comms(m) if c.startswith("napi/eth1-")) == \
                ["napi/eth1-0", "napi/eth1-1"]
        w(fs, "procnet/traffic/ctl", f"add u{cycle} dev=eth1 flows=8 pps=100000")
        eth1_flows = m.traffic[f"u{cycle}"].flows
        m.run_for(NSEC_PER_MSEC + cycle % 7 * 100 * NSEC_PER_USEC)   # vary the moment
        w(fs, "procnet/net/ctl", "del eth1")
        assert "eth1" not in fs.listdir("sys/class/net")
        assert f"u{cycle}" not in fs.read("procnet/traffic/ctl").decode()
        frozen = [f.delivered for f in eth1_flows]
        assert not [c for c in comms(m) if c.startswith("napi/eth1-")]
        assert len(comms(m)) == tasks0, "a thread of eth1 outlived it"
        run_delivering(m)
        assert [f.delivered for f in eth1_flows] == frozen, "delivered after unregister"
        assert m.stats.delivered_after_unregister == 0
        m.check_conservation()
        assert m.stats.stalls_detected == 0, m.dmesg[-3:]
        if cycle == 5:
            before = heap_sample(m)
    after = heap_sample(m)
    record(SECTION, "unregister cycles per mode", CYCLES)
    record(SECTION, f"unregister {mode}: packets offered", m.stats.offered)
    record(SECTION, f"unregister {mode}: delivered after unregister", 0)
    # Engine finding (docs/reliability.md): Machine.flows keeps the Flow objects of removed
    # traffic and devices, 8 per cycle here (~100 heap blocks). Anything beyond that is a leak.
    growth = after["blocks"] - before["blocks"]
    record(SECTION, f"unregister {mode}: heap blocks growth", growth)
    record(SECTION, f"unregister {mode}: flows kept by the engine", len(m.flows))
    assert growth < 160 * (CYCLES - 5), growth


def _pid_of(fs, comm: str) -> int:
    for name in fs.listdir("proc"):
        if name.isdigit() and fs.read(f"proc/{name}/comm").decode().strip() == comm:
            return int(name)
    raise AssertionError(f"no task {comm}")


def test_seed000_flush_wait_with_a_stalled_thread_is_reported_and_bounded():
    fs, m = loaded("seed000", pps=20_000)     # the wait simulates 2 s: keep eth0 light
    n = 2
    pid = _pid_of(fs, f"napi/backlog-{n}")
    sd = m.softnet[n]
    worst = 0.0
    reported = 0
    for cycle in range(STALLED):
        w(fs, "procnet/net/ctl", "add eth1 irq=1")
        w(fs, "sys/class/net/eth1/queues/rx-0/rps_cpus", f"{1 << n:x}")
        # 2 Mpps to one CPU: more than its thread can take, so process_queue stays deep
        w(fs, "procnet/traffic/ctl", f"add s{cycle} dev=eth1 flows=4 pps=2000000")
        w(fs, "procnet/tasks/ctl", f"affinity {pid} {n}")
        # Let the thread splice a deep backlog, then starve it mid-drain with a FIFO hog.
        for _ in range(400):
            m.run_for(20 * NSEC_PER_USEC)
            if len(sd.process_queue) > 0 and len(sd.input_pkt_queue) > 64:
                break
        w(fs, "procnet/tasks/ctl", f"add rt{cycle} cpus={n} policy=fifo")
        m.run_for(200 * NSEC_PER_USEC)
        if not any(p[1].dev.name == "eth1" for p in sd.process_queue):
            bump(SECTION, "stalled-wait set-ups retried")
            w(fs, "procnet/tasks/ctl", f"del rt{cycle}")
            w(fs, "procnet/net/ctl", "del eth1")
            continue
        dmesg0 = len(m.dmesg)
        t0 = time.perf_counter()
        if cycle % 2 == 0:
            res = m.unregister_netdev("eth1")               # the engine API
            assert res.error and f"napi/backlog-{n}" in res.error, res
            assert res.waited_ns == m.cfg.flush_wait_limit_ns
        else:
            w(fs, "procnet/net/ctl", "del eth1", err=errno.ETIMEDOUT)   # the file
        took = time.perf_counter() - t0
        worst = max(worst, took)
        assert took < WALL_BOUND_S, f"the bounded wait took {took:.1f} s of wall time"
        new = [msg for _, msg in m.dmesg[dmesg0:]]
        assert any(msg.startswith("INFO: task unregister blocked") and f"cpu{n}" in msg
                   for msg in new), new
        reported += 1
        # recovery: the hog goes, the thread may run anywhere again, delivery goes on
        w(fs, "procnet/tasks/ctl", f"del rt{cycle}")
        w(fs, "procnet/tasks/ctl", f"affinity {pid} 0-3")
        run_delivering(m, 2)
        assert m.stats.delivered_after_unregister == 0
        m.check_conservation()
        assert m.stats.stalls_detected == 0
    assert reported >= STALLED // 2, f"only {reported} of {STALLED} set-ups stalled the thread"
    record(SECTION, "seed000 stalled flush waits reported", reported)
    record(SECTION, "seed000 stalled flush wait: virtual wait (ms)",
           m.cfg.flush_wait_limit_ns // NSEC_PER_MSEC)
    record(SECTION, "seed000 stalled flush wait: worst wall time (s)", round(worst, 3))
