"""The FUSE glue on real mounts, driven by real clients (cat, bash, head, runuser, python).

The served tree is procnet.fs.selftest_tree (see its docstring for the files). No mocks: each
test mounts it with a daemon subprocess (fixtures in conftest.py) and checks what a shell sees.
Every test runs twice: with open/read/release answered by procnet.fs._hotops's C entries (the
default where they are built) and by mfusepy's callbacks (PROCNET_FUSE_OPS=mfusepy, the
fallback), so the two are held to the same behaviour.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fs_helpers import STOP_TIMEOUT_S, daemon_command, daemon_pids, wait_gone

from procnet.fs import (
    EXIT_ALREADY_MOUNTED,
    EXIT_BAD_MOUNTPOINT,
    EXIT_DEAD_MOUNT,
    EXIT_NO_FUSE,
    EXIT_NOT_MOUNTED,
    EXIT_NOT_PERMITTED,
    MountError,
    umount,
)
from procnet.fs.lifecycle import FSTYPE, find_mount
from procnet.fs.selftest_tree import BIG_LINES

TIMEOUT_S = 30  # for every client command: generous, but a hang still fails the test
ROOT_FILES = ["big", "counter", "dyn", "fail", "readonly", "value", "writes"]


def sh(cmd: str, *, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Run ``cmd`` with bash, as a user would type it."""
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=TIMEOUT_S, **kwargs)
    if check and proc.returncode != 0:
        pytest.fail(f"{cmd!r} exited {proc.returncode}: {proc.stderr}")
    return proc


def writes(mnt: Path) -> list[tuple[int, bytes]]:
    """The (offset, data) write calls the tree saw on `value`."""
    lines = (mnt / "writes").read_text().splitlines()
    return [(int(off), bytes.fromhex(data)) for off, data in (line.split() for line in lines)]


def read_all(path: Path, bufsize: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, bufsize):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@pytest.fixture(autouse=True, params=["hotops", "mfusepy"])
def fuse_ops(request, monkeypatch) -> str:
    """Which callbacks the daemons of this test answer open/read/release with."""
    if request.param == "mfusepy":
        monkeypatch.setenv("PROCNET_FUSE_OPS", "mfusepy")
    else:
        monkeypatch.delenv("PROCNET_FUSE_OPS", raising=False)
    return request.param


def test_the_daemon_says_which_callbacks_answer(mounted, fuse_ops):
    from procnet.fs import glue

    assert (mounted.path / "readonly").read_text() == "constant\n"
    log = mounted.log()
    if fuse_ops == "mfusepy":
        assert "open/read/release through mfusepy: PROCNET_FUSE_OPS=mfusepy" in log
        return
    in_use, why = glue.hot_ops_in_use()
    if not in_use and os.environ.get("CI") != "true":
        pytest.skip(f"_hotops not in use here: {why}")
    assert in_use, why        # CI builds them: a silent fallback would miss the mount's figures
    assert "open/read/release through _hotops" in log


def generations(big: bytes) -> set[bytes]:
    """The render generations found in a read of `big` (one if it came from one snapshot)."""
    return {line.split()[0] for line in big.splitlines()}


# ---------------------------------------------------------------- reads


def test_cat_sees_fresh_content_on_every_open(mounted):
    first = int(sh(f"cat {mounted.path}/counter").stdout)
    second = int(sh(f"cat {mounted.path}/counter").stdout)
    assert second == first + 1


def test_listing_and_stat_look_like_procfs(mounted):
    mnt = mounted.path
    assert sorted(os.listdir(mnt)) == ROOT_FILES
    assert sh(f"stat -c '%s %a %F %U' {mnt}/counter {mnt}/value {mnt}/dyn/ctl").stdout.splitlines() == [
        "0 444 regular empty file root",
        "0 644 regular empty file root",
        "0 200 regular empty file root",
    ]
    assert sh(f"stat -c '%a %F' {mnt}/dyn").stdout == "555 directory\n"
    entry = find_mount(str(mnt))
    assert entry is not None and entry.fstype == FSTYPE and entry.source == "procnet"


