"""Every file family of a real procnet mount, through real shell clients.

The daemon is the real one (`procnet mount MNT --background --clock manual`); the clients are
bash `cat`, `echo`, `printf`, `head`, `ls` and Python os calls. Time moves only when a test
writes procnet/clock/advance, so every number here is deterministic.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import time

import pytest
from mount_helpers import PROCNET, mounted, softnet_rows

from procnet.kernelfs.cpumask import bitmap_string
from procnet.kernelfs.proc_handlers import SYSCTL_SPECS
from procnet.kernelfs.table import TABLE

CPUS = 4
CORE = "proc/sys/net/core"
SOFTNET_LINE = re.compile(r"^(?:[0-9a-f]{8} ){14}[0-9a-f]{8}$")
ENTRY_TIMEOUT_S = 0.5  # glue.ENTRY_TIMEOUT_S: how long a removed name may stay in the dcache


@pytest.fixture
def m(fuse_env):
    """A fresh machine per test."""
    with mounted("--clock", "manual", "--cpus", str(CPUS)) as mnt:
        yield mnt


@pytest.fixture(scope="module")
def shared(fuse_env):
    """One machine for the parametrized tests; each of them touches a different file or
    changes nothing."""
    with mounted("--clock", "manual", "--cpus", str(CPUS)) as mnt:
        yield mnt


def sh_ok(m, script: str) -> str:
    return m.sh(script, check=True).stdout


def sh_fails(m, script: str, message: str) -> str:
    proc = m.sh(script)
    assert proc.returncode != 0, f"{script!r} succeeded: {proc.stdout!r}"
    assert message in proc.stderr, f"{script!r}: {proc.stderr!r}"
    return proc.stderr


def ls(m, rel: str) -> list[str]:
    return sh_ok(m, f"ls -1 {rel}").split()


# ---------------------------------------------------------------- the tree


def test_root_and_directories_list_like_the_table(shared):
    m = shared
    assert ls(m, ".") == ["backlog_threaded", "proc", "procnet", "sys"]
    assert ls(m, "proc/sys/net/core") == sorted(SYSCTL_SPECS)
    assert ls(m, "sys/devices/system/cpu") == ["cpu0", "cpu1", "cpu2", "cpu3", "offline",
                                                "online", "possible", "present"]
    assert ls(m, "sys/class/net") == ["eth0", "lo"]
    assert ls(m, "sys/class/net/eth0") == ["queues", "threaded"]
    assert ls(m, "sys/class/net/eth0/queues/rx-0") == ["rps_cpus", "rps_flow_cnt"]
    assert ls(m, "sys/devices/system/cpu/cpu1") == ["online"]
    assert ls(m, "sys/devices/system/cpu/cpu0") == []  # x86: no cpu0/online
    stat = sh_ok(m, "stat -c '%a %s %F' backlog_threaded proc/net/softnet_stat "
                    "procnet/clock/advance proc").splitlines()
    assert stat == ["644 0 regular empty file", "444 0 regular empty file",
                    "200 0 regular empty file", "555 0 directory"]


def test_every_table_path_is_reachable(shared):
    m = shared
    """Each table entry, with its placeholders bound to a live object, can be stat'ed."""
    binds = {"<pid>": "3", "<dev>": "eth0", "<rxq>": "rx-0", "<cpu>": "cpu1"}
    for entry in TABLE:
        rel = "/".join(binds.get(part, part) for part in entry.path.split("/"))
        mode = os.stat(m / rel).st_mode & 0o777
        assert mode == entry.mode, rel


def test_unknown_paths_give_enoent(shared):
    m = shared
    for rel in ("nope", "proc/nope", "proc/999999/comm", "sys/class/net/eth9/threaded",
                "sys/class/net/eth0/queues/rx-7/rps_cpus", "sys/devices/system/cpu/cpu4/online",
                "proc/sys/net/core/somaxconn", "procnet/model/nope"):
        with pytest.raises(FileNotFoundError):
            os.stat(m / rel)
        sh_fails(m, f"cat {rel}", "No such file or directory")
    sh_fails(m, "echo 1 > proc/sys/net/core/somaxconn", "No such file or directory")
    sh_fails(m, "ls proc/sys/net/nope", "No such file or directory")


