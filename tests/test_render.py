"""procnet.kernelfs.render: exact bytes of every procfs renderer.

Three kinds of checks:
  * hand-made expectations on machines whose counters are set by hand (full text compared);
  * recordings of a real Linux 6.18.44 x86_64 host (a 2-CPU KVM guest, `cat -A` checked), pasted
    below as HOST_*: where the engine can be given the host's counter values the output must be
    identical; elsewhere the layout must be (digit runs normalised, widths kept);
  * the parsing rules of the tools that read these files (prometheus/procfs, node_exporter,
    procps, sysstat): whitespace-split fields, fixed column counts, base-16/base-10 numbers.
"""
from __future__ import annotations

import re
import time

import pytest

from engine_helpers import make_flow

from procnet.engine.config import MachineConfig, NetDeviceConfig, TaskConfig, TrafficConfig
from procnet.engine.machine import Machine
from procnet.engine.sched import Task
from procnet.kernelfs import render

# ---------------------------------------------------------------------------------------------
# Recorded on Linux 6.18.44 x86_64 (KVM guest, 2 CPUs, CONFIG_HZ=250, USER_HZ=100).
# ---------------------------------------------------------------------------------------------
HOST_SOFTIRQS = (
    "                    CPU0       CPU1       \n"
    "          HI:          0          0\n"
    "       TIMER:      16422      11110\n"
    "      NET_TX:          4          0\n"
    "      NET_RX:       1812       1886\n"
    "       BLOCK:          0      74960\n"
    "    IRQ_POLL:          0          0\n"
    "     TASKLET:          2          0\n"
    "       SCHED:      41049      32772\n"
    "     HRTIMER:          0          0\n"
    "         RCU:      23629      31178\n"
)

HOST_INTERRUPTS_HEAD = (
    "           CPU0       CPU1       \n"
    " 24:          1          0  IO-APIC   5-edge      ACPI:Ged\n"
    " 37:          0          0 PCI-MSIX-0000:00:03.0   0-edge      virtio2-config\n"
    " 38:          0        651 PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0\n"
)

HOST_INTERRUPTS_ARCH = (
    "NMI:          0          0   Non-maskable interrupts\n"
    "LOC:      76460      80527   Local timer interrupts\n"
    "SPU:          0          0   Spurious interrupts\n"
    "PMI:          0          0   Performance monitoring interrupts\n"
    "IWI:          1          0   IRQ work interrupts\n"
    "RTR:          0          0   APIC ICR read retries\n"
    "RES:      15695       9191   Rescheduling interrupts\n"
    "CAL:    1333599    1327390   Function call interrupts\n"
    "TLB:       3001       2714   TLB shootdowns\n"
    "TRM:          0          0   Thermal event interrupts\n"
    "HYP:          2          2   Hypervisor callback interrupts\n"
    "ERR:          0\n"
    "MIS:          0\n"
    "PIN:          0          0   Posted-interrupt notification event\n"
    "NPI:          0          0   Nested posted-interrupt event\n"
    "PIW:          0          0   Posted-interrupt wakeup event\n"
)

# /proc/stat with the intr line cut to its first 26 numbers (the host has nr_irqs = 424: no
# legacy PIC on that VM; the emulated machine has one, so its line is longer).
HOST_STAT = (
    "cpu  22649 0 2863 180477 270 0 68 60 0 0\n"
    "cpu0 8500 0 1205 93409 7 0 24 33 0 0\n"
    "cpu1 14148 0 1657 87068 263 0 44 26 0 0\n"
    "intr 2813600 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1\n"
    "ctxt 6079870\n"
    "btime 1795305265\n"
    "processes 14341\n"
    "procs_running 1\n"
    "procs_blocked 0\n"
    "softirq 235463 0 27651 4 3698 74991 0 2 74155 0 54962\n"
)

