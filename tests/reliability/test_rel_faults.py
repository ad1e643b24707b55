"""Section 6: faults. A failing handler, a killed daemon, a terminated daemon.

  * An exception injected into EVERY handler (show, store, read_call of every table entry;
    tests/reliability/fault_daemon.py serves the real table through procnet.fs.serve with a
    factory, each handler wrapped) reaches the client as EIO -- the errno docs/fuse.md
    documents -- whatever the kind (RuntimeError, OSError without errno, a wrong return
    type); every fault is logged with its traceback, and once the fault is switched off every
    file reads and writes again on the same mount.
  * After SIGKILL of the daemon (under traffic), the mount answers ENOTCONN, `procnet mount`
    there refuses with exit 7, one `procnet umount` recovers it, and mounting there works.
  * SIGTERM stops the daemon with exit 0 within 30 s and leaves nothing running and nothing
    mounted: idle, under 16 busy readers, and in the middle of a long clock/advance.
  * Daemon logs: no unexpected warning or error (the injected faults excepted); every mount of
    the suite is scanned the same way (figures under "daemon_logs").

Quick: 3 SIGKILL and 1 SIGTERM cycle per scenario; full (PROCNET_FULL=1): 30 and 10.
"""
from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rel_common import bump, make_fs, pick, readable_paths, record, scan_log, writable_paths

from procnet.fs.lifecycle import find_mount

SECTION = "faults"
HERE = Path(__file__).resolve().parent
KILL_CYCLES = pick(3, 30)
TERM_CYCLES = pick(1, 10)
TERM_BOUND_S = 30


