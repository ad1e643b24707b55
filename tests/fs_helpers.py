"""Helpers for the selftest-tree FUSE tests (tests/test_fs_mount.py and its fixtures).

A module of its own, not conftest.py: test modules import these by name, and with a second
conftest.py under tests/reliability/ a plain `from conftest import ...` is ambiguous.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from procnet.fs.lifecycle import find_mount

DAEMON_MODULE = "procnet.fs.selftest_tree"
READY_TIMEOUT_S = 20
STOP_TIMEOUT_S = 5



def daemon_command(mountpoint: str | Path, *args: str) -> list[str]:
    return [sys.executable, "-m", DAEMON_MODULE, str(mountpoint), *args]


def daemon_pids(mountpoint: str | Path) -> list[int]:
    """Selftest daemons serving ``mountpoint`` (also detached --background ones)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if DAEMON_MODULE.encode() in argv and str(mountpoint).encode() in argv:
            pids.append(int(proc.name))
    return pids


def wait_gone(pid: int, timeout: float) -> bool:
    """True once ``pid`` no longer exists (reaped, or a zombie of some other parent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.02)
    return False


def force_cleanup(mountpoint: str | Path) -> None:
    """Kill whatever serves ``mountpoint`` and detach every mount stacked on it."""
    for pid in daemon_pids(mountpoint):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_gone(pid, STOP_TIMEOUT_S)
    for _ in range(10):
        if find_mount(str(mountpoint)) is None:
            break
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=30)