HOST_SOFTNET = (
    "0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
    "00000000 00000000 00000000 00000000 00000000 00000000\n"
    "00000cbe 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
    "00000000 00000000 00000000 00000001 00000000 00000000\n"
)

HOST_KSOFTIRQD1_STAT = (
    "22 (ksoftirqd/1) S 2 0 0 0 -1 69238848 0 0 0 0 3 0 0 0 20 0 1 0 8 0 0 "
    "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
)

# The host's /proc/22/status reduced to the keys proc_pid_status() prints (order kept).
HOST_KSOFTIRQD1_STATUS = (
    "Name:\tksoftirqd/1\n"
    "Umask:\t0022\n"
    "State:\tS (sleeping)\n"
    "Tgid:\t22\n"
    "Ngid:\t0\n"
    "Pid:\t22\n"
    "PPid:\t2\n"
    "TracerPid:\t0\n"
    "Uid:\t0\t0\t0\t0\n"
    "Gid:\t0\t0\t0\t0\n"
    "FDSize:\t64\n"
    "Groups:\t \n"
    "NStgid:\t22\n"
    "NSpid:\t22\n"
    "NSpgid:\t0\n"
    "NSsid:\t0\n"
    "Kthread:\t1\n"
    "Threads:\t1\n"
    "Cpus_allowed:\t2\n"
    "Cpus_allowed_list:\t1\n"
    "voluntary_ctxt_switches:\t1289\n"
    "nonvoluntary_ctxt_switches:\t73\n"
)

# A watchdogd-like SCHED_FIFO kthread at rt_priority 50 on the same host printed
# "... 20 0 ..." -> "... -51 0 ..." (priority, nice) and "... 50 1 ..." (rt_priority, policy).


def shape(text: str) -> str:
    """For column-aligned files: replace every run of (spaces +) digits by spaces + "0" of the
    same length. Two texts with the same shape differ only in their numbers, not in layout."""
    return re.sub(r" *\d+", lambda mo: " " * (len(mo.group()) - 1) + "0", text)


def word_shape(text: str) -> str:
    """For space-separated files: every decimal number becomes "0", every 8-digit hex "h"."""
    return re.sub(r"\b\d+\b", "0", re.sub(r"\b[0-9a-f]{8}\b", "h", text))


def fresh(cpus: int = 2, **kw) -> Machine:
    return Machine(MachineConfig(cpus=cpus, **kw))


def busy(cpus: int = 4) -> Machine:
    m = Machine(MachineConfig(cpus=cpus))
    m.add_traffic(TrafficConfig("t", flows=2, pps=200_000))
    m.set_rps_cpus("eth0", 0, 0b1110)
    m.run_for(20_000_000)
    return m


def intr_line(total: int, nr: int, at: dict[int, int]) -> str:
    return "intr %d%s\n" % (total, "".join(" %d" % at.get(i, 0) for i in range(nr)))


# ---------------------------------------------------------------------------------------------
# /proc/net/softnet_stat
# ---------------------------------------------------------------------------------------------
def test_softnet_exact_hand_made():
    m = fresh(2)
    sd = m.softnet[1]
    sd.processed = 0x1234
    sd.dropped = 5
    sd.time_squeeze = 3
    sd.received_rps = 7
    m.set_flow_limit_cpu_bitmap(0b10)
    sd.flow_limit.count = 9
    f = make_flow(m, 1)                     # any flow: only the queue lengths are shown
    sd.input_pkt_queue.extend([(0, f)] * 2)
    sd.process_queue.extend([(0, f)] * 10)
    assert render.softnet_seq_show(m) == (
        "00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 "
        "00000000 00000000 00000000 00000000 00000000 00000000\n"
        "00001234 00000005 00000003 00000000 00000000 00000000 00000000 00000000 00000000 "
        "00000007 00000009 0000000c 00000001 00000002 0000000a\n")


def test_softnet_fresh_2cpu_has_host_shape():
    assert word_shape(render.softnet_seq_show(fresh(2))) == word_shape(HOST_SOFTNET)