def test_write_to_read_only_files_is_refused_even_for_root(shared):
    m = shared
    assert os.geteuid() == 0
    readonly = [e.path for e in TABLE if not e.mode & 0o222]
    assert "proc/net/softnet_stat" in readonly and "procnet/stats.json" in readonly
    for rel in readonly:
        rel = rel.replace("<pid>", "3")
        sh_fails(m, f"echo 1 > {rel}", "Permission denied")
        with pytest.raises(PermissionError):
            os.open(m / rel, os.O_WRONLY)
    sh_fails(m, "cat procnet/clock/advance", "Permission denied")  # 0200: write-only


def test_tree_changes_are_refused(shared):
    m = shared
    sh_fails(m, "mkdir proc/new", "Operation not permitted")
    sh_fails(m, "rm proc/net/softnet_stat", "Operation not permitted")
    sh_fails(m, "chmod 666 backlog_threaded", "Operation not permitted")
    sh_ok(m, "touch backlog_threaded")  # accepted, no effect (as on procfs)


# ---------------------------------------------------------------- proc/sys/net/core


WRITES = {  # file -> (what echo writes, what cat reads back)
    "netdev_max_backlog": ("300", "300"),
    "dev_weight": ("32", "32"),
    "dev_weight_rx_bias": ("2", "2"),
    "dev_weight_tx_bias": ("3", "3"),
    "netdev_budget": ("600", "600"),
    "netdev_budget_usecs": ("10000", "10000"),
    "netdev_tstamp_prequeue": ("0", "0"),
    "rps_sock_flow_entries": ("100", "128"),  # rounded up to a power of two
    "flow_limit_cpu_bitmap": ("5", "5"),
    "flow_limit_table_len": ("8192", "8192"),
    "rps_default_mask": ("e", "e"),
    "busy_poll": ("50", "50"),
    "busy_read": ("50", "50"),
    "gro_normal_batch": ("16", "16"),
    "skb_defer_max": ("128", "128"),
    "backlog_threaded": ("1", "1"),
}


def test_sysctls_read_their_kernel_defaults(m):
    assert set(WRITES) == set(SYSCTL_SPECS)
    for name, spec in SYSCTL_SPECS.items():
        want = bitmap_string(spec.default, CPUS) if spec.ctype == "cpumask" else str(spec.default)
        assert sh_ok(m, f"cat {CORE}/{name}") == want + "\n", name
    assert m.read(f"{CORE}/netdev_budget_usecs") == "8000\n"  # 2 * USEC_PER_SEC / HZ(250)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_echo_then_cat_every_sysctl(shared, name):
    value, back = WRITES[name]
    assert sh_ok(shared, f"echo {value} > {CORE}/{name} && cat {CORE}/{name}") == back + "\n"


def test_sysctl_write_styles(m):
    f = f"{CORE}/netdev_max_backlog"
    assert sh_ok(m, f"printf 7 > {f}; cat {f}") == "7\n"
    # two writes on one open file: the second one (at offset 2) is ignored, as on procfs
    assert sh_ok(m, f"(echo 4; echo 5) > {f}; cat {f}") == "4\n"
    assert sh_ok(m, f"echo 33 >> {f}; cat {f}") == "33\n"  # O_APPEND is ignored
    assert sh_ok(m, f"echo '  77  ' > {f}; cat {f}") == "77\n"
    assert sh_ok(m, f"echo 88 99 > {f}; cat {f}") == "88\n"  # short write, tail ignored
    assert sh_ok(m, f"echo 0x10 > {f}; cat {f}") == "16\n"
    with open(m / f, "w") as fh:  # Python text I/O: one write at close
        fh.write("123\n")
    assert m.read(f) == "123\n"
    assert sh_ok(m, f"head -c 2 {f}; echo; head -n 1 {f}") == "12\n123\n"