def test_big_file_reads_whole_with_any_buffer_size(mounted):
    big = mounted.path / "big"
    expected_len = BIG_LINES * len(b"000000 00000\n")
    for bufsize in (997, 4096, 65536, 1 << 20):
        data = read_all(big, bufsize)
        assert len(data) == expected_len, bufsize
        assert len(generations(data)) == 1, f"bufsize {bufsize}: mixed snapshots"
    cat = subprocess.run(["cat", str(big)], capture_output=True, timeout=TIMEOUT_S, check=True).stdout
    assert len(cat) == expected_len and len(generations(cat)) == 1


def test_tiny_reads_and_head(mounted):
    assert read_all(mounted.path / "readonly", 1) == b"constant\n"
    assert read_all(mounted.path / "readonly", 3) == b"constant\n"
    assert sh(f"head -c 5 {mounted.path}/readonly").stdout == "const"
    assert sh(f"head -n 2 {mounted.path}/big").stdout.splitlines()[1].endswith("00001")


def test_each_open_reads_its_own_snapshot(mounted):
    big = mounted.path / "big"
    fd1 = os.open(big, os.O_RDONLY)
    try:
        head1 = os.read(fd1, 100)
        other = read_all(big, 65536)  # a later open renders a new generation
        rest1 = read_all_fd(fd1)
    finally:
        os.close(fd1)
    assert generations(head1 + rest1) != generations(other)
    assert len(generations(head1 + rest1)) == 1