def test_softnet_32bit_wrap_and_twos_complement():
    m = fresh(1)
    sd = m.softnet[0]
    sd.processed = (1 << 32) + 5
    sd.dropped = -1
    sd.time_squeeze = (1 << 40) | 0xDEADBEEF
    sd.received_rps = -2
    assert render.softnet_seq_show(m) == (
        "00000005 ffffffff deadbeef 00000000 00000000 00000000 00000000 00000000 00000000 "
        "fffffffe 00000000 00000000 00000000 00000000 00000000\n")


def test_softnet_offline_cpu_row_disappears_and_index_column_names_the_cpu():
    m = busy(4)
    m.cpu_down(2)
    lines = render.softnet_seq_show(m).splitlines()
    assert [int(line.split()[12], 16) for line in lines] == [0, 1, 3]
    m.cpu_up(2)
    lines = render.softnet_seq_show(m).splitlines()
    assert [int(line.split()[12], 16) for line in lines] == [0, 1, 2, 3]


def test_softnet_1024_cpus_fast_and_well_formed():
    m = Machine(MachineConfig(cpus=1024))
    t0 = time.perf_counter()
    text = render.softnet_seq_show(m)
    assert time.perf_counter() - t0 < 0.5
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 1025
    for i, line in enumerate(lines[:-1]):
        f = line.split(" ")
        assert len(f) == 15
        assert int(f[12], 16) == i
    # The other whole-machine files render quickly too.
    t0 = time.perf_counter()
    render.proc_stat_show(m, 0)
    render.softirqs_show(m)
    render.interrupts_show(m)
    assert time.perf_counter() - t0 < 2.0


SOFTNET_FIELD = re.compile(r"[0-9a-f]{8}")


def test_softnet_prometheus_procfs_rules_hold_under_traffic():
    # prometheus/procfs parseSoftnet: whitespace split, >= 13 fields, each
    # strconv.ParseUint(s, 16, 32); sysstat reads "%x %x %x" + skip 6 + "%x %x".
    m = busy(4)
    m.softnet[3].dropped = -7                     # a negative int still prints as 8 digits
    text = render.softnet_seq_show(m)
    assert text.endswith("\n") and "\n\n" not in text and "  " not in text
    rows = text.splitlines()
    assert len(rows) == 4
    for cpu, line in enumerate(rows):
        fields = line.split()
        assert len(fields) == 15
        assert all(SOFTNET_FIELD.fullmatch(f) for f in fields), line
        assert all(0 <= int(f, 16) <= 0xFFFFFFFF for f in fields)
        assert fields[3:9] == ["00000000"] * 6     # dead columns are literal zeros
        assert int(fields[12], 16) == cpu
        assert int(fields[11], 16) == int(fields[13], 16) + int(fields[14], 16)
    processed = sum(int(line.split()[0], 16) for line in rows)
    assert processed > 0


# ---------------------------------------------------------------------------------------------
# nr_irqs and the IRQ column width
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cpus,nr,prec", [(1, 256, 3), (2, 440, 3), (4, 456, 3), (64, 936, 3),
                                          (72, 1000, 4), (1024, 8616, 4)])
def test_nr_irqs_follows_arch_probe_nr_irqs(cpus, nr, prec):
    m = fresh(cpus)
    assert render.nr_irqs(m) == nr
    assert render.irq_prec(nr) == prec