def test_sysctl_parse_errors_reach_the_shell(m):
    f = f"{CORE}/netdev_max_backlog"
    for bad in ("abc", "+5", "1.5", "99999999999", "1junk"):
        sh_fails(m, f"echo {bad} > {f}", "Invalid argument")
    sh_fails(m, f"echo 0 > {CORE}/dev_weight", "Invalid argument")  # minimum 1
    sh_fails(m, f"echo 3 > {CORE}/flow_limit_table_len", "Invalid argument")  # power of two
    sh_fails(m, f"echo 2 > {CORE}/backlog_threaded", "Invalid argument")
    sh_fails(m, f"echo 10 > {CORE}/rps_default_mask", "Value too large")  # bit 4 of 4 CPUs
    sh_fails(m, f"echo zz > {CORE}/flow_limit_cpu_bitmap", "Invalid argument")
    assert m.read(f) == "1000\n"
    assert m.read(f"{CORE}/backlog_threaded") == "0\n"


def test_root_backlog_threaded_is_the_sysctl(m):
    sysctl = f"{CORE}/backlog_threaded"
    assert sh_ok(m, f"cat backlog_threaded {sysctl}") == "0\n0\n"
    sh_ok(m, "echo 1 > backlog_threaded")
    assert sh_ok(m, f"cat backlog_threaded {sysctl}") == "1\n1\n"
    assert m.stats()["mode"] == "backlog_threaded"
    sh_ok(m, f"echo 0 > {sysctl}")
    assert sh_ok(m, f"cat backlog_threaded {sysctl}") == "0\n0\n"
    assert m.stats()["mode"] == "stock"
    # threads made on the first enable are kept, one per CPU
    comms = [m.read(f"proc/{p}/comm").strip() for p in ls(m, "proc") if p.isdigit()]
    assert sorted(c for c in comms if c.startswith("napi/backlog-")) == \
        [f"napi/backlog-{n}" for n in range(CPUS)]


# ---------------------------------------------------------------- proc/net/softnet_stat & co.


def test_softnet_stat_is_byte_exact(shared):
    m = shared
    text = sh_ok(m, "cat proc/net/softnet_stat")
    assert text.endswith("\n") and len(text.splitlines()) == CPUS
    for cpu, line in enumerate(text.splitlines()):
        assert SOFTNET_LINE.match(line), line
        assert line == " ".join(["00000000"] * 12 + ["%08x" % cpu, "00000000", "00000000"])
    assert sh_ok(m, "head -c 8 proc/net/softnet_stat") == "00000000"


def test_softnet_stat_counts_traffic_and_rps(m):
    sh_ok(m, "echo e > sys/class/net/eth0/queues/rx-0/rps_cpus")
    sh_ok(m, 'echo "add t1 dev=eth0 flows=8 pps=200000" > procnet/traffic/ctl')
    m.advance("20ms")
    text = m.read("proc/net/softnet_stat")
    rows = softnet_rows(text)
    assert all(SOFTNET_LINE.match(line) for line in text.splitlines())
    for cpu, row in enumerate(rows):
        assert len(row) == 15 and row[3:9] == [0] * 6
        assert row[12] == cpu and row[11] == row[13] + row[14]
    # RPS moves every packet off the IRQ CPU 0: the targets process them and count the IPIs
    assert rows[0][0] == 0 and rows[0][9] == 0
    assert sum(r[0] for r in rows[1:]) > 0 and sum(r[9] for r in rows[1:]) > 0
    stats = m.stats()
    assert stats["offered"] > 0 and stats["ipis"] > 0


def test_proc_stat_softirqs_interrupts_cmdline(m):
    sh_ok(m, 'echo "add t1 dev=eth0 flows=2 pps=100000" > procnet/traffic/ctl')
    m.advance("40ms")
    stat = sh_ok(m, "cat proc/stat").splitlines()
    assert stat[0].startswith("cpu  ") and len(stat[0].split()) == 11
    assert [line.split()[0] for line in stat[1:1 + CPUS]] == [f"cpu{n}" for n in range(CPUS)]
    keys = [line.split()[0] for line in stat[1 + CPUS:]]
    assert keys == ["intr", "ctxt", "btime", "processes", "procs_running", "procs_blocked",
                    "softirq"]
    softirq = stat[-1].split()  # softirq TOTAL HI TIMER NET_TX NET_RX ...
    assert len(softirq) == 12 and int(softirq[5]) > 0 and int(softirq[1]) == int(softirq[5])
    softirqs = sh_ok(m, "cat proc/softirqs").splitlines()
    assert softirqs[0].split() == [f"CPU{n}" for n in range(CPUS)]
    assert softirqs[4].split()[0] == "NET_RX:" and int(softirqs[4].split()[1]) > 0
    interrupts = sh_ok(m, "cat proc/interrupts")
    assert interrupts.splitlines()[0].split() == [f"CPU{n}" for n in range(CPUS)]
    assert re.search(r"^ *\d+: +[1-9]\d* .*PCI-MSIX-0000:00:03\.0 .*eth0-rx-0$", interrupts, re.M)
    assert sh_ok(m, "cat proc/cmdline").startswith("BOOT_IMAGE=")


