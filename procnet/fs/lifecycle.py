"""Mount lifecycle: checks before mounting, serve (foreground or background), umount and recovery.

Called by the CLI (`procnet mount`, `procnet umount`). Errors are ``MountError(code, message)``:
the CLI prints the message and exits with the code, without a traceback. The FUSE binding is
imported only inside ``serve`` so that a missing libfuse3 is a clear error, not an ImportError.

Signals: no Python handlers for SIGINT/SIGTERM. libfuse installs its own (only over SIG_DFL),
unmounts and returns from the loop; cleanup happens after that (fuse-notes §6).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Callable, NamedTuple

if TYPE_CHECKING:
    from procnet.fs import Tree

log = logging.getLogger("procnet.fs")

EXIT_OK = 0
EXIT_FAILURE = 1  # unexpected: libfuse refused the mount, the loop failed
# 2 is left to click for usage errors.
EXIT_BAD_MOUNTPOINT = 3  # missing, not a directory, not accessible
EXIT_ALREADY_MOUNTED = 4  # a live procnet or any other filesystem is mounted there
EXIT_NO_FUSE = 5  # /dev/fuse or libfuse3 missing
EXIT_NOT_PERMITTED = 6  # not root and cannot use /dev/fuse (or allow_other)
EXIT_DEAD_MOUNT = 7  # a FUSE mount whose server died (ENOTCONN): run `procnet umount`
EXIT_NOT_MOUNTED = 8  # umount: nothing (or not procnet) mounted there

FSTYPE = "fuse.procnet"
DEV_FUSE = "/dev/fuse"
FUSE_CONF = "/etc/fuse.conf"
# A tree whose busy work runs in a thread of its own (a Runtime started with start(), not driven
# by the loop) would otherwise hold the FUSE loop for 5 ms GIL slices (fuse-notes §7: 104
# reads/s at the default, ~1.2k at 0.5 ms). 10 us: docs/architecture.md §3. procnet's own
# mount has one thread and loses nothing by it.
SWITCH_INTERVAL_S = 0.00001
MNT_DETACH = 2  # <sys/mount.h>


class MountError(Exception):
    """A user-facing failure: print ``message``, exit with ``code``."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class MountEntry(NamedTuple):
    mountpoint: str
    fstype: str
    source: str


# ---------------------------------------------------------------- inspection


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo
    return field.encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "surrogateescape")


def find_mount(path: str, *, resolve: bool = True) -> MountEntry | None:
    """The topmost mount whose mountpoint is ``path``, from /proc/self/mountinfo.
    ``resolve=False`` takes ``path`` as absolute and real and never touches it: the serving
    thread itself asks that way (a stat of its own root would wait for itself)."""
    target = os.path.realpath(path) if resolve else path
    found = None
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if _unescape(fields[4]) == target:
                found = MountEntry(target, fields[sep + 1], _unescape(fields[sep + 2]))
    return found


def is_dead_mount(path: str) -> bool:
    """True for a FUSE mount whose server is gone: requests fail with ENOTCONN.
    (`mountpoint -q` still says yes there, so it is no health check.) stat alone can be
    answered from the kernel's attribute cache for attr_timeout; opendir always asks."""
    try:
        os.stat(path)
        os.close(os.open(path, os.O_RDONLY | os.O_DIRECTORY))
    except OSError as e:
        return e.errno == errno.ENOTCONN
    return False


def _find_libfuse3() -> str | None:
    if path := os.environ.get("FUSE_LIBRARY_PATH"):
        return path if os.path.exists(path) else None
    return ctypes.util.find_library(os.environ.get("FUSE_LIBRARY_NAME", "fuse3"))