# ---------------------------------------------------------------------------------------------
# /proc/stat
# ---------------------------------------------------------------------------------------------
def test_proc_stat_exact_hand_made():
    m = fresh(2)
    assert m.now_ns == 0
    m.add_task(TaskConfig("hog", cpus=(1,)))          # one runnable task, pid 1000
    c0, c1 = m.cpus
    c0.acct.update(user=1_234_567_890, system=20_000_000, irq=9_999_999, softirq=10_000_000,
                   idle=5_000_000_000)
    c1.acct.update(user=5_000_000, system=5_000_000, irq=0, softirq=25_000_000,
                   idle=6_000_000_000)
    c0.ctxt, c1.ctxt = 10, 32
    c0.net_rx_softirqs, c1.net_rx_softirqs = 100, (1 << 32) + 1   # per-CPU unsigned int
    c0.irqs.update(RES=0, CAL=6)
    c1.irqs.update(RES=4, CAL=0)
    rxq = m.netdevs["eth0"].rxqs[0]
    assert rxq.irq == 24
    rxq.irq_counts = {0: 11, 1: 3}
    text = render.proc_stat_show(m, 1_700_000_000)
    # user: (1_234_567_890 + 5_000_000) // 10_000_000 = 123; system 2; irq 0 (9.99 ms);
    # softirq (10 + 25 ms) -> 3; idle 1100. Per CPU each value is converted on its own.
    assert text == (
        "cpu  123 0 2 1100 0 0 3 0 0 0\n"
        "cpu0 123 0 2 500 0 0 1 0 0 0\n"
        "cpu1 0 0 0 600 0 0 2 0 0 0\n"
        + intr_line(14 + 4 + 6, 440, {24: 14})
        + "ctxt 42\nbtime 1700000000\nprocesses 3\nprocs_running 1\nprocs_blocked 0\n"
        "softirq 101 0 0 0 101 0 0 0 0 0 0\n")


def test_proc_stat_offline_cpu_leaves_cpu_lines_but_stays_in_totals():
    m = fresh(4)
    for c in m.cpus:
        c.acct["user"] = 100_000_000 * (c.id + 1)
    m.cpus[2].irqs["CAL"] = 5
    m.cpu_down(2)
    text = render.proc_stat_show(m, 0)
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["cpu", "cpu0", "cpu1", "cpu3"]
    assert lines[0].split()[1] == "100"                # 10+20+30+40 ticks, cpu2 included
    assert lines[4].split()[1] == "5"                  # cpu2's CAL still in the intr total


def test_proc_stat_matches_host_layout():
    m = fresh(2)
    text = render.proc_stat_show(m, 1795305265)
    lines = text.splitlines()
    intr = lines[3].split()
    assert len(intr) == 2 + render.nr_irqs(m)
    lines[3] = " ".join(intr[:27])
    assert word_shape("\n".join(lines) + "\n") == word_shape(HOST_STAT)


def test_proc_stat_parses_like_procfs_and_node_exporter():
    """prometheus/procfs stat.go / procps: split each line on whitespace; the first word names
    the line; every other word is a decimal integer."""
    m = busy(4)
    m.cpu_down(1)
    text = render.proc_stat_show(m, 1_700_000_000)
    assert text.endswith("\n") and "\n\n" not in text
    assert text.startswith("cpu  ")                    # procps scans "cpu  %llu ..."
    parsed = {}
    cpus = []
    for line in text.splitlines():
        key, *vals = line.split()
        assert all(re.fullmatch(r"\d+", v) for v in vals), line
        nums = [int(v) for v in vals]
        if key.startswith("cpu"):
            assert len(nums) == 10
            if key != "cpu":
                cpus.append((int(key[3:]), nums))
            else:
                parsed[key] = nums
        else:
            assert key not in parsed
            parsed[key] = nums
    assert [c for c, _ in cpus] == [0, 2, 3]
    assert set(parsed) == {"cpu", "intr", "ctxt", "btime", "processes", "procs_running",
                           "procs_blocked", "softirq"}
    for key in ("ctxt", "btime", "processes", "procs_running", "procs_blocked"):
        assert len(parsed[key]) == 1
    assert parsed["btime"] == [1_700_000_000]
    assert len(parsed["softirq"]) == 11
    assert parsed["softirq"][0] == sum(parsed["softirq"][1:])
    assert parsed["softirq"][4] > 0                    # NET_RX is the 4th softirq
    intr = parsed["intr"]
    assert len(intr) == 1 + render.nr_irqs(m)
    assert intr[1 + 24] == sum(m.netdevs["eth0"].rxqs[0].irq_counts.values()) > 0
    arch = sum(min(c.irqs.get(s, m.jiffies() if s == "LOC" else 0), 0xFFFFFFFF)
               for c in m.cpus for s in render.X86_INTR_SUMMED)
    assert intr[0] == sum(intr[1:]) + arch
    # The aggregate line is the sum in ns converted once: never below the sum of the rows,
    # at most one tick per possible CPU above it (cpu1 is offline but counted).
    for col in range(10):
        rows = sum(v[col] for _, v in cpus)
        assert rows <= parsed["cpu"][col] <= rows + 4 + 1