def test_cmdline_and_boot_threads_of_thread_backlog_napi(fuse_env):
    with mounted("--clock", "manual", "--cpus", "2", "--cmdline", "thread_backlog_napi") as m:
        assert m.read("proc/cmdline").rstrip("\n").endswith(" thread_backlog_napi")
        comms = sorted(m.read(f"proc/{p}/comm").strip() for p in ls(m, "proc") if p.isdigit())
        assert comms == ["backlog_napi/0", "backlog_napi/1", "ksoftirqd/0", "ksoftirqd/1"]
        sh_fails(m, "echo 1 > backlog_threaded", "Operation not supported")
        assert m.stats()["mode"] == "thread_backlog_napi"


# ---------------------------------------------------------------- proc/<pid>


def test_pid_directories_follow_tasks(m):
    before = ls(m, "proc")
    pids = [p for p in before if p.isdigit()]
    assert sorted(m.read(f"proc/{p}/comm") for p in pids) == \
        [f"ksoftirqd/{n}\n" for n in range(CPUS)]
    sh_ok(m, 'echo "add hog cpus=1" > procnet/tasks/ctl')
    new = sorted(set(ls(m, "proc")) - set(before))
    assert len(new) == 1
    pid = new[0]
    assert ls(m, f"proc/{pid}") == ["comm", "stat", "status"]
    assert sh_ok(m, f"cat proc/{pid}/comm") == "hog\n"
    m.advance("10ms")
    stat = m.read(f"proc/{pid}/stat")
    assert stat.startswith(f"{pid} (hog) ") and len(stat.split()) == 52
    assert stat.split()[38] == "1"  # processor: it runs on its only allowed CPU
    status = dict(line.split(":\t", 1) for line in m.read(f"proc/{pid}/status").splitlines())
    assert status["Name"] == "hog" and status["Cpus_allowed_list"] == "1"
    # comm_write() lets only the task's own thread group rename it: EINVAL for us, as on Linux
    sh_fails(m, f"echo renamed > proc/{pid}/comm", "Invalid argument")
    assert m.read(f"proc/{pid}/comm") == "hog\n"
    sh_ok(m, 'echo "del hog" > procnet/tasks/ctl')
    assert ls(m, "proc") == before
    sh_fails(m, f"cat proc/{pid}/comm", "No such file or directory")


# ---------------------------------------------------------------- sys/class/net


def test_devices_appear_and_disappear(m):
    sh_ok(m, 'echo "add eth1 rxqueues=2" > procnet/net/ctl')
    assert ls(m, "sys/class/net") == ["eth0", "eth1", "lo"]
    assert ls(m, "sys/class/net/eth1/queues") == ["rx-0", "rx-1"]
    assert sh_ok(m, "cat sys/class/net/eth1/queues/rx-1/rps_cpus") == "0\n"
    sh_ok(m, "echo 6 > sys/class/net/eth1/queues/rx-1/rps_cpus")
    assert m.read("sys/class/net/eth1/queues/rx-1/rps_cpus") == "6\n"
    # Without irq=, the queues' IRQs spread over the CPUs as with --dev (spread_irqs).
    assert "eth1 ifindex=3 rxqueues=2 irq=0,1 " in m.read("procnet/net/ctl")
    sh_ok(m, 'echo "del eth1" > procnet/net/ctl')
    assert ls(m, "sys/class/net") == ["eth0", "lo"]
    sh_fails(m, "cat sys/class/net/eth1/queues/rx-1/rps_cpus", "No such file or directory")
    sh_fails(m, "ls sys/class/net/eth1/queues", "No such file or directory")
    assert "eth1" not in m.read("procnet/net/ctl")


