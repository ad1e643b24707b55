"""Permissions on a real procnet mount, as procfs/sysfs enforce them.

  * Another user (`nobody`, through runuser) can read every readable file and gets "Permission
    denied" on every writable one: the mount uses allow_other + default_permissions, so the
    kernel checks the root-owned 0644 modes (fuse-notes §6).
  * Root bypasses mode bits under default_permissions, yet a write-open of a 0444 file fails
    with EACCES, as it does on /proc/sys and /proc/net (the glue refuses it in open()).

The mountpoint is a 0755 directory under /tmp, so `nobody` can reach it.
"""

from __future__ import annotations

import errno
import os

import pytest
from mount_helpers import mounted

from procnet.kernelfs.table import TABLE

BINDS = {"<pid>": "3", "<dev>": "eth0", "<rxq>": "rx-0", "<cpu>": "cpu1"}
USER = "nobody"


def concrete(pattern: str) -> str:
    return "/".join(BINDS.get(part, part) for part in pattern.split("/"))


WRITABLE = [concrete(e.path) for e in TABLE if e.mode & 0o222]
READABLE = [concrete(e.path) for e in TABLE if e.mode & 0o444]
READ_ONLY = [concrete(e.path) for e in TABLE if not e.mode & 0o222]


@pytest.fixture(scope="module")
def m(fuse_env):
    with mounted("--clock", "manual", "--cpus", "4") as mnt:
        assert mnt.read("proc/3/comm") == "ksoftirqd/0\n"  # what BINDS relies on
        yield mnt


def snapshot(m) -> dict[str, str]:
    return {rel: m.read(rel) for rel in READABLE if rel != "procnet/clock/lag_ns"}


def test_the_mountpoint_is_reachable_by_other_users(m):
    assert os.stat(m.path).st_mode & 0o005 == 0o005
    proc = m.sh("ls", user=USER, check=True)
    assert proc.stdout.split() == ["backlog_threaded", "proc", "procnet", "sys"]


def test_other_users_read_every_readable_file(m):
    script = "".join(f'cat {rel} > /dev/null || echo "FAILED {rel}"\n' for rel in READABLE)
    proc = m.sh(script, user=USER)
    assert proc.returncode == 0 and "FAILED" not in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr == ""
    assert m.sh("cat proc/net/softnet_stat", user=USER, check=True).stdout == \
        m.read("proc/net/softnet_stat")


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_other_users_cannot_write_any_writable_file(m, shell):
    before = snapshot(m)
    assert "backlog_threaded" in WRITABLE and "proc/sys/net/core/netdev_max_backlog" in WRITABLE
    lines = []
    for rel in WRITABLE:
        lines.append(f'if echo 1 > {rel}; then echo "WROTE {rel}"; fi')
    proc = m.sh("\n".join(lines), user=USER, shell=shell)
    assert "WROTE" not in proc.stdout, proc.stdout
    denied = [line for line in proc.stderr.splitlines() if "Permission denied" in line]
    assert len(denied) == len(WRITABLE), proc.stderr
    for rel in WRITABLE:
        assert any(rel in line for line in denied), rel
    assert snapshot(m) == before  # nothing changed


def test_other_users_get_eacces_from_open(m):
    script = ("import os, sys\n"
              "for rel in sys.argv[1:]:\n"
              "    try:\n"
              "        os.close(os.open(rel, os.O_WRONLY))\n"
              "        print('OPENED', rel)\n"
              "    except OSError as e:\n"
              "        print(e.errno, rel)\n")
    proc = m.sh(f"python3 -c '{script}' {' '.join(WRITABLE)}", user=USER, check=True)
    assert proc.stdout.split("\n")[:-1] == [f"{errno.EACCES} {rel}" for rel in WRITABLE]


def test_other_users_cannot_use_sysctl_style_writes(m):
    # what procps sysctl -w does: fopen("w") + fprintf + fclose
    proc = m.sh("printf 300 > proc/sys/net/core/netdev_budget", user=USER)
    assert proc.returncode != 0 and "Permission denied" in proc.stderr
    assert m.read("proc/sys/net/core/netdev_budget") == "300\n"


@pytest.mark.parametrize("rel", READ_ONLY)
def test_root_cannot_write_read_only_files(m, rel):
    assert os.geteuid() == 0
    before = m.read(rel)
    proc = m.sh(f"echo 1 > {rel}")
    assert proc.returncode == 1 and "Permission denied" in proc.stderr
    with pytest.raises(PermissionError):
        os.open(m / rel, os.O_WRONLY)
    with pytest.raises(PermissionError):
        os.open(m / rel, os.O_RDWR)
    if rel not in ("procnet/clock/lag_ns", "procnet/stats.json"):
        assert m.read(rel) == before


def test_root_can_write_writable_files(m):
    m.sh("echo 300 > proc/sys/net/core/netdev_budget", check=True)
    assert m.read("proc/sys/net/core/netdev_budget") == "300\n"