# ---------------------------------------------------------------------------------------------
# /proc/softirqs
# ---------------------------------------------------------------------------------------------
def test_softirqs_exact_hand_made_with_wrap():
    m = fresh(2)
    m.cpus[0].net_rx_softirqs = 1812
    m.cpus[1].net_rx_softirqs = (1 << 32) + 1886
    text = render.softirqs_show(m)
    expected = HOST_SOFTIRQS.splitlines(keepends=True)
    mine = text.splitlines(keepends=True)
    assert mine[0] == expected[0]                      # header: 20 spaces, "CPU%-8d" each
    assert mine[4] == expected[4] == "      NET_RX:       1812       1886\n"
    assert text == (
        "                    CPU0       CPU1       \n"
        "          HI:          0          0\n"
        "       TIMER:          0          0\n"
        "      NET_TX:          0          0\n"
        "      NET_RX:       1812       1886\n"
        "       BLOCK:          0          0\n"
        "    IRQ_POLL:          0          0\n"
        "     TASKLET:          0          0\n"
        "       SCHED:          0          0\n"
        "     HRTIMER:          0          0\n"
        "         RCU:          0          0\n")
    assert shape(text) == shape(HOST_SOFTIRQS)


def test_softirqs_shows_possible_cpus_even_offline():
    m = busy(4)
    before = m.cpus[2].net_rx_softirqs
    m.cpu_down(2)
    text = render.softirqs_show(m)
    header, *rows = text.splitlines()
    assert header.split() == ["CPU0", "CPU1", "CPU2", "CPU3"]
    net_rx = [r for r in rows if r.split()[0] == "NET_RX:"][0].split()[1:]
    assert int(net_rx[2]) == before


def test_softirqs_parses_like_procfs():
    """prometheus/procfs softirqs.go: header = CPU names; each row "NAME:" then one decimal per
    CPU; the NET_RX row agrees with the softirq line of /proc/stat."""
    m = busy(4)
    text = render.softirqs_show(m)
    header, *rows = text.splitlines()
    cpus = header.split()
    assert cpus == ["CPU%d" % i for i in range(4)]
    table = {}
    for row in rows:
        name, *vals = row.split()
        assert name.endswith(":")
        assert len(vals) == len(cpus) and all(v.isdigit() for v in vals)
        table[name[:-1]] = [int(v) for v in vals]
    assert list(table) == list(render.SOFTIRQ_NAMES)
    stat_softirq = render.proc_stat_show(m, 0).splitlines()[-1].split()
    assert stat_softirq[0] == "softirq"
    assert [int(v) for v in stat_softirq[2:]] == [sum(v) for v in table.values()]


# ---------------------------------------------------------------------------------------------
# /proc/interrupts
# ---------------------------------------------------------------------------------------------
def test_interrupts_arch_rows_match_host_bytes():
    m = fresh(2)
    host = {"LOC": (76460, 80527), "IWI": (1, 0), "RES": (15695, 9191),
            "CAL": (1333599, 1327390), "TLB": (3001, 2714), "HYP": (2, 2)}
    for sym, vals in host.items():
        for c, v in zip(m.cpus, vals):
            c.irqs[sym] = v
    text = render.interrupts_show(m)
    assert text.endswith(HOST_INTERRUPTS_ARCH)
    header = text.splitlines(keepends=True)[0]
    assert header == HOST_INTERRUPTS_HEAD.splitlines(keepends=True)[0]