def test_rps_cpus_and_flow_cnt(m):
    q = "sys/class/net/eth0/queues/rx-0"
    assert sh_ok(m, f"cat {q}/rps_cpus {q}/rps_flow_cnt") == "0\n0\n"
    assert sh_ok(m, f"echo e > {q}/rps_cpus; cat {q}/rps_cpus") == "e\n"
    assert sh_ok(m, f"echo 100 > {q}/rps_flow_cnt; cat {q}/rps_flow_cnt") == "128\n"
    sh_fails(m, f"echo 1f > {q}/rps_cpus", "Value too large")
    sh_fails(m, f"echo 0x1 > {q}/rps_cpus", "Invalid argument")
    sh_fails(m, f"echo abc > {q}/rps_flow_cnt", "Invalid argument")
    assert sh_ok(m, f"cat {q}/rps_cpus {q}/rps_flow_cnt") == "e\n128\n"


def test_rps_cpus_prints_32_bit_chunks(fuse_env):
    with mounted("--clock", "manual", "--cpus", "40") as m:
        q = "sys/class/net/eth0/queues/rx-0/rps_cpus"
        assert m.read(q) == "00,00000000\n"
        m.sh(f"echo 80,00000003 > {q}", check=True)
        assert m.read(q) == "80,00000003\n"
        assert m.read("sys/devices/system/cpu/online") == "0-39\n"


def test_device_threaded_napi(m):
    assert sh_ok(m, "cat sys/class/net/eth0/threaded sys/class/net/lo/threaded") == "0\n0\n"
    sh_ok(m, "echo 1 > sys/class/net/eth0/threaded")
    assert m.read("sys/class/net/eth0/threaded") == "1\n"
    comms = [m.read(f"proc/{p}/comm").strip() for p in ls(m, "proc") if p.isdigit()]
    assert "napi/eth0-0" in comms
    sh_fails(m, "echo 1 > sys/class/net/lo/threaded", "Operation not supported")
    sh_fails(m, "echo 2 > sys/class/net/eth0/threaded", "Operation not supported")
    sh_fails(m, "echo abc > sys/class/net/eth0/threaded", "Invalid argument")


# ---------------------------------------------------------------- CPU hotplug


def test_cpu_hotplug(m):
    cpu = "sys/devices/system/cpu"
    assert sh_ok(m, f"cat {cpu}/online {cpu}/possible {cpu}/present {cpu}/offline") == \
        "0-3\n0-3\n0-3\n\n"
    assert sh_ok(m, f"cat {cpu}/cpu2/online") == "1\n"
    sh_ok(m, f"echo 0 > {cpu}/cpu2/online")
    assert sh_ok(m, f"cat {cpu}/online {cpu}/offline {cpu}/cpu2/online") == "0-1,3\n2\n0\n"
    rows = softnet_rows(m.read("proc/net/softnet_stat"))
    assert [r[12] for r in rows] == [0, 1, 3]
    assert "cpu2 " not in m.read("proc/stat")
    assert m.read("proc/interrupts").splitlines()[0].split() == ["CPU0", "CPU1", "CPU3"]
    assert ls(m, f"{cpu}") == ["cpu0", "cpu1", "cpu2", "cpu3", "offline", "online",
                               "possible", "present"]
    sh_ok(m, f"echo 1 > {cpu}/cpu2/online")
    assert sh_ok(m, f"cat {cpu}/online {cpu}/offline") == "0-3\n\n"
    assert [r[12] for r in softnet_rows(m.read("proc/net/softnet_stat"))] == [0, 1, 2, 3]
    sh_fails(m, f"echo maybe > {cpu}/cpu2/online", "Invalid argument")


# ---------------------------------------------------------------- procnet/


