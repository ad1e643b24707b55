"""Helpers for tests on real mounts of the procnet daemon (`procnet mount MNT --background`).

The daemon runs as `python -m procnet.cli mount MNT ...` (the same code as .venv/bin/procnet).
Every mount lives on a fresh 0755 directory under /tmp (pytest's tmp dirs are 0700, which
would hide the mount from `nobody`), and `cleanup()` always removes it: `procnet umount`, then
SIGKILL of whatever still serves it, then lazy unmounts. Every subprocess has a timeout.

Use with the `fuse_env` fixture of conftest.py (fails under CI=true when FUSE is unusable,
skips elsewhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from procnet.fs import MountError, umount
from procnet.fs.lifecycle import find_mount

PROCNET = [sys.executable, "-m", "procnet.cli"]
CMD_TIMEOUT_S = 30
STOP_TIMEOUT_S = 5


def procnet(*args: str, timeout: float = CMD_TIMEOUT_S, **kw) -> subprocess.CompletedProcess:
    """Run the procnet CLI; text output captured."""
    return subprocess.run([*PROCNET, *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kw)


def make_mount_dir(prefix: str = "procnet-mnt-") -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def daemon_pids(mountpoint: str | Path) -> list[int]:
    """procnet daemons serving ``mountpoint`` (foreground or detached --background ones)."""
    want = str(mountpoint).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mount" in argv and want in argv and any(b"procnet" in a for a in argv):
            pids.append(int(proc.name))
    return pids


def pid_gone(pid: int, timeout: float) -> bool:
    """True once ``pid`` is gone, or a zombie whose threads have all exited too.

    The leader of a killed multi-threaded process turns Z before its other threads are gone,
    and its files (/dev/fuse) are released only with the last thread: until then requests to
    its mount still queue, and fail with ECONNABORTED instead of ENOTCONN.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            threads = len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            return True
        if state == "Z" and threads <= 1:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def cleanup(mountpoint: str | Path, *, remove_dir: bool = True) -> None:
    """Stop whatever serves ``mountpoint``, remove every mount on it, and the directory."""
    mountpoint = Path(mountpoint)
    if find_mount(str(mountpoint)) is not None:
        with contextlib.suppress(MountError):  # what `procnet umount` does, without a process
            umount(str(mountpoint))
    for pid in daemon_pids(mountpoint):
        if not pid_gone(pid, STOP_TIMEOUT_S):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            pid_gone(pid, STOP_TIMEOUT_S)
    for _ in range(10):
        if find_mount(str(mountpoint)) is None:
            break
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=30)
    if remove_dir:
        with contextlib.suppress(OSError):
            mountpoint.rmdir()


@dataclass
class Mount:
    """A mounted procnet machine."""

    path: Path
    log: Path

    def __truediv__(self, rel: str) -> Path:
        return self.path / rel

    def read(self, rel: str) -> str:
        with open(self.path / rel, encoding="latin-1") as f:
            return f.read()

    def write(self, rel: str, data: bytes | str) -> int:
        """open(O_WRONLY|O_TRUNC), one write(2), close: what `echo` does. Returns the count."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        fd = os.open(self.path / rel, os.O_WRONLY | os.O_TRUNC)
        try:
            return os.write(fd, data)
        finally:
            os.close(fd)

    def sh(self, script: str, *, check: bool = False, user: str | None = None,
           timeout: float = CMD_TIMEOUT_S, shell: str = "bash") -> subprocess.CompletedProcess:
        """Run ``script`` with bash (or sh) in the mountpoint, optionally as another user."""
        argv = [shell, "-c", script]
        if user is not None:
            argv = ["runuser", "-u", user, "--", *argv]
        proc = subprocess.run(argv, cwd=self.path, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"{script!r} exited {proc.returncode}: {proc.stderr}{self.tail()}")
        return proc

    def advance(self, duration: str) -> None:
        self.write("procnet/clock/advance", duration + "\n")

    def now(self) -> int:
        return int(self.read("procnet/clock/now"))

    def stats(self) -> dict:
        return json.loads(self.read("procnet/stats.json"))

    def pids(self) -> list[int]:
        return daemon_pids(self.path)

    def tail(self, n: int = 4000) -> str:
        try:
            return "\n--- daemon log ---\n" + self.log.read_text()[-n:]
        except OSError:
            return ""


def mount(path: Path, *args: str, log: Path | None = None) -> Mount:
    """`procnet mount PATH --background ARGS...`; fails the caller if it does not exit 0."""
    log = log or Path(f"{path}.log")
    proc = procnet("mount", str(path), "--background", "--log-file", str(log), *args)
    if proc.returncode != 0:
        raise AssertionError(f"procnet mount {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}{proc.stderr}")
    return Mount(path, log)


@contextlib.contextmanager
def mounted(*args: str) -> Iterator[Mount]:
    """A fresh procnet machine (`procnet mount --background ARGS`), always unmounted after."""
    path = make_mount_dir()
    log = Path(f"{path}.log")
    try:
        yield mount(path, *args, log=log)
    finally:
        cleanup(path)
        with contextlib.suppress(OSError):
            log.unlink()


def softnet_rows(text: str) -> list[list[int]]:
    return [[int(v, 16) for v in line.split()] for line in text.splitlines()]