def test_interrupts_exact_hand_made():
    m = fresh(2, devices=(NetDeviceConfig(name="eth0", rx_queues=2, irq_cpus=(0, 1)),
                          NetDeviceConfig(name="lo", irq_cpus=(), loopback=True)))
    q0, q1 = m.netdevs["eth0"].rxqs
    assert (q0.irq, q1.irq) == (24, 25)
    q0.irq_counts = {0: 651}
    q1.irq_counts = {0: 1, 1: (1 << 32) + 2}           # per-CPU unsigned int
    m.cpus[1].irqs["CAL"] = 7
    m.cpus[0].irqs["RES"] = 3
    text = render.interrupts_show(m)
    assert text.startswith(
        "           CPU0       CPU1       \n"
        " 24:        651          0 PCI-MSIX-0000:00:03.0   0-edge      eth0-rx-0\n"
        " 25:          1          2 PCI-MSIX-0000:00:03.0   1-edge      eth0-rx-1\n"
        "NMI:          0          0   Non-maskable interrupts\n"
        "LOC:          0          0   Local timer interrupts\n")
    assert "RES:          3          0   Rescheduling interrupts\n" in text
    assert "CAL:          0          7   Function call interrupts\n" in text
    assert "ERR:          0\nMIS:          0\n" in text
    assert len(text.splitlines()) == 3 + len(render.X86_ARCH_ROWS)
    assert shape(text.splitlines(keepends=True)[1]) == shape(
        HOST_INTERRUPTS_HEAD.splitlines(keepends=True)[3].replace("virtio2-input.0", "eth0-rx-0"))


def test_interrupts_loc_is_one_tick_per_jiffy():
    m = busy(2)
    loc = [line for line in render.interrupts_show(m).splitlines() if line.startswith("LOC:")][0]
    assert loc.split()[1:3] == [str(m.jiffies())] * 2


def test_interrupts_offline_cpu_column_disappears():
    m = busy(4)
    m.cpus[2].irqs["CAL"] = 99
    m.cpu_down(2)
    text = render.interrupts_show(m)
    header, *rows = text.splitlines()
    assert header.split() == ["CPU0", "CPU1", "CPU3"]
    for row in rows:
        name, *rest = row.split()
        if name in ("ERR:", "MIS:"):
            assert len(rest) == 1
        else:
            assert all(v.isdigit() for v in rest[:3]), row
    cal = [r for r in rows if r.startswith("CAL:")][0]
    assert "99" not in cal.split()


def test_interrupts_1024_cpus_uses_wider_irq_column():
    m = Machine(MachineConfig(cpus=1024))
    text = render.interrupts_show(m)
    header, first = text.splitlines()[:2]
    assert header.startswith(" " * 12 + "CPU0       ")
    assert first.startswith("  24:")
    assert text.splitlines()[-1].startswith(" PIW:")


def test_unregistered_device_has_no_row():
    m = fresh(2)
    m.add_netdev(NetDeviceConfig(name="eth1"))
    assert "eth1-rx-0" in render.interrupts_show(m)
    m.unregister_netdev("eth1")
    assert "eth1-rx-0" not in render.interrupts_show(m)


# ---------------------------------------------------------------------------------------------
# /proc/<pid>/stat, status, comm
# ---------------------------------------------------------------------------------------------
def host_like_ksoftirqd1() -> Task:
    t = Task(22, "ksoftirqd/1", "kthread", frozenset([1]), 1, per_cpu=True)
    t.utime_ns = 39_999_999                            # 3 ticks
    t.start_ns = 80_000_000                            # 8 ticks after boot
    t.nvcsw, t.nivcsw = 1289, 73
    return t