def check_fuse_available() -> None:
    """Raise MountError unless this process can mount a FUSE filesystem."""
    if not os.path.exists(DEV_FUSE):
        raise MountError(
            EXIT_NO_FUSE,
            f"{DEV_FUSE} is missing: this kernel or container has no FUSE "
            "(try: modprobe fuse; for a container, pass --device /dev/fuse)",
        )
    if _find_libfuse3() is None:
        raise MountError(EXIT_NO_FUSE, "libfuse3 is not installed (apt-get install fuse3)")
    if not os.access(DEV_FUSE, os.R_OK | os.W_OK):
        raise MountError(EXIT_NOT_PERMITTED, f"permission denied on {DEV_FUSE}: run procnet mount as root")
    if os.geteuid() != 0:
        # Non-root mounts go through setuid fusermount3, which allows allow_other only if
        # the administrator opted in.
        if not shutil.which("fusermount3"):
            raise MountError(EXIT_NO_FUSE, "fusermount3 is missing (apt-get install fuse3), or run as root")
        if not _fuse_conf_allows_other():
            raise MountError(
                EXIT_NOT_PERMITTED,
                f"non-root mounts need 'user_allow_other' in {FUSE_CONF} "
                "(procnet mounts with allow_other); or run as root",
            )


def _fuse_conf_allows_other() -> bool:
    try:
        with open(FUSE_CONF, encoding="utf-8") as f:
            return any(line.split("#")[0].strip() == "user_allow_other" for line in f)
    except OSError:
        return False