def test_clock_advance_moves_now_by_exactly_that(m):
    assert m.read("procnet/clock/mode") == "manual\n"
    t0 = m.now()
    time.sleep(0.05)
    assert m.now() == t0  # manual: wall time does not move it
    for text, ns in (("250ms", 250_000_000), ("2s", 2_000_000_000), ("100us", 100_000),
                     ("12345", 12_345), ("1.5ms", 1_500_000)):
        before = m.now()
        sh_ok(m, f"echo {text} > procnet/clock/advance")
        assert m.now() == before + ns, text
    assert m.stats()["time_ns"] == m.now()


def test_advance_returns_after_simulating_traffic(m):
    sh_ok(m, 'echo "add t1 dev=eth0 flows=4 pps=500000" > procnet/traffic/ctl')
    before = m.stats()
    sh_ok(m, "echo 50ms > procnet/clock/advance")
    after = m.stats()
    assert after["time_ns"] == before["time_ns"] + 50_000_000
    assert 20_000 < after["offered"] - before["offered"] < 30_000  # ~500k pps x 50 ms
    assert m.read("procnet/traffic/ctl").startswith("t1 dev=eth0 flows=4 pps=500000 ")


BAD_CONTROL_WRITES = [
    ("procnet/traffic/ctl", "bogus"),
    ("procnet/traffic/ctl", "add t1 dev=eth0 flows=many"),
    ("procnet/traffic/ctl", "add t1 dev=eth0 colour=red"),
    ("procnet/traffic/ctl", "add t1 dev=eth9"),
    ("procnet/traffic/ctl", "del nosuch"),
    ("procnet/tasks/ctl", "add hog cpus=7"),
    ("procnet/tasks/ctl", "add hog util=x"),
    ("procnet/tasks/ctl", "frob"),
    ("procnet/tasks/ctl", "del nosuch"),
    ("procnet/net/ctl", "add eth1 rxqueues=abc"),
    ("procnet/net/ctl", "add eth1 irq=9"),
    ("procnet/net/ctl", "del nosuch"),
    ("procnet/net/ctl", "del"),
    ("procnet/clock/advance", "soon"),
    ("procnet/clock/advance", "-5ms"),
    ("procnet/clock/mode", "sometimes"),
    ("procnet/clock/speed", "fast"),
    ("procnet/clock/speed", "0"),
    ("procnet/model/protocol_ns", "abc"),
    ("procnet/model/felix_variant", "whatever"),
    ("procnet/faults/kthread_run", "abc"),
]


@pytest.mark.parametrize("rel,bad", BAD_CONTROL_WRITES, ids=lambda v: str(v))
def test_control_files_reject_bad_syntax_with_einval_and_dmesg(shared, rel, bad):
    m = shared
    before = m.read("procnet/dmesg").splitlines()
    shown = m.read(rel) if os.stat(m / rel).st_mode & 0o444 else None
    sh_fails(m, f"echo '{bad}' > {rel}", "Invalid argument")
    new = m.read("procnet/dmesg").splitlines()[len(before):]
    assert len(new) == 1, new
    assert re.fullmatch(r"\[ *\d+\.\d{6}\] procnet: .+", new[0]), new[0]
    assert rel.split("/", 1)[1] in new[0], new[0]  # names the file, e.g. traffic/ctl
    if shown is not None:
        assert m.read(rel) == shown  # nothing changed


def test_control_files_accept_good_syntax(m):
    # bash's printf writes each line with its own write(2): every one is a command
    sh_ok(m, 'printf "add t1 dev=eth0 flows=2 pps=1000\\n# comment\\nadd t2 pps=10 '
             'pattern=onoff on=2ms off=3ms\\n" > procnet/traffic/ctl')
    assert m.read("procnet/traffic/ctl").splitlines() == [
        "t1 dev=eth0 flows=2 pps=1000 pattern=poisson size=64 seed=0",
        "t2 dev=eth0 flows=1 pps=10 pattern=onoff on=2ms off=3ms size=64 seed=0"]
    sh_ok(m, 'echo "del t2" > procnet/traffic/ctl')
    sh_ok(m, "echo 2000 > procnet/model/protocol_ns")
    assert m.read("procnet/model/protocol_ns") == "2000\n"
    sh_ok(m, "echo as-written > procnet/model/felix_variant")
    assert m.read("procnet/model/felix_variant") == "as-written\n"
    assert m.read("procnet/model/seed") == "1\n"
    sh_ok(m, "echo 4 > procnet/clock/speed")
    assert m.read("procnet/clock/speed") == "4\n"
    assert m.read("procnet/dmesg") == ""