def test_pid_stat_matches_host_ksoftirqd_bytes():
    m = fresh(2)
    assert render.proc_pid_stat(m, host_like_ksoftirqd1()) == HOST_KSOFTIRQD1_STAT


def test_pid_status_matches_host_ksoftirqd_bytes():
    m = fresh(2)
    assert render.proc_pid_status(m, host_like_ksoftirqd1()) == HOST_KSOFTIRQD1_STATUS


def test_pid_stat_has_52_fields_for_every_task():
    m = busy(4)
    m.add_task(TaskConfig("hog", cpus=(1, 2)))
    m.add_task(TaskConfig("rt", cpus=(3,)), policy="fifo")
    m.dev_set_threaded("eth0", True)
    m.run_for(5_000_000)
    for t in m.task_list():
        line = render.proc_pid_stat(m, t)
        assert line.endswith("\n") and line.count("\n") == 1
        head, rest = line.rsplit(") ", 1)
        pid, comm = head.split(" (", 1)
        assert int(pid) == t.pid and comm == t.comm
        fields = [pid, comm] + rest.split()
        assert len(fields) == 52
        assert fields[2] == t.state
        assert int(fields[38]) == t.cpu                # field 39: processor
        assert int(fields[13]) == t.utime_ns // 10_000_000
        assert int(fields[14]) == t.stime_ns // 10_000_000


def test_pid_stat_user_and_fifo_tasks_exact():
    m = fresh(4)
    hog = m.add_task(TaskConfig("hog", cpus=(1, 2)))
    rt = m.add_task(TaskConfig("rt", cpus=(3,)), policy="fifo")
    assert (hog.pid, rt.pid, hog.state) == (1000, 1001, "R")
    hog.utime_ns, hog.stime_ns, hog.cpu = 250_000_000, 10_000_000, 2
    assert render.proc_pid_stat(m, hog) == (
        "1000 (hog) R 1 1000 1000 0 -1 4194304 0 0 0 0 25 1 0 0 20 0 1 0 0 0 0 "
        "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 2 0 0 0 0 0 0 0 0 0 0 0 0 0\n")
    assert render.proc_pid_stat(m, rt) == (
        "1001 (rt) R 1 1001 1001 0 -1 4194304 0 0 0 0 0 0 0 0 -51 0 1 0 0 0 0 "
        "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 3 50 1 0 0 0 0 0 0 0 0 0 0 0\n")


def test_pid_stat_flags_and_parents_of_kthreads():
    m = fresh(2)
    m.dev_set_threaded("eth0", True)
    by_comm = {t.comm: t for t in m.task_list()}
    napi = by_comm["napi/eth0-0"]
    f = render.proc_pid_stat(m, napi).rsplit(") ", 1)[1].split()
    assert f[1] == "2"                                 # ppid: kthreadd
    assert int(f[6]) == 0x208040                       # PF_KTHREAD|PF_NOFREEZE|PF_FORKNOEXEC
    k1 = by_comm["ksoftirqd/1"]
    f = render.proc_pid_stat(m, k1).rsplit(") ", 1)[1].split()
    assert int(f[6]) == 0x4208040                      # + PF_NO_SETAFFINITY (bound)
    assert render.proc_pid_stat(m, by_comm["ksoftirqd/0"]).split()[3] == "2"
    # pids 1 (init) and 2 (kthreadd) are children of the idle task: never their own parent.
    kthreadd = Task(2, "kthreadd", "kthread", frozenset([0, 1]), 0)
    assert render.proc_pid_stat(m, kthreadd).split()[3] == "0"


def test_pid_stat_parked_state_after_cpu_down():
    m = fresh(2)
    m.cpu_down(1)
    k1 = [t for t in m.task_list() if t.comm == "ksoftirqd/1"][0]
    assert render.proc_pid_stat(m, k1).split()[2] == "P"
    assert "State:\tP (parked)\n" in render.proc_pid_status(m, k1)


