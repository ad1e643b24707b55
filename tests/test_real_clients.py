"""Real, unmodified clients against a real mount: procps `sysctl` and Prometheus node_exporter.

  * `procnet shell MNT -- sysctl ...` runs sysctl in a private mount namespace where
    $MNT/proc/sys/net/core is bind-mounted over /proc/sys/net/core (as LXCFS does for
    containers). The host's own /proc/sys/net/core must not change.
  * node_exporter reads $MNT/proc and $MNT/sys (--path.procfs/--path.sysfs); its softnet,
    stat and cpu collectors must parse our files and report the values we render.

The tools come from Debian packages that scripts/bootstrap.sh installs. Where one is missing
the test fails under CI=true and skips elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from mount_helpers import PROCNET, mounted, softnet_rows

from procnet.kernelfs.proc_handlers import SYSCTL_SPECS

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
HOST_CORE = Path("/proc/sys/net/core")
CPUS = 4


def need(tool: str, package: str) -> str:
    path = shutil.which(tool) or (tool if os.path.exists(tool) else None)
    if path is None:
        message = f"{tool} is missing (apt-get install {package}; scripts/bootstrap.sh does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return path


def host_core() -> dict[str, str]:
    """Every readable file of the host's /proc/sys/net/core."""
    out = {}
    for p in sorted(HOST_CORE.iterdir()):
        try:
            out[p.name] = p.read_text()
        except OSError as e:
            out[p.name] = f"<errno {e.errno}>"
    return out


@pytest.fixture
def m(fuse_env):
    need("sysctl", "procps")
    need("unshare", "util-linux")
    before = host_core()
    with mounted("--clock", "manual", "--cpus", str(CPUS)) as mnt:
        yield mnt
    assert host_core() == before, "the host's /proc/sys/net/core changed"


def shell(m, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PROCNET, "shell", str(m.path), "--", *argv], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- procps sysctl


def test_sysctl_write_and_read(m):
    proc = shell(m, "sysctl", "-w", "net.core.backlog_threaded=1")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "net.core.backlog_threaded = 1\n", "")
    assert m.read("backlog_threaded") == "1\n" and m.stats()["mode"] == "backlog_threaded"
    proc = shell(m, "sysctl", "net.core.backlog_threaded")
    assert (proc.returncode, proc.stdout) == (0, "net.core.backlog_threaded = 1\n")
    proc = shell(m, "sysctl", "-n", "net/core/netdev_max_backlog")
    assert proc.stdout == "1000\n"
    proc = shell(m, "sysctl", "-w", "net.core.rps_default_mask=e", "net.core.netdev_budget=600")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "net.core.rps_default_mask = e\nnet.core.netdev_budget = 600\n"
    assert m.read("proc/sys/net/core/netdev_budget") == "600\n"
    # a device added now gets rps_default_mask on its rx queues
    m.sh("echo 'add eth1' > procnet/net/ctl", check=True)
    assert m.read("sys/class/net/eth1/queues/rx-0/rps_cpus") == "e\n"


def test_sysctl_invalid_values(m):
    proc = shell(m, "sysctl", "-w", "net.core.netdev_max_backlog=abc")
    assert proc.returncode == 1
    assert 'sysctl: setting key "net.core.netdev_max_backlog": Invalid argument' in proc.stderr
    assert m.read("proc/sys/net/core/netdev_max_backlog") == "1000\n"
    proc = shell(m, "sysctl", "-w", "net.core.backlog_threaded=2")
    assert proc.returncode == 1 and "Invalid argument" in proc.stderr
    proc = shell(m, "sysctl", "-w", "net.core.rps_default_mask=10")
    assert proc.returncode == 1 and "Value too large" in proc.stderr
    proc = shell(m, "sysctl", "net.core.no_such_key")
    assert proc.returncode != 0 and "cannot stat /proc/sys/net/core/no_such_key" in proc.stderr


def test_sysctl_a_lists_our_keys(m):
    proc = shell(m, "sysctl", "-a")
    assert proc.returncode == 0, proc.stderr
    assert "net.core" not in proc.stderr, proc.stderr
    ours = {}
    for line in proc.stdout.splitlines():
        key, sep, value = line.partition(" = ")
        if sep and key.startswith("net.core."):
            ours[key[len("net.core."):]] = value
    assert set(ours) == set(SYSCTL_SPECS)  # the mount replaces the whole directory
    for name, value in ours.items():
        assert value + "\n" == m.read(f"proc/sys/net/core/{name}"), name
    assert len(proc.stdout.splitlines()) > 100  # and the rest of /proc/sys is the host's
    proc = shell(m, "sysctl", "-N", "-a", "-r", "^net\\.core\\.")
    assert sorted(proc.stdout.split()) == sorted(f"net.core.{n}" for n in SYSCTL_SPECS)


