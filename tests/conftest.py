"""Shared fixtures for tests on real FUSE mounts.

FUSE tests need root, /dev/fuse and libfuse3. Where those are missing they fail when CI=true
(CI installs FUSE: a silent skip there would hide a broken setup) and skip otherwise.
"""

from __future__ import annotations

import ctypes.util
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


from fs_helpers import (DAEMON_MODULE, READY_TIMEOUT_S, STOP_TIMEOUT_S,  # noqa: F401
                        daemon_command, daemon_pids, force_cleanup, wait_gone)


def _fuse_problem() -> str | None:
    if os.geteuid() != 0:
        return "FUSE mount tests need root"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    if not ctypes.util.find_library("fuse3"):
        return "libfuse3 is missing (apt-get install fuse3; scripts/bootstrap.sh does it)"
    return None


@pytest.fixture(scope="session")
def fuse_env() -> None:
    problem = _fuse_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and FUSE is unusable: {problem}")
        pytest.skip(problem)


@pytest.fixture
def mount_dir(fuse_env):
    """An empty directory under /tmp that other users can reach (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="procnet-test-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        force_cleanup(path)
        path.rmdir()


@dataclass
class Daemon:
    """A foreground selftest daemon serving ``path``; stdout/stderr are kept in files."""

    path: Path
    proc: subprocess.Popen
    out: Path
    err: Path

    def log(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready" in self.out.read_text():
                return
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited with {self.proc.returncode} before ready:\n{self.log()}")
            time.sleep(0.02)
        pytest.fail(f"daemon not ready after {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` and return the exit code; fails the test if it takes over ``timeout``."""
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"daemon still running {timeout} s after signal {sig}:\n{self.log()}")


@pytest.fixture
def start_daemon(mount_dir, tmp_path):
    """Factory: start a foreground selftest daemon on a directory (default: mount_dir) and
    wait until it is ready. Every daemon is stopped and its mount removed at teardown."""
    daemons: list[Daemon] = []

    def start(path: Path | None = None, *, wait: bool = True) -> Daemon:
        path = path or mount_dir
        n = len(daemons)
        out, err = tmp_path / f"daemon{n}.out", tmp_path / f"daemon{n}.err"
        with open(out, "wb") as fout, open(err, "wb") as ferr:
            proc = subprocess.Popen(daemon_command(path), stdin=subprocess.DEVNULL, stdout=fout, stderr=ferr)
        daemon = Daemon(path, proc, out, err)
        daemons.append(daemon)
        if wait:
            daemon.wait_ready()
        return daemon

    try:
        yield start
    finally:
        for daemon in daemons:
            if daemon.proc.poll() is None:
                daemon.proc.terminate()
                try:
                    daemon.proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    daemon.proc.kill()
                    daemon.proc.wait(STOP_TIMEOUT_S)
            force_cleanup(daemon.path)


@pytest.fixture
def mounted(start_daemon) -> Daemon:
    """A ready selftest mount on a fresh directory; always cleaned up, even on failure."""
    return start_daemon()