def read_all_fd(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def test_pread_and_seek_set_work(mounted):
    fd = os.open(mounted.path / "big", os.O_RDONLY)
    try:
        whole = os.pread(fd, 1 << 20, 0)
        assert os.pread(fd, 13, 13 * 7) == whole[13 * 7 : 13 * 8]
        assert os.lseek(fd, 26, os.SEEK_SET) == 26
        assert os.read(fd, 13) == whole[26:39]
        assert os.pread(fd, 100, len(whole) + 5) == b""  # past the end
    finally:
        os.close(fd)


def test_missing_paths_give_enoent(mounted):
    mnt = mounted.path
    with pytest.raises(FileNotFoundError):
        os.stat(mnt / "nope")
    assert "No such file or directory" in sh(f"cat {mnt}/nope", check=False).stderr
    # create of a missing name: ENOENT, as in /proc/sys
    proc = sh(f"echo 1 > {mnt}/nope", check=False)
    assert proc.returncode != 0 and "No such file or directory" in proc.stderr


# ---------------------------------------------------------------- writes


def test_echo_writes_one_call_at_offset_zero(mounted):
    mnt = mounted.path
    sh(f"echo 1 > {mnt}/value")
    assert (mnt / "value").read_text() == "1\n"
    assert writes(mnt) == [(0, b"1\n")]


def test_two_echos_in_one_open_write_at_offsets_0_and_2(mounted):
    mnt = mounted.path
    sh(f"(echo 4; echo 5) > {mnt}/value")
    assert writes(mnt) == [(0, b"4\n"), (2, b"5\n")]
    assert (mnt / "value").read_text() == "4\n"  # like procfs: only the write at 0 applies


def test_append_is_ignored_like_procfs(mounted):
    mnt = mounted.path
    sh(f"(echo 4; echo 5) > {mnt}/value")  # leaves the kernel's cached size at 4
    sh(f"echo 3 >> {mnt}/value")
    assert writes(mnt)[-1] == (0, b"3\n")
    assert (mnt / "value").read_text() == "3\n"


def test_python_and_printf_writes(mounted):
    value = mounted.path / "value"
    with open(value, "w") as f:
        f.write("8\n")
    assert value.read_text() == "8\n"
    sh(f"printf 7 > {value}")
    assert value.read_text() == "7\n"
    fd = os.open(value, os.O_WRONLY)
    try:
        assert os.pwrite(fd, b"9\n", 5) == 2  # reported as written, ignored (offset > 0)
    finally:
        os.close(fd)
    assert value.read_text() == "7\n"


def test_tree_errno_reaches_the_shell(mounted):
    proc = sh(f"echo abc > {mounted.path}/value", check=False)
    assert proc.returncode != 0
    assert "write error: Invalid argument" in proc.stderr


def test_root_cannot_write_a_0444_file(mounted):
    mnt = mounted.path
    proc = sh(f"echo 1 > {mnt}/readonly", check=False)
    assert proc.returncode != 0 and "Permission denied" in proc.stderr
    with pytest.raises(PermissionError):
        os.open(mnt / "readonly", os.O_WRONLY)
    with pytest.raises(PermissionError):  # and nobody reads a write-only file
        os.open(mnt / "dyn" / "ctl", os.O_RDONLY)


def test_non_root_can_read_but_not_write(mounted):
    mnt = mounted.path
    nobody = ["runuser", "-u", "nobody", "--"]
    read = subprocess.run([*nobody, "cat", f"{mnt}/readonly"], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert (read.returncode, read.stdout) == (0, "constant\n"), read.stderr
    write = subprocess.run(
        [*nobody, "sh", "-c", f"echo 1 > {mnt}/value"], capture_output=True, text=True, timeout=TIMEOUT_S
    )
    assert write.returncode != 0 and "Permission denied" in write.stderr
    assert writes(mnt) == []


def test_changing_the_tree_structure_is_refused_like_procfs(mounted):
    mnt = mounted.path
    for cmd in (f"chmod 600 {mnt}/value", f"rm {mnt}/value", f"mkdir {mnt}/x", f"mv {mnt}/value {mnt}/v2"):
        proc = sh(cmd, check=False)
        assert proc.returncode != 0 and "Operation not permitted" in proc.stderr, cmd
    sh(f"touch {mnt}/value")  # procfs accepts touch on an existing file
    sh(f": > {mnt}/value")  # and a bare truncate


def test_dynamic_directory_entries_appear_and_disappear(mounted):
    dyn = mounted.path / "dyn"
    sh(f"echo add eth9 > {dyn}/ctl")
    assert os.listdir(dyn) == ["ctl", "eth9"]
    assert (dyn / "eth9").read_text() == "eth9\n"
    sh(f"echo del eth9 > {dyn}/ctl")
    assert os.listdir(dyn) == ["ctl"]
    deadline = time.monotonic() + 3  # the kernel may keep the dentry for entry_timeout (0.5 s)
    while (dyn / "eth9").exists():
        assert time.monotonic() < deadline, "dyn/eth9 still visible after 3 s"
        time.sleep(0.05)
    proc = sh(f"echo bogus > {dyn}/ctl", check=False)
    assert "Invalid argument" in proc.stderr


def test_exception_in_tree_gives_eio_and_mount_keeps_serving(mounted):
    mnt = mounted.path
    assert "Input/output error" in sh(f"cat {mnt}/fail", check=False).stderr
    proc = sh(f"echo 1 > {mnt}/fail", check=False)
    assert proc.returncode != 0 and "Input/output error" in proc.stderr
    assert (mnt / "readonly").read_text() == "constant\n"
    log = mounted.log()
    assert "RuntimeError: selftest: rendering 'fail' always fails" in log
    assert "KeyError" in log and "Traceback" in log


# ---------------------------------------------------------------- lifecycle


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_cleanly(mounted, sig):
    assert (mounted.path / "readonly").read_text() == "constant\n"
    assert mounted.stop(sig) == 0
    assert find_mount(str(mounted.path)) is None
    assert os.listdir(mounted.path) == []


def test_umount_of_a_live_mount_ends_the_daemon(mounted):
    umount(str(mounted.path))
    assert mounted.proc.wait(STOP_TIMEOUT_S) == 0
    assert find_mount(str(mounted.path)) is None


def test_sigkill_leaves_enotconn_and_umount_recovers_in_one_call(start_daemon, mount_dir):
    daemon = start_daemon()
    daemon.proc.kill()
    daemon.proc.wait(STOP_TIMEOUT_S)
    with pytest.raises(OSError) as dead:
        os.listdir(mount_dir)
    assert dead.value.errno == errno.ENOTCONN
    again = subprocess.run(daemon_command(mount_dir), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert again.returncode == EXIT_DEAD_MOUNT
    assert f"procnet umount {mount_dir}" in again.stderr and "Traceback" not in again.stderr
    umount(str(mount_dir))
    assert find_mount(str(mount_dir)) is None
    remounted = start_daemon()
    assert (remounted.path / "readonly").read_text() == "constant\n"


def test_background_returns_only_when_ready(mount_dir, tmp_path):
    log = tmp_path / "daemon.log"
    # capture_output also proves the daemon let go of our pipes (else this would hang)
    proc = subprocess.run(
        daemon_command(mount_dir, "--background", "--log-file", str(log)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"ready {mount_dir}\n"
    assert (mount_dir / "readonly").read_text() == "constant\n"  # no waiting: it is ready
    [pid] = daemon_pids(mount_dir)
    # detached: a new session (setsid), and not its leader (double fork), so no controlling tty
    assert os.getsid(pid) not in (os.getsid(0), pid)
    umount(str(mount_dir))
    assert wait_gone(pid, STOP_TIMEOUT_S)
    assert "serving" in log.read_text()


def run_daemon(mountpoint, *, env=None, background=False) -> subprocess.CompletedProcess:
    args = ["--background"] if background else []
    return subprocess.run(
        daemon_command(mountpoint, *args), capture_output=True, text=True, timeout=TIMEOUT_S, env=env
    )


def assert_error(proc: subprocess.CompletedProcess, code: int, text: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert text in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
def test_bad_mountpoint(mount_dir, background):
    assert_error(run_daemon(mount_dir / "missing", background=background), EXIT_BAD_MOUNTPOINT, "does not exist")
    (mount_dir / "file").write_text("")
    assert_error(run_daemon(mount_dir / "file", background=background), EXIT_BAD_MOUNTPOINT, "not a directory")
    (mount_dir / "file").unlink()


def test_already_mounted(mounted, mount_dir):
    assert_error(run_daemon(mount_dir), EXIT_ALREADY_MOUNTED, "already mounted (type fuse.procnet)")
    other = mount_dir.parent / (mount_dir.name + "-tmpfs")
    other.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "none", str(other)], check=True, timeout=TIMEOUT_S)
        try:
            assert_error(run_daemon(other), EXIT_ALREADY_MOUNTED, "already mounted (type tmpfs)")
            with pytest.raises(MountError) as refused:  # umount leaves other filesystems alone
                umount(str(other))
            assert refused.value.code == EXIT_NOT_MOUNTED
            assert find_mount(str(other)) is not None
        finally:
            subprocess.run(["umount", str(other)], check=True, timeout=TIMEOUT_S)
    finally:
        other.rmdir()


def test_umount_of_nothing(mount_dir):
    with pytest.raises(MountError) as err:
        umount(str(mount_dir))
    assert err.value.code == EXIT_NOT_MOUNTED and "not mounted" in err.value.message


def test_fuse_unavailable(mount_dir):
    no_lib = {**os.environ, "FUSE_LIBRARY_NAME": "procnet-test-no-such-fuse"}
    assert_error(run_daemon(mount_dir, env=no_lib), EXIT_NO_FUSE, "apt-get install fuse3")
    # A private mount namespace where /dev is empty: no /dev/fuse.
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs none /dev && exec "$@"', "sh"]
    assert_error(
        subprocess.run([*cmd, *daemon_command(mount_dir)], capture_output=True, text=True, timeout=TIMEOUT_S),
        EXIT_NO_FUSE,
        "/dev/fuse is missing",
    )


def test_not_permitted_without_access_to_dev_fuse(mount_dir):
    if os.stat("/dev/fuse").st_mode & 0o006:
        pytest.skip("/dev/fuse is world-accessible here")  # then non-root depends on fuse.conf
    # The interpreter lives under /root (0700), so drop to nobody inside it after importing.
    code = (
        "import os, sys, ctypes.util, subprocess, shutil\n"
        "import procnet.fs.selftest_tree as selftest\n"
        "os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
        f"sys.exit(selftest.main([{str(mount_dir)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert_error(proc, EXIT_NOT_PERMITTED, "permission denied on /dev/fuse")


# ---------------------------------------------------------------- snapshots held until RELEASE


def test_snapshots_read_to_the_end_are_bounded_until_release(fuse_env, monkeypatch):
    """The kernel sends RELEASE in the background: under a flood of opens it can come long
    after close, and every handle kept its snapshot (3 GB after 600 s of 64 clients,
    docs/reliability.md). Finished snapshots are kept up to SNAPSHOT_BUDGET only; one that was
    dropped still answers EOF past its end and renders anew for a read before it."""
    from types import SimpleNamespace

    from procnet.fs import glue
    from procnet.fs.selftest_tree import SelftestTree

    monkeypatch.setattr(glue, "SNAPSHOT_BUDGET", 3 * BIG_LINES * 13)   # three `big` snapshots
    ops = glue.TreeOperations(SelftestTree())
    fis = []
    for _ in range(10):                                   # ten opens, read to the end, no release
        fi = SimpleNamespace(flags=os.O_RDONLY, fh=0, direct_io=0)
        ops.open("/big", fi)
        whole = ops.read("/big", 1 << 20, 0, fi)
        assert ops.read("/big", 4096, len(whole), fi) == b""
        fis.append((fi, whole))
    kept = [fi for fi, _ in fis if ops._handles[fi.fh].snapshot is not None]
    assert len(kept) == 3 and ops._finished_bytes == 3 * len(whole)
    newest, newest_whole = fis[-1]
    assert ops.read("/big", 13, 13, newest) == newest_whole[13:26]    # kept: the same state
    oldest, oldest_whole = fis[0]
    assert ops.read("/big", 4096, len(oldest_whole), oldest) == b""   # dropped: still EOF
    again = ops.read("/big", 13, 0, oldest)                           # seek back: a new render
    assert len(again) == 13 and again != oldest_whole[:13]
    for fi, _ in fis:
        ops.release("/big", fi)
    assert not ops._handles and not ops._finished and ops._finished_bytes == 0


def test_callback_errno_answers_like_mfusepy_and_keeps_what_must_stop_the_loop(fuse_env, caplog):
    """_hotops's entries answer a raising TreeOperations call with callback_errno(): an
    OSError's errno, EIO (logged) for anything else, and EIO plus a recorded stop for what is
    not an Exception (run() raises it once the mount is gone). Outside a loop nothing stops."""
    from procnet.fs import glue
    from procnet.fs.selftest_tree import SelftestTree

    ops = glue.TreeOperations(SelftestTree())
    assert ops.callback_errno("open", "/x", OSError(errno.ENOENT, "gone")) == errno.ENOENT
    assert ops.callback_errno("read", "/x", OSError("no errno")) == errno.EIO
    assert ops.callback_errno("read", "/x", KeyError("bug")) == errno.EIO
    assert "read /x failed; returning EIO" in caplog.text and ops.critical is None
    stop = SystemExit(3)
    assert ops.callback_errno("release", None, stop) == errno.EIO
    assert ops.critical is stop