def test_shell_runs_a_command_with_the_view(m):
    proc = shell(m, "sh", "-c", "cat /proc/sys/net/core/backlog_threaded; "
                                "grep -c ' /proc/sys/net/core ' /proc/self/mountinfo")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "1"]
    proc = shell(m, "sh", "-c", "exit 7")
    assert proc.returncode == 7
    proc = subprocess.run([*PROCNET, "shell", "/tmp"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "is not a procnet mount" in proc.stderr


# ---------------------------------------------------------------- node_exporter


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def node_exporter(m):
    binary = need(NODE_EXPORTER, "prometheus-node-exporter")
    for _attempt in range(3):
        port = free_port()
        log = Path(f"{m.path}.node_exporter.log")
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [binary, f"--path.procfs={m.path}/proc", f"--path.sysfs={m.path}/sys",
                 f"--web.listen-address=127.0.0.1:{port}", "--collector.disable-defaults",
                 "--collector.softnet", "--collector.stat", "--collector.cpu"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            deadline = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    urllib.request.urlopen(url, timeout=5).read()
                    break
                except OSError:
                    time.sleep(0.05)
            if proc.poll() is None:
                yield url
                return
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            text = log.read_text()
            log.unlink(missing_ok=True)
        if "address already in use" not in text:
            pytest.fail(f"node_exporter exited {proc.returncode}:\n{text}")
    pytest.fail("node_exporter found no free port")


METRIC = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """{metric: {sorted label items: value}} from the Prometheus text format."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    out: dict[str, dict[tuple, float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = METRIC.match(line)
        assert match, line
        name, labels, value = match.groups()
        items = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', labels or "")))
        out.setdefault(name, {})[items] = float(value)
    return out


def series(metrics: dict, name: str) -> dict[str, float]:
    """One metric's values by its cpu label."""
    return {dict(labels)["cpu"]: v for labels, v in metrics[name].items()}


def check_softnet(metrics: dict, rows: list[list[int]]) -> None:
    cpus = [str(r[12]) for r in rows]
    for name, col in (("node_softnet_processed_total", 0), ("node_softnet_dropped_total", 1),
                      ("node_softnet_times_squeezed_total", 2),
                      ("node_softnet_received_rps_total", 9),
                      ("node_softnet_flow_limit_count_total", 10),
                      ("node_softnet_backlog_len", 11)):
        if name not in metrics and col >= 9:
            continue  # node_exporter 1.5.0 (bookworm) exports the first three only
        got = series(metrics, name)
        assert len(got) == len(rows), (name, got)  # one series per online CPU
        # newer exporters label with softnet_stat's CPU column, 1.5.0 with the line number
        labels = cpus if set(got) == set(cpus) else [str(i) for i in range(len(rows))]
        assert set(got) == set(labels), (name, got)
        assert [got[label] for label in labels] == [float(r[col]) for r in rows], name


def test_node_exporter_reads_softnet_stat_and_cpu_times(m):
    m.sh("echo e > sys/class/net/eth0/queues/rx-0/rps_cpus; "
         "echo 'add t dev=eth0 flows=16 pps=3000000' > procnet/traffic/ctl; "
         "echo 64 > proc/sys/net/core/netdev_max_backlog; "
         "echo 50ms > procnet/clock/advance", check=True)
    rows = softnet_rows(m.read("proc/net/softnet_stat"))
    assert sum(r[0] for r in rows) > 0 and sum(r[1] for r in rows) > 0  # processed, dropped
    stat = m.read("proc/stat").splitlines()
    with node_exporter(m) as url:
        metrics = scrape(url)
        assert metrics["node_scrape_collector_success"] == {
            (("collector", c),): 1.0 for c in ("cpu", "softnet", "stat")}
        check_softnet(metrics, rows)
        fields = {line.split()[0]: line.split()[1:] for line in stat}
        assert metrics["node_context_switches_total"][()] == float(fields["ctxt"][0])
        assert metrics["node_intr_total"][()] == float(fields["intr"][0])
        assert metrics["node_boot_time_seconds"][()] == float(fields["btime"][0])
        assert metrics["node_forks_total"][()] == float(fields["processes"][0])
        cpu_seconds = metrics["node_cpu_seconds_total"]
        modes = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
        for n in range(CPUS):
            ticks = [int(v) for v in fields[f"cpu{n}"]]
            for mode, t in zip(modes, ticks):
                assert cpu_seconds[(("cpu", str(n)), ("mode", mode))] == t / 100, (n, mode)
        assert len(cpu_seconds) == CPUS * len(modes)

        # CPU hotplug: the offline CPU's series go away, in both collectors
        m.sh("echo 0 > sys/devices/system/cpu/cpu2/online; echo 10ms > procnet/clock/advance",
             check=True)
        rows = softnet_rows(m.read("proc/net/softnet_stat"))
        assert [r[12] for r in rows] == [0, 1, 3]
        metrics = scrape(url)
        check_softnet(metrics, rows)
        fields = {line.split()[0]: line.split()[1:] for line in m.read("proc/stat").splitlines()}
        assert "cpu2" not in fields
        cpu_seconds = metrics["node_cpu_seconds_total"]
        for n in (0, 1, 3):
            ticks = [int(v) for v in fields[f"cpu{n}"]]
            for mode, t in zip(modes, ticks):
                assert cpu_seconds[(("cpu", str(n)), ("mode", mode))] == t / 100, (n, mode)
        # (node_exporter 1.5.0's procfs pads the missing "cpu2" line of /proc/stat with a row
        # of its own, as it does on a real kernel with cpu2 offline; that series is not ours)