def check_mountpoint(mountpoint: str) -> None:
    """Raise MountError unless ``mountpoint`` is an existing directory with nothing mounted on it."""
    if is_dead_mount(mountpoint):
        # Not recovered automatically: the dead mount may be another program's; say what to do.
        raise MountError(
            EXIT_DEAD_MOUNT,
            f"{mountpoint} is a dead FUSE mount (Transport endpoint is not connected): "
            f"its server was killed. Recover with: procnet umount {mountpoint}",
        )
    try:
        st = os.stat(mountpoint)
    except FileNotFoundError:
        raise MountError(EXIT_BAD_MOUNTPOINT, f"mountpoint {mountpoint} does not exist (mkdir -p it first)") from None
    except OSError as e:
        raise MountError(EXIT_BAD_MOUNTPOINT, f"cannot use mountpoint {mountpoint}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise MountError(EXIT_BAD_MOUNTPOINT, f"mountpoint {mountpoint} is not a directory")
    entry = find_mount(mountpoint)
    if entry is not None:
        hint = f"procnet umount {mountpoint}" if entry.fstype == FSTYPE else f"umount {mountpoint}"
        raise MountError(
            EXIT_ALREADY_MOUNTED, f"{mountpoint} is already mounted (type {entry.fstype}); unmount it first: {hint}"
        )


# ---------------------------------------------------------------- serve


def serve(
    tree: Tree | Callable[[], Tree],
    mountpoint: str,
    *,
    foreground: bool = True,
    on_ready: Callable[[], None] | None = None,
    log_file: str | os.PathLike | None = None,
) -> int:
    """Mount ``tree`` on ``mountpoint`` and serve it until SIGINT, SIGTERM, SIGHUP or unmount.

    ``tree`` may be a factory (a callable returning the Tree); it is then called in the
    serving process after any fork, so threads it starts (the engine) live in the daemon.
    ``on_ready`` is called once the mount answers (a stat of the root succeeded).

    Foreground: blocks; returns EXIT_OK after a clean stop. ``on_ready`` runs in a helper thread.
    Background: forks before FUSE starts, the daemon detaches (setsid, double fork); this call
    returns EXIT_OK once the daemon reports the mount ready, then calls ``on_ready`` here, or
    raises the daemon's MountError. Daemon stdout/stderr go to ``log_file`` (or /dev/null)
    once the mount is ready; until then mount errors still reach the caller's terminal.
    Raises MountError for every user-facing failure (see the EXIT_* codes).
    """
    mountpoint = os.path.realpath(mountpoint)  # as mountinfo spells it (_still_mounted)
    check_fuse_available()
    check_mountpoint(mountpoint)
    if foreground:
        return _serve_here(tree, mountpoint, on_ready, log_file, detached=False)
    return _serve_background(tree, mountpoint, on_ready, log_file)


def _serve_here(tree, mountpoint, on_ready, log_file, *, detached: bool) -> int:
    try:
        from procnet.fs import glue
    except OSError as e:  # mfusepy: "Unable to find libfuse"
        raise MountError(EXIT_NO_FUSE, f"cannot load libfuse3 ({e}); apt-get install fuse3") from None
    _setup_logging()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    # libfuse installs its handlers only over SIG_DFL, and a shell starts background jobs with
    # SIGINT ignored: reset them. Never install Python handlers (they would swallow the signals).
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
    if isinstance(tree, type) or not hasattr(tree, "stat"):
        tree = tree()  # a factory: build the tree (and its threads) in the serving process
    initialized = threading.Event()
    ready = threading.Event()
    ready_error: list[str] = []

    def await_mount() -> None:
        # Started from FUSE init; the stat is answered as soon as the loop serves requests.
        try:
            os.stat(mountpoint)
        except OSError as e:
            ready_error.append(e.strerror or str(e))
            log.error("%s was mounted but its root does not answer (%s); unmounting", mountpoint, e.strerror)
            with contextlib.suppress(OSError):
                _umount2(mountpoint, lazy=True)  # ends the loop; reported below
            return
        if log_file is not None or detached:
            _redirect_stdio(log_file)
        ready.set()
        log.info("serving %s (pid %d; open/read/release through %s)", mountpoint, os.getpid(),
                 glue.served_by)
        if on_ready:
            try:
                on_ready()
            except Exception:
                log.exception("on_ready callback failed")

    def on_init() -> None:
        initialized.set()
        threading.Thread(target=await_mount, name="procnet-ready", daemon=True).start()

    try:
        glue.run(tree, mountpoint, on_init=on_init)
    except RuntimeError as e:
        if not initialized.is_set():
            raise MountError(
                EXIT_FAILURE, f"libfuse could not mount {mountpoint} (fuse_main error {e}); see its message above"
            ) from None
        # libfuse3 reports a loop ended by SIGINT/SIGTERM/SIGHUP as failure; it has unmounted cleanly.
        log.info("stopped by signal; %s unmounted", mountpoint)
    else:
        log.info("stopped: %s was unmounted", mountpoint)
    if ready_error:
        raise MountError(EXIT_FAILURE, f"{mountpoint} was mounted but does not answer ({ready_error[0]}); see the log")
    return EXIT_OK


def _serve_background(tree, mountpoint, on_ready, log_file) -> int:
    """Fork before FUSE starts (libfuse's own threads and the tree's would not survive a fork).
    The detached daemon reports on a pipe: b"R" once ready, or b"E<code> <message>"."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # intermediate child: new session, then fork again so the daemon is no session leader
        os.close(read_fd)
        code = EXIT_FAILURE
        try:
            os.setsid()
            if os.fork() == 0:
                code = _daemon_main(tree, mountpoint, log_file, write_fd)
            else:
                code = EXIT_OK
        finally:
            os._exit(code)
    os.close(write_fd)
    os.waitpid(pid, 0)  # the intermediate child exits at once
    with os.fdopen(read_fd, "rb") as pipe:
        # Return on the ready byte without waiting for EOF: a process the tree forked may
        # still hold the pipe's write end.
        kind = pipe.read(1)
        if kind == b"R":
            if on_ready:
                on_ready()
            return EXIT_OK
        report = pipe.read()
    if kind == b"E":
        code, _, message = report.decode(errors="replace").partition(" ")
        raise MountError(int(code), message)
    raise MountError(EXIT_FAILURE, f"the procnet daemon for {mountpoint} exited before the mount was ready")


def _daemon_main(tree, mountpoint, log_file, report_fd) -> int:
    """Body of the background daemon: serve, reporting readiness or failure on ``report_fd``."""

    def report(msg: bytes) -> None:
        nonlocal report_fd
        if report_fd is not None:
            os.write(report_fd, msg)
            os.close(report_fd)
            report_fd = None

    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir("/")  # do not keep the caller's directory busy
        code = _serve_here(tree, mountpoint, lambda: report(b"R"), log_file, detached=True)
    except MountError as e:
        report(f"E{e.code} {e.message}".encode())
        code = e.code
    except BaseException:
        log.exception("procnet daemon failed")
        report(f"E{EXIT_FAILURE} the procnet daemon failed; see its log".encode())
        code = EXIT_FAILURE
    logging.shutdown()
    return code


def _redirect_stdio(log_file) -> None:
    """Point fds 1 and 2 at the daemon log (append) or /dev/null, e.g. so that a caller reading
    our inherited stdout/stderr pipe sees EOF once the daemon is up."""
    sys.stdout.flush()
    sys.stderr.flush()
    target = os.open(log_file if log_file is not None else os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(target, 1)
    os.dup2(target, 2)
    os.close(target)


def _setup_logging() -> None:
    """Log procnet.fs (and mfusepy's "fuse" logger) to stderr, i.e. the daemon log."""
    fmt = logging.Formatter("%(asctime)s procnet[%(process)d] %(levelname)s %(name)s: %(message)s")
    for name, level in (("procnet", logging.INFO), ("fuse", logging.WARNING)):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(fmt)
            logger.addHandler(handler)
            logger.setLevel(level)
            logger.propagate = False


# ---------------------------------------------------------------- umount


def umount(mountpoint: str) -> None:
    """Unmount a procnet mount, live or dead, in one call.

    Live: a plain unmount; the serving process sees it, leaves its loop and exits 0. If the
    mount is busy (a cwd or open file inside) it is detached lazily instead.
    Dead (its server was SIGKILLed; ENOTCONN): detached lazily, so mounting there works again.
    Refuses mounts that are not procnet's (MountError EXIT_NOT_MOUNTED).
    """
    mountpoint = os.path.abspath(mountpoint)
    entry = find_mount(mountpoint)
    if entry is None:
        raise MountError(EXIT_NOT_MOUNTED, f"{mountpoint} is not mounted")
    if entry.fstype != FSTYPE:
        raise MountError(EXIT_NOT_MOUNTED, f"{mountpoint} is a {entry.fstype} mount, not procnet; not unmounting it")
    lazy = is_dead_mount(mountpoint)
    try:
        _umount2(mountpoint, lazy=lazy)
    except OSError as e:
        if e.errno != errno.EBUSY or lazy:
            raise MountError(EXIT_FAILURE, f"cannot unmount {mountpoint}: {e.strerror}") from None
        log.info("%s is busy; detaching it lazily", mountpoint)
        try:
            _umount2(mountpoint, lazy=True)
        except OSError as e2:
            raise MountError(EXIT_FAILURE, f"cannot unmount {mountpoint}: {e2.strerror}") from None


def _umount2(mountpoint: str, *, lazy: bool) -> None:
    """umount2(2) as root; setuid fusermount3 otherwise. Raises OSError."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.umount2(os.fsencode(mountpoint), MNT_DETACH if lazy else 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), mountpoint)
        return
    fusermount = shutil.which("fusermount3") or shutil.which("fusermount")
    if fusermount is None:
        raise OSError(errno.EPERM, "fusermount3 not found (apt-get install fuse3) and not root", mountpoint)
    cmd = [fusermount, "-uz" if lazy else "-u", "--", mountpoint]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        busy = "busy" in proc.stderr
        raise OSError(errno.EBUSY if busy else errno.EPERM, proc.stderr.strip() or "fusermount3 failed", mountpoint)