def wait_for(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# ------------------------------------------------------------------ injected handler faults

INJECTED = [re.compile(r"(failed; returning EIO|OSError without errno; returning EIO)")]


@pytest.fixture
def fault_mount(fuse_env, tmp_path):
    from mount_helpers import cleanup, make_mount_dir
    mnt = make_mount_dir("procnet-rel-fault-")
    switch, log, ready = tmp_path / "switch", tmp_path / "daemon.log", tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, str(HERE / "fault_daemon.py"), str(mnt),
                             str(switch), str(log), str(ready)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_for(lambda: ready.exists() or proc.poll() is not None, 20, "the fault daemon")
        assert proc.poll() is None, proc.stderr.read()
        yield mnt, switch, log, proc
    finally:
        cleanup(mnt)
        proc.kill()
        proc.wait(10)


def _try(fn) -> int:
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def _read(path: Path) -> None:
    with open(path, "rb") as f:
        f.read()


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


# A value each writable file accepts (so that "works again" is a real write).
GOOD = {"procnet/clock/advance": b"1ms\n", "procnet/traffic/ctl": b"# nothing\n",
        "procnet/tasks/ctl": b"# nothing\n", "procnet/net/ctl": b"# nothing\n",
        "procnet/clock/mode": b"manual\n", "procnet/clock/speed": b"1\n",
        "procnet/model/felix_variant": b"intended\n"}


def test_an_exception_in_any_handler_is_eio_and_the_mount_survives(fault_mount):
    mnt, switch, log, proc = fault_mount
    model = make_fs("stock", cpus=2)              # the daemon's machine, for the file list
    readable = [p for p in readable_paths(model)]
    writable = [p for ps in writable_paths(model).values() for p in ps
                if not p.endswith("/comm")]      # comm writes fail with EINVAL by design
    injected = 0
    for kind in ("raise", "oserror", "badtype"):
        switch.write_text(kind)
        wrong = []
        for rel in readable:
            err = _try(lambda: _read(mnt / rel))
            injected += 1
            if err != errno.EIO:
                wrong.append(f"read {rel}: {errno.errorcode.get(err, err)}")
        for rel in writable:
            err = _try(lambda: _write(mnt / rel, GOOD.get(rel, b"1\n")))
            injected += 1
            if err != errno.EIO:
                wrong.append(f"write {rel}: {errno.errorcode.get(err, err)}")
        assert not wrong, f"{kind}: " + "; ".join(wrong[:10])
        switch.write_text("")
        # the same mount works again: every file reads, every file takes a good write
        for rel in readable:
            assert _try(lambda: _read(mnt / rel)) == 0, rel
        for rel in writable:
            if rel.endswith("/online") or rel.endswith("backlog_threaded"):
                data = b"1\n"
            elif rel.endswith("rps_cpus") or rel.endswith("cpu_bitmap") \
                    or rel.endswith("default_mask"):
                data = b"3\n"
            elif rel.endswith("/threaded"):
                data = b"0\n" if "/eth0/" in rel else None
            elif rel.endswith("table_len"):
                data = b"4096\n"
            elif rel.endswith("budget_usecs"):
                data = b"8000\n"
            else:
                data = GOOD.get(rel, b"1\n")
            if data is not None:
                assert _try(lambda: _write(mnt / rel, data)) == 0, (kind, rel, data)
    assert proc.poll() is None
    time.sleep(0.2)
    text = log.read_text()
    traces = text.count("Traceback")
    bad = scan_log(log, extra=INJECTED)
    record(SECTION, "handler faults injected (3 kinds x every file)", injected)
    record(SECTION, "handler faults answered EIO", injected)
    record(SECTION, "tracebacks logged for them", traces)
    record(SECTION, "unexpected log lines with injected faults", len(bad))
    assert traces >= injected
    assert not bad, bad[:5]


# ------------------------------------------------------------------ SIGKILL and recovery

def test_sigkill_then_one_procnet_umount_recovers(fuse_env):
    from mount_helpers import cleanup, daemon_pids, make_mount_dir, mount, pid_gone, procnet
    mnt = make_mount_dir("procnet-rel-kill-")
    try:
        for cycle in range(KILL_CYCLES):
            m = mount(mnt, "--clock", "realtime", "--cpus", "2")
            (m / "procnet/traffic/ctl").write_text("add t dev=eth0 pps=100000\n")
            time.sleep(0.2)
            bad = scan_log(m.log)
            assert not bad, bad[:3]
            (pid,) = daemon_pids(mnt)
            os.kill(pid, signal.SIGKILL)
            assert pid_gone(pid, 10)
            err = _try(lambda: os.listdir(mnt))
            assert err == errno.ENOTCONN, errno.errorcode.get(err)
            again = procnet("mount", str(mnt), "--background")
            assert again.returncode == 7 and "procnet umount" in again.stderr, again
            t0 = time.monotonic()
            out = procnet("umount", str(mnt))
            assert out.returncode == 0, out.stderr
            bump(SECTION, "SIGKILL recoveries with one procnet umount")
            assert find_mount(str(mnt)) is None
            record(SECTION, "procnet umount of a dead mount (s)", round(time.monotonic() - t0, 3))
            m = mount(mnt, "--clock", "manual", "--cpus", "2")
            assert (m / "procnet/clock/now").read_text() == "0\n"
            assert procnet("umount", str(mnt)).returncode == 0
            m.log.unlink(missing_ok=True)
    finally:
        cleanup(mnt)


# ------------------------------------------------------------------ SIGTERM

def _foreground(mnt: Path, log: Path, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "procnet.cli", "mount", str(mnt),
                             "--log-file", str(log), *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    wait_for(lambda: (mnt / "procnet/clock/now").exists() or proc.poll() is not None, 20,
             "the mount")
    assert proc.poll() is None, proc.stderr.read()
    return proc


@pytest.mark.parametrize("scenario", ["idle", "16 readers", "long advance"])
def test_sigterm_exits_0_and_leaves_nothing(fuse_env, scenario, tmp_path):
    from mount_helpers import cleanup, daemon_pids, make_mount_dir
    mnt = make_mount_dir("procnet-rel-term-")
    try:
        for cycle in range(TERM_CYCLES):
            log = tmp_path / f"term{cycle}.log"
            clock = "manual" if scenario == "long advance" else "realtime"
            proc = _foreground(mnt, log, "--clock", clock, "--cpus", "4")
            (mnt / "procnet/traffic/ctl").write_text("add t dev=eth0 flows=8 pps=1000000\n")
            stop, threads, errors = threading.Event(), [], []

            def reader():
                while not stop.is_set():
                    try:
                        (mnt / "proc/net/softnet_stat").read_bytes()
                    except OSError as e:      # the mount is going away: any errno, no hang
                        errors.append(e.errno)
                        return

            def advancer():
                try:
                    (mnt / "procnet/clock/advance").write_text("3600s\n")
                except OSError as e:
                    errors.append(e.errno)
            if scenario == "16 readers":
                threads = [threading.Thread(target=reader, daemon=True) for _ in range(16)]
            elif scenario == "long advance":
                threads = [threading.Thread(target=advancer, daemon=True)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(TERM_BOUND_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{scenario}: still running {TERM_BOUND_S} s after SIGTERM")
            took = time.monotonic() - t0
            stop.set()
            for t in threads:
                t.join(10)
            assert code == 0, proc.stderr.read()
            assert not any(t.is_alive() for t in threads), "a client hung"
            assert find_mount(str(mnt)) is None, "still mounted"
            assert daemon_pids(mnt) == [], "something still runs"
            bad = scan_log(log)
            assert not bad, bad[:5]
            bump(SECTION, "SIGTERM stops (exit 0, nothing left)")
            record(SECTION, f"SIGTERM exit time, {scenario} (s)", round(took, 3))
    finally:
        cleanup(mnt)