def test_pid_status_user_task_affinity_and_keys():
    m = fresh(40)
    hog = m.add_task(TaskConfig("hog", cpus=(1, 2, 3, 8, 39)))
    hog.nvcsw, hog.nivcsw = 5, 6
    text = render.proc_pid_status(m, hog)
    assert text == (
        "Name:\thog\n"
        "Umask:\t0022\n"
        "State:\tR (running)\n"
        "Tgid:\t1000\n"
        "Ngid:\t0\n"
        "Pid:\t1000\n"
        "PPid:\t1\n"
        "TracerPid:\t0\n"
        "Uid:\t0\t0\t0\t0\n"
        "Gid:\t0\t0\t0\t0\n"
        "FDSize:\t64\n"
        "Groups:\t \n"
        "NStgid:\t1000\n"
        "NSpid:\t1000\n"
        "NSpgid:\t1000\n"
        "NSsid:\t1000\n"
        "Kthread:\t0\n"
        "Threads:\t1\n"
        "Cpus_allowed:\t80,0000010e\n"
        "Cpus_allowed_list:\t1-3,8,39\n"
        "voluntary_ctxt_switches:\t5\n"
        "nonvoluntary_ctxt_switches:\t6\n")
    # procps / psutil read status as "Key:\tvalue" lines
    for line in text.splitlines():
        key, sep, value = line.partition(":\t")
        assert sep and key and " " not in key


def test_pid_status_1024_cpu_mask():
    m = Machine(MachineConfig(cpus=1024))
    k = [t for t in m.task_list() if t.comm == "ksoftirqd/1023"][0]
    text = render.proc_pid_status(m, k)
    mask = text.split("Cpus_allowed:\t", 1)[1].split("\n", 1)[0]
    assert mask == "80000000" + ",00000000" * 31
    assert "Cpus_allowed_list:\t1023\n" in text


def test_comm_and_name_escaping_and_truncation():
    m = fresh(1)
    t = m.add_task(TaskConfig("a-very-long-task-name"))
    assert render.proc_pid_comm(t) == "a-very-long-tas\n"   # TASK_COMM_LEN - 1 = 15 bytes
    assert "(a-very-long-tas)" in render.proc_pid_stat(m, t)
    t.comm = "we\\ird\nname"
    assert render.proc_pid_status(m, t).startswith("Name:\twe\\\\ird\\nname\n")
    assert render.proc_pid_comm(t) == "we\\ird\nname\n"        # comm is not escaped
    k = Task(7, "napi/a-really-long-device-name-7", "kthread", frozenset([0]), 0)
    assert render.proc_pid_comm(k) == "napi/a-really-long-device-name-7\n"   # kthread full name


def test_cmdline():
    assert render.cmdline_show(fresh(1)) == "\n"
    m = fresh(1, cmdline="thread_backlog_napi rps_default_mask=f")
    assert render.cmdline_show(m) == "thread_backlog_napi rps_default_mask=f\n"


# ---------------------------------------------------------------------------------------------
# Purity
# ---------------------------------------------------------------------------------------------
def test_renderers_are_pure():
    m = busy(4)
    m.add_task(TaskConfig("hog", cpus=(1,)))
    m.run_for(3_000_000)

    def everything() -> str:
        parts = [render.softnet_seq_show(m), render.proc_stat_show(m, 42),
                 render.softirqs_show(m), render.interrupts_show(m), render.cmdline_show(m)]
        for t in m.task_list():
            parts += [render.proc_pid_stat(m, t), render.proc_pid_status(m, t),
                      render.proc_pid_comm(t)]
        return "".join(parts)

    before = (m.now_ns, m.eq.next_time(), m.eq.events_run)
    first = everything()
    assert everything() == first
    assert (m.now_ns, m.eq.next_time(), m.eq.events_run) == before