def test_multi_line_control_writes(m):
    ctl = "procnet/traffic/ctl"
    # one write(2) with several lines: a syntax error on any line applies nothing
    with pytest.raises(OSError) as e:
        m.write(ctl, "add t1 dev=eth0\nadd t2 dev=eth0 flows=x\n")
    assert e.value.errno == errno.EINVAL
    assert m.read(ctl) == ""
    # a line the engine refuses stops there; the lines before it stay applied
    with pytest.raises(OSError) as e:
        m.write(ctl, "add t1 dev=eth0\nadd t2 dev=lo\nadd t3 dev=eth0\n")
    assert e.value.errno == errno.EINVAL
    assert [line.split()[0] for line in m.read(ctl).splitlines()] == ["t1"]
    assert "traffic/ctl: traffic on lo" in m.read("procnet/dmesg")
    assert m.write(ctl, "# just a comment\n") == 17  # no-op
    sh_fails(m, f"echo > {ctl}", "Invalid argument")  # empty command


def test_stats_json_parses_and_conserves_packets(m):
    sh_ok(m, "echo e > sys/class/net/eth0/queues/rx-0/rps_cpus")
    sh_ok(m, 'echo "add t1 dev=eth0 flows=16 pps=3000000" > procnet/traffic/ctl')
    sh_ok(m, "echo 64 > proc/sys/net/core/netdev_max_backlog")
    for step in range(3):
        m.advance("10ms")
        s = json.loads(sh_ok(m, "cat procnet/stats.json"))
        assert s["offered"] > 0
        assert s["offered"] == s["delivered"] + sum(s["dropped"].values()) + s["queued"], s
        assert s["conserved"] is True
        if step == 1:
            sh_ok(m, "echo 1 > backlog_threaded")
    assert s["dropped"]["backlog"] > 0  # the small backlog overflowed
    assert len(s["per_cpu"]) == CPUS


def test_dmesg_and_lag_read(m):
    assert m.read("procnet/dmesg") == ""
    assert m.read("procnet/clock/lag_ns") == "0\n"


def test_read_and_write_errno_for_directories(shared):
    m = shared
    sh_fails(m, "cat proc", "Is a directory")
    sh_fails(m, "echo 1 > proc", "Is a directory")
    with pytest.raises(OSError) as e:
        os.open(m / "proc", os.O_WRONLY)
    assert e.value.errno == errno.EISDIR


def test_procnet_ps_and_stat_read_the_mount(m):
    from mount_helpers import procnet
    sh_ok(m, "echo 'add hog cpus=2' > procnet/tasks/ctl; "
             "echo 'add t dev=eth0 flows=4 pps=100000' > procnet/traffic/ctl; "
             "echo 20ms > procnet/clock/advance")
    ps = procnet("ps", str(m.path))
    assert ps.returncode == 0, ps.stderr
    rows = [line.split() for line in ps.stdout.splitlines()]
    assert rows[0] == ["PID", "PSR", "S", "TIME(ms)", "NVCSW", "NIVCSW", "COMMAND"]
    hog = next(r for r in rows if r[-1] == "hog")
    assert hog[1] == "2" and int(hog[3]) >= 10  # on CPU 2, ran for most of the 20 ms
    # stat: rates per virtual second between two samples; time must move in between
    stat = subprocess.Popen([*PROCNET, "stat", str(m.path), "--count", "1", "--interval", "0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while stat.poll() is None and time.monotonic() < deadline:
        m.advance("2ms")  # the clock is manual: keep it moving while stat samples
        time.sleep(0.02)
    out, err = stat.communicate(timeout=30)
    assert stat.returncode == 0, err
    lines = [line.split() for line in out.splitlines()]
    assert lines[0] == ["CPU", "total/s", "dropd/s", "squeezd/s", "rx_rps/s", "flw_lim/s"]
    assert [r[0] for r in lines[1:]] == ["0", "1", "2", "3", "all"]
    assert 50_000 < float(lines[-1][1]) < 150_000  # ~100k packets per virtual second
