"""Concurrency on a real mount: racing writers, and readers while the engine is saturated.

  * backlog_threaded_sysctl() serialises "parse, then switch" with a mutex. Eight shell
    processes hammer the knob (through both of its paths) while the realtime clock runs
    traffic; afterwards the value read back is the engine's real mode and exactly one
    napi/backlog-N thread exists per CPU (created on the first enable, kept afterwards).
  * With the realtime clock far behind (traffic the engine cannot keep up with), `cat` of
    proc/net/softnet_stat is still answered promptly: the runtime hands the lock to waiting
    file operations after every simulation slice. The figures are printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

from mount_helpers import mounted, softnet_rows

CPUS = 4
WRITERS = 8
WRITES_PER_WRITER = 200
SOFTNET_LINE = re.compile(r"^(?:[0-9a-f]{8} ){14}[0-9a-f]{8}$")


def comms(m) -> list[str]:
    out = []
    for pid in os.listdir(m / "proc"):
        if pid.isdigit():
            try:
                out.append(m.read(f"proc/{pid}/comm").strip())
            except FileNotFoundError:
                pass  # a task ended meanwhile
    return out


def backlog_threads(m) -> list[str]:
    return sorted((c for c in comms(m) if c.startswith("napi/backlog-")),
                  key=lambda c: int(c.rsplit("-", 1)[1]))


def test_concurrent_writers_on_backlog_threaded_serialise(fuse_env):
    with mounted("--clock", "realtime", "--cpus", str(CPUS)) as m:
        m.sh("echo e > sys/class/net/eth0/queues/rx-0/rps_cpus; "
             "echo 'add t dev=eth0 flows=16 pps=200000' > procnet/traffic/ctl", check=True)
        writers = []
        for n in range(WRITERS):
            path = "backlog_threaded" if n % 2 else "proc/sys/net/core/backlog_threaded"
            first, second = (1, 0) if n % 4 < 2 else (0, 1)
            script = (f"for i in $(seq {WRITES_PER_WRITER // 2}); do "
                      f"echo {first} > {path} || exit 1; echo {second} > {path} || exit 1; done")
            writers.append(subprocess.Popen(["bash", "-c", script], cwd=m.path,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True))
        seen, modes = set(), set()
        try:
            while any(w.poll() is None for w in writers):  # read while they race
                seen.add(m.read("backlog_threaded"))
                modes.add(m.stats()["mode"])
        finally:
            results = [w.communicate(timeout=60) + (w.returncode,) for w in writers]
        for out, err, code in results:
            assert code == 0 and err == "", err + m.tail()
        assert seen <= {"0\n", "1\n"} and modes <= {"stock", "backlog_threaded"}, (seen, modes)

        value = m.read("backlog_threaded")
        assert value == m.read("proc/sys/net/core/backlog_threaded")
        mode = m.stats()["mode"]
        assert (value, mode) in (("1\n", "backlog_threaded"), ("0\n", "stock")), (value, mode)
        assert backlog_threads(m) == [f"napi/backlog-{n}" for n in range(CPUS)]
        # and the engine still accounts for every packet
        stats = m.stats()
        assert stats["offered"] > 0 and stats["conserved"] is True
        assert stats["offered"] == (stats["delivered"] + sum(stats["dropped"].values())
                                    + stats["queued"])
        # one more switch in each direction still works and still reads back the real mode
        for want, mode in (("1", "backlog_threaded"), ("0", "stock")):
            m.sh(f"echo {want} > backlog_threaded", check=True)
            assert m.read("backlog_threaded") == want + "\n" and m.stats()["mode"] == mode
        assert backlog_threads(m) == [f"napi/backlog-{n}" for n in range(CPUS)]


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def parse_softnet(text: str, online: int) -> list[list[int]]:
    lines = text.splitlines()
    assert len(lines) == online and text.endswith("\n"), text
    assert all(SOFTNET_LINE.match(line) for line in lines), text
    rows = softnet_rows(text)
    assert [r[12] for r in rows] == list(range(online))
    return rows


def test_reads_are_answered_while_the_engine_cannot_keep_up(fuse_env, capsys):
    with mounted("--clock", "realtime", "--cpus", str(CPUS)) as m:
        m.sh("echo 100 > procnet/clock/speed; "
             "echo e > sys/class/net/eth0/queues/rx-0/rps_cpus; "
             "echo 'add t dev=eth0 flows=64 pps=2000000' > procnet/traffic/ctl", check=True)
        time.sleep(0.5)
        assert int(m.read("procnet/clock/lag_ns")) > 0  # the engine is behind: never idle

        # `cat` (a new process per read) for 3 s
        virt0, lat = m.now(), []
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            t0 = time.monotonic()
            proc = subprocess.run(["cat", "proc/net/softnet_stat"], cwd=m.path,
                                  capture_output=True, text=True, timeout=5)
            lat.append(time.monotonic() - t0)
            assert proc.returncode == 0, proc.stderr
            parse_softnet(proc.stdout, CPUS)
        virt1 = m.now()
        lat.sort()
        cat = (len(lat) / 3.0, percentile(lat, 0.5), percentile(lat, 0.99), lat[-1])

        # open/read/close from this process for 1 s (the FUSE round trips alone)
        lat2 = []
        end = time.monotonic() + 1.0
        path = m / "proc/net/softnet_stat"
        while time.monotonic() < end:
            t0 = time.monotonic()
            fd = os.open(path, os.O_RDONLY)
            try:
                text = os.read(fd, 65536).decode()
            finally:
                os.close(fd)
            lat2.append(time.monotonic() - t0)
            parse_softnet(text, CPUS)
        lat2.sort()
        py = (len(lat2) / 1.0, percentile(lat2, 0.5), percentile(lat2, 0.99), lat2[-1])

        # a control write is answered too, and the engine kept simulating meanwhile
        t0 = time.monotonic()
        m.sh("echo 1 > backlog_threaded", check=True)
        switch_s = time.monotonic() - t0
        lag = int(m.read("procnet/clock/lag_ns"))
        with capsys.disabled():
            print(f"\n[load: 2 Mpps at 100x speed, 64 flows, RPS to 3 CPUs, engine "
                  f"{lag / 1e9:.1f} s behind]"
                  f"\n  cat softnet_stat:        {cat[0]:7.0f} reads/s  p50 {cat[1] * 1e3:6.2f} ms"
                  f"  p99 {cat[2] * 1e3:6.2f} ms  max {cat[3] * 1e3:6.2f} ms"
                  f"\n  open/read/close (python): {py[0]:6.0f} reads/s  p50 {py[1] * 1e3:6.2f} ms"
                  f"  p99 {py[2] * 1e3:6.2f} ms  max {py[3] * 1e3:6.2f} ms"
                  f"\n  echo 1 > backlog_threaded: {switch_s * 1e3:.1f} ms;"
                  f" virtual time advanced {(virt1 - virt0) / 1e6:.1f} ms during the 3 s of cat")
        assert cat[3] < 1.0 and py[3] < 1.0, (cat, py)
        assert switch_s < 1.0
        assert virt1 > virt0  # readers did not starve the engine
        assert m.stats()["mode"] == "backlog_threaded"
