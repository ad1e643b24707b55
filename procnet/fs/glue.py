"""Serve a ``Tree`` through mfusepy on libfuse3: the only module in procnet that imports mfusepy.

Semantics (docs/fuse.md, measured in shared/fuse-notes.md):
- Files report st_size=0, as procfs does, and every open sets direct_io, so the kernel asks us
  for the content instead of stopping at i_size or caching pages.
- A readable open renders the whole file once with ``tree.read()``; reads are slices of that
  snapshot by offset (b'' past the end), so one ``cat`` sees one state, as with LXCFS and seq
  files. Handles stay seekable (SEEK_SET, pread), as procfs files are. RELEASE can arrive long
  after close under load, so snapshots already read to their end are kept only up to
  SNAPSHOT_BUDGET bytes in all; a dropped one answers b'' past its end and renders anew for
  a read before it, as seq_file does after a seek.
- Each write(2) goes to ``tree.write(path, data, offset)`` and reports what it returns.
  O_APPEND is ignored as procfs ignores it: offsets then count from 0 per handle.
- Errors: OSError with an errno from the tree goes to the client as that errno; any other
  exception is logged with its traceback and becomes EIO, and the mount keeps serving.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import hashlib
import itertools
import logging
import os
import select
import stat
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

# mfusepy prefers libfuse2 when both are installed; we want libfuse3 (atomic_o_trunc, maintained).
os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")

import mfusepy  # noqa: E402

from procnet.fs import NodeInfo, Tree  # noqa: E402

log = logging.getLogger("procnet.fs")

# Directories are dynamic (per-pid, per-device, per-cpu entries), so keep kernel caching short.
ENTRY_TIMEOUT_S = 0.5
ATTR_TIMEOUT_S = 0.5

MOUNT_OPTIONS = dict(
    allow_other=True,  # other users may read (and, by mode bits, write)...
    default_permissions=True,  # ...and the kernel checks those mode bits for them
    entry_timeout=ENTRY_TIMEOUT_S,
    attr_timeout=ATTR_TIMEOUT_S,
    fsname="procnet",
    subtype="procnet",  # /proc/mounts shows type fuse.procnet; umount() relies on it
)

# Background requests (RELEASE among them) the kernel may have in flight (fuse_conn_info).
MAX_BACKGROUND = 256

# Snapshots of handles already read to their end, kept until RELEASE (see _finish).
SNAPSHOT_BUDGET = 16 << 20

# The compiled entries for open, read and release (_install_hot_ops): the _hotops.ABI this
# module speaks, and the file where setup.py records the sha256 of the _hotops.pyx it built.
HOT_OPS_ABI = 2
HOT_OPS_HASH_FILE = "_hotops_hash"

_WRITE_BITS = 0o222
_READ_BITS = 0o444


@dataclass
class _Handle:
    path: str
    snapshot: bytes | None  # None for write-only and per-read handles: nothing is rendered
    append: bool = False
    written: int = 0  # bytes accepted on this handle so far
    per_read: bool = False  # every read goes to tree.read_at (proc_sys_read semantics)
    eof_at: int | None = None  # the snapshot was read to its end and dropped: its length


def _rel(path: str) -> str:
    return path.lstrip("/")


def _libfuse_session_calls():
    """fuse_get_session() and fuse_session_exited() of the libfuse mfusepy loaded (libfuse3)."""
    lib = getattr(mfusepy, "_libfuse", None)
    try:
        get_session, exited = lib.fuse_get_session, lib.fuse_session_exited
    except AttributeError:
        return None
    get_session.argtypes, get_session.restype = [ctypes.c_void_p], ctypes.c_void_p
    exited.argtypes, exited.restype = [ctypes.c_void_p], ctypes.c_int
    return get_session, exited


_SESSION_CALLS = _libfuse_session_calls()


def stop_requested() -> bool:
    """True once libfuse has been told to stop: its SIGINT/SIGTERM/SIGHUP handler (or
    fuse_exit) marks the session exited, and the loop ends after the current request.

    Only meaningful on the loop thread inside a callback (it reads the request's context). A
    long callback such as procnet/clock/advance polls it to give way to a signal at once."""
    if _SESSION_CALLS is None:
        return False
    try:
        fuse = mfusepy._libfuse.fuse_get_context().contents.fuse
        if not fuse:
            return False
        session = _SESSION_CALLS[0](fuse)
        return bool(session) and bool(_SESSION_CALLS[1](session))
    except (AttributeError, ValueError, OSError):
        return False


def _exit_loop() -> None:
    """fuse_exit() for the loop whose request this thread is answering: it ends after it."""
    lib = mfusepy._libfuse
    lib.fuse_exit.argtypes, lib.fuse_exit.restype = [ctypes.c_void_p], None
    ctx = lib.fuse_get_context()
    if ctx and ctx.contents.fuse:
        lib.fuse_exit(ctx.contents.fuse)


def _errno_of(name: str, path: str | None, exc: Exception) -> int:
    """The errno a failed callback answers: an OSError's own errno, else EIO (logged with
    its traceback; mfusepy itself would answer EINVAL, which reads like a parse error)."""
    if isinstance(exc, OSError):
        if isinstance(exc.errno, int) and exc.errno > 0:
            return exc.errno
        log.error("%s %s: OSError without errno; returning EIO", name, path, exc_info=exc)
    else:
        log.error("%s %s failed; returning EIO", name, path, exc_info=exc)
    return errno.EIO


def _errno_boundary(method: Callable) -> Callable:
    """Pass OSErrors with an errno through to mfusepy; answer EIO for anything else."""

    @functools.wraps(method)
    def wrapper(self, path, *args):
        try:
            return method(self, path, *args)
        except Exception as e:
            err = _errno_of(method.__name__, path, e)
            if err == getattr(e, "errno", None):
                raise
            raise mfusepy.FuseOSError(err) from e

    return wrapper


def _refuse(err: int) -> Callable:
    """An operation procfs does not support, answered with the errno procfs gives."""

    def op(self, *args):
        raise mfusepy.FuseOSError(err)

    return op


class TreeOperations(mfusepy.Operations):
    """Path-based FUSE callbacks over a Tree. Runs on the single FUSE loop thread (nothreads)."""

    use_ns = True  # integer nanosecond timestamps

    def __init__(self, tree: Tree, on_init: Callable[[], None] | None = None):
        self.tree = tree
        self.on_init = on_init
        if hasattr(tree, "set_stop_check"):  # lets long callbacks give way to SIGTERM
            tree.set_stop_check(stop_requested)
        self.mount_time_ns = time.time_ns()
        self._handles: dict[int, _Handle] = {}
        self._finished: OrderedDict[int, int] = OrderedDict()  # fh -> snapshot size, read to the end
        self._finished_bytes = 0
        self._next_fh = itertools.count(1)
        self.critical: BaseException | None = None  # what stopped the loop (callback_errno)

    def _stat(self, path: str) -> NodeInfo:
        info = self.tree.stat(_rel(path))
        if info is None:
            raise mfusepy.FuseOSError(errno.ENOENT)
        return info

    def init_with_config(self, conn, config):
        # RELEASE is a background request, and the kernel keeps at most max_background of
        # those in flight (default 12). With dozens of readers that leaves closes queued far
        # behind the opens, each holding its handle here (docs/reliability.md, finding 7).
        if conn is not None:
            conn.max_background = MAX_BACKGROUND
            conn.congestion_threshold = MAX_BACKGROUND * 3 // 4
        log.debug("FUSE init: mounted")
        if self.on_init:
            self.on_init()

    def destroy(self, path):
        log.info("unmounted")

    @_errno_boundary
    def getattr(self, path, fh=None):
        info = self._stat(path)
        kind = stat.S_IFDIR if info.is_dir else stat.S_IFREG
        t = self.mount_time_ns
        return {
            "st_mode": kind | (info.mode & 0o7777),
            "st_nlink": 2 if info.is_dir else 1,
            "st_uid": getattr(info, "uid", 0),
            "st_gid": getattr(info, "gid", 0),
            "st_size": 0,  # like procfs; content length is only known at open (direct_io)
            "st_atime": t,
            "st_mtime": t,
            "st_ctime": t,
        }

    @_errno_boundary
    def opendir(self, path):
        if not self._stat(path).is_dir:
            raise mfusepy.FuseOSError(errno.ENOTDIR)
        return 0

    @_errno_boundary
    def readdir(self, path, fh):
        return [".", "..", *self.tree.listdir(_rel(path))]

    # open, read and release are what every `cat` costs. Their work is in open_fh, read_fh
    # and release_fh, which _hotops's C entries call directly (_install_hot_ops); the
    # mfusepy methods below are the same calls for the fuse_main path.

    def open_fh(self, path: str, flags: int) -> int:
        """A new handle for an open(2) with ``flags``; raises OSError to refuse it."""
        info = self._stat(path)
        if info.is_dir:
            raise mfusepy.FuseOSError(errno.EISDIR)
        accmode = flags & os.O_ACCMODE
        wants_read = accmode in (os.O_RDONLY, os.O_RDWR)
        wants_write = accmode in (os.O_WRONLY, os.O_RDWR)
        # Root bypasses mode bits even with default_permissions; procfs does not.
        if (wants_write and not info.mode & _WRITE_BITS) or (wants_read and not info.mode & _READ_BITS):
            raise mfusepy.FuseOSError(errno.EACCES)
        per_read = wants_read and bool(getattr(info, "per_read", False))
        snapshot = self._render(_rel(path)) if wants_read and not per_read else None
        fh = next(self._next_fh)
        self._handles[fh] = _Handle(_rel(path), snapshot, append=bool(flags & os.O_APPEND),
                                    per_read=per_read)
        return fh

    def read_fh(self, fh: int, size: int, offset: int) -> bytes:
        """At most ``size`` bytes of handle ``fh`` from ``offset`` (b'' past the end)."""
        handle = self._handles[fh]
        if handle.per_read:
            data = self.tree.read_at(handle.path, offset, size)
            if not isinstance(data, bytes) or len(data) > size:
                raise TypeError(f"tree.read_at({handle.path!r}) returned {data!r:.40} for {size} bytes")
            return data
        snapshot = handle.snapshot
        if snapshot is None:
            if handle.eof_at is None:
                raise mfusepy.FuseOSError(errno.EBADF)  # a write-only handle
            if offset >= handle.eof_at:
                return b""
            # The snapshot was dropped (SNAPSHOT_BUDGET) and the reader seeks back before its
            # end: render anew, as seq_file does when it re-traverses after a seek.
            snapshot = handle.snapshot = self._render(handle.path)
            handle.eof_at = None
        if offset + size >= len(snapshot) and fh not in self._finished:
            self._finish(fh, len(snapshot))
        return snapshot[offset : offset + size]

    def release_fh(self, fh: int) -> None:
        self._handles.pop(fh, None)
        self._finished_bytes -= self._finished.pop(fh, 0)

    def callback_errno(self, name: str, path: str | None, exc: BaseException) -> int:
        """The errno for a callback of _hotops that raised ``exc``. Anything beyond an
        Exception (SystemExit, KeyboardInterrupt) also ends the loop and is raised again
        once the mount is gone, as mfusepy does for its own callbacks."""
        try:
            if isinstance(exc, Exception):
                return _errno_of(name, path, exc)
            self.critical = exc
            log.critical("%s %s: %r; stopping", name, path, exc)
            _exit_loop()
        except BaseException:                 # the C caller cannot take an exception
            log.exception("%s %s: while answering %r", name, path, exc)
        return errno.EIO

    @_errno_boundary
    def open(self, path, fi):
        fi.fh = self.open_fh(path, fi.flags)
        fi.direct_io = 1  # st_size is 0: without direct_io the kernel would read nothing
        return 0

    @_errno_boundary
    def read(self, path, size, offset, fi):
        return self.read_fh(fi.fh, size, offset)

    def _finish(self, fh: int, size: int) -> None:
        """A handle has been read to its end. Its snapshot stays (a pread back sees the same
        state) until release, or until finished snapshots exceed SNAPSHOT_BUDGET, oldest
        first: the kernel sends RELEASE as a background request, and under a flood of opens
        those wait (max_background) while each handle would keep its snapshot alive
        (measured: 3 GB after 600 s of 64 clients, docs/reliability.md)."""
        self._finished[fh] = size
        self._finished_bytes += size
        while self._finished_bytes > SNAPSHOT_BUDGET and len(self._finished) > 1:
            old, old_size = self._finished.popitem(last=False)
            self._finished_bytes -= old_size
            h = self._handles.get(old)
            if h is not None and h.snapshot is not None:
                h.snapshot, h.eof_at = None, len(h.snapshot)

    def _render(self, path: str) -> bytes:
        snapshot = self.tree.read(path)
        if not isinstance(snapshot, bytes):
            raise TypeError(f"tree.read({path!r}) returned {type(snapshot).__name__}, not bytes")
        return snapshot

    @_errno_boundary
    def write(self, path, data, offset, fi):
        if not data:
            return 0
        handle = self._handles[fi.fh]
        if handle.append:
            # The kernel puts O_APPEND writes at its cached i_size, which our own earlier writes
            # bumped. procfs ignores O_APPEND (`echo 3 >> f` sets 3): count from 0 per handle.
            offset = handle.written
        n = self.tree.write(handle.path, data, offset)
        # 0 or None would make the writer retry forever (fuse-notes §3.3).
        if not isinstance(n, int) or not 0 < n <= len(data):
            raise ValueError(f"tree.write({handle.path!r}) returned {n!r} for {len(data)} bytes; want 1..{len(data)}")
        handle.written += n
        return n

    @_errno_boundary
    def truncate(self, path, length, fh=None):
        # `echo 1 > f` truncates first (libfuse2 calls this; libfuse3 sends O_TRUNC to open).
        # procfs ignores the size; only check the file exists and is writable.
        info = self._stat(path)
        if info.is_dir:
            raise mfusepy.FuseOSError(errno.EISDIR)
        if not info.mode & _WRITE_BITS:
            raise mfusepy.FuseOSError(errno.EACCES)
        return 0

    # No flush(): libfuse answers ENOSYS once and the kernel stops sending FLUSH on close,
    # saving a round trip per close (each one waits for the GIL under a busy engine).

    def release(self, path, fi):
        self.release_fh(fi.fh)
        return 0

    @_errno_boundary
    def utimens(self, path, times=None):
        self._stat(path)  # procfs accepts `touch` on existing files and keeps no times
        return 0

    # What procfs answers (proc_sys_setattr, no create/mknod/... inode operations).
    create = _refuse(errno.ENOENT)  # `echo 1 > missing`: "No such file or directory"
    chmod = _refuse(errno.EPERM)
    chown = _refuse(errno.EPERM)
    mknod = _refuse(errno.EPERM)
    mkdir = _refuse(errno.EPERM)
    unlink = _refuse(errno.EPERM)
    rmdir = _refuse(errno.EPERM)
    rename = _refuse(errno.EPERM)
    symlink = _refuse(errno.EPERM)
    link = _refuse(errno.EPERM)


def run(tree: Tree, mountpoint: str, on_init: Callable[[], None] | None = None) -> None:
    """Mount ``tree`` on ``mountpoint`` and serve in this thread until unmounted or signalled.

    A tree with a ``background(pending)`` method (Tree's docstring) is served by our own loop,
    which runs that work between requests on this same thread (_serve_loop); any other tree by
    libfuse's loop (fuse_main). Either way open, read and release are answered by _hotops's C
    entries when they are built (_install_hot_ops), by mfusepy's callbacks otherwise.

    Raises RuntimeError(code) when libfuse reports failure; on libfuse3 that includes a clean
    stop by SIGINT/SIGTERM/SIGHUP (the caller tells the two apart, see lifecycle.serve)."""
    global _hot_ops_owner
    background = getattr(tree, "background", None)
    ops = TreeOperations(tree, on_init)
    try:
        with _fuse_main_replaced(background, ops):
            mfusepy.FUSE(
                ops,
                mountpoint,
                raw_fi=True,  # open() gets fuse_file_info, to set fh and direct_io
                nothreads=True,  # single loop thread: 5x faster under concurrent readers (fuse-notes §5)
                foreground=True,  # lifecycle.serve does its own fork, before FUSE starts
                **MOUNT_OPTIONS,
            )
    except RuntimeError:
        if ops.critical is None:
            raise
    finally:
        if _hot_ops_owner is ops:
            _hot_ops_owner = None
    if ops.critical is not None:
        raise ops.critical


# ---------------------------------------------------------------- our own loop
#
# libfuse's fuse_main() serves requests and nothing else, so the engine used to run in a thread
# of its own beside it: three busy parties (engine thread, FUSE thread, client) on a 2-CPU host,
# every request a wake-up of the FUSE thread onto a CPU the engine held, and 5-12% of
# backlog_threaded switches waited a scheduler tick for it (docs/architecture.md §3). Our loop
# is libfuse's single-threaded one (fuse_session_loop) with the tree's background work between
# requests: one thread, which finds a request by poll() instead of being woken for it.
# mfusepy builds the fuse_operations table and calls the module's fuse_main_real; we hand it
# one that does what libfuse's does (fuse_new, fuse_mount, signal handlers, loop, unmount).


class _FuseArgs(ctypes.Structure):  # struct fuse_args (fuse_opt.h)
    _fields_ = [("argc", ctypes.c_int), ("argv", ctypes.POINTER(ctypes.c_char_p)),
                ("allocated", ctypes.c_int)]


class _FuseBuf(ctypes.Structure):  # struct fuse_buf (fuse_common.h), with room for newer fields
    _fields_ = [("size", ctypes.c_size_t), ("flags", ctypes.c_int), ("mem", ctypes.c_void_p),
                ("fd", ctypes.c_int), ("pos", ctypes.c_int64), ("_newer", ctypes.c_size_t * 4)]


# fuse_main_real()'s result for a loop ended by a signal, as libfuse3 reports it (nonzero).
_EXIT_BY_SIGNAL = 8
# Requests _hotops.drain serves back to back, holding the GIL, before it returns to Python,
# where another thread asking for the GIL (the start-up "ready" thread) can get it.
DRAIN_MAX = 64
# How often, at most, the background work asks whether a request waits (a poll() each time).
PENDING_CHECK_S = 20e-6


def _session_api():
    lib = mfusepy._libfuse
    p, i, sz = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
    sigs = {"fuse_new": ([ctypes.POINTER(_FuseArgs), p, sz, p], p),
            "fuse_mount": ([p, ctypes.c_char_p], i), "fuse_unmount": ([p], None),
            "fuse_destroy": ([p], None), "fuse_get_session": ([p], p),
            "fuse_set_signal_handlers": ([p], i), "fuse_remove_signal_handlers": ([p], None),
            "fuse_session_fd": ([p], i), "fuse_session_exited": ([p], i),
            "fuse_session_receive_buf": ([p, ctypes.POINTER(_FuseBuf)], i),
            "fuse_session_process_buf": ([p, ctypes.POINTER(_FuseBuf)], None)}
    api = {}
    for name, (argtypes, restype) in sigs.items():
        f = getattr(lib, name)
        f.argtypes, f.restype = argtypes, restype
        api[name] = f
    api["free"] = ctypes.CDLL(None).free
    api["free"].argtypes, api["free"].restype = [p], None
    return api


@contextlib.contextmanager
def _fuse_main_replaced(background, tree_ops: TreeOperations):
    saved = mfusepy.fuse_main_real
    if background is None:
        mfusepy.fuse_main_real = functools.partial(_libfuse_main, saved, tree_ops)
    else:
        mfusepy.fuse_main_real = functools.partial(_fuse_main, _session_api(), background, tree_ops)
    try:
        yield
    finally:
        mfusepy.fuse_main_real = saved


def _libfuse_main(fuse_main_real, tree_ops, argc, argv, ops, op_size, user_data) -> int:
    """libfuse's own fuse_main_real(), with _hotops's entries for open, read and release."""
    _install_hot_ops(ops, tree_ops)
    return fuse_main_real(argc, argv, ops, op_size, user_data)


def _fuse_main(api, background, tree_ops, argc, argv, ops, op_size, user_data) -> int:
    """fuse_main_real() of libfuse3 (lib/helper.c) for mfusepy's argv ('fuse', -f, -s, -o
    OPTS, MOUNTPOINT), with _serve_loop() as its loop and _hotops's entries for open, read
    and release when they are built (_install_hot_ops)."""
    _install_hot_ops(ops, tree_ops)           # before fuse_new, which copies the table
    args = [argv[i] for i in range(argc)]
    mountpoint, opts = args[-1], [a for a in args[:-1] if a not in (b"-f", b"-s")]
    fargs = _FuseArgs(len(opts), (ctypes.c_char_p * len(opts))(*opts), 0)
    fuse = api["fuse_new"](ctypes.byref(fargs), ctypes.cast(ops, ctypes.c_void_p), op_size,
                           user_data)
    if not fuse:
        return 3                                  # libfuse has printed why
    try:
        if api["fuse_mount"](fuse, mountpoint) != 0:
            return 4
        se = api["fuse_get_session"](fuse)
        try:
            if api["fuse_set_signal_handlers"](se) != 0:
                return 6
            try:
                res = _serve_loop(api, se, background)
            finally:
                api["fuse_remove_signal_handlers"](se)
            # libfuse's read answers 0 both for an unmount and once a signal came
            # (fuse_session_receive_buf checks fuse_session_exited first); only after an
            # unmount is the mount gone from mountinfo.
            if res == 0 and _still_mounted(mountpoint):
                return _EXIT_BY_SIGNAL
            return res
        finally:
            api["fuse_unmount"](fuse)
    finally:
        api["fuse_destroy"](fuse)


_hot_ops_owner = None            # the TreeOperations _hotops serves (one at a time)
served_by = "not mounted"        # what answers open/read/release (lifecycle logs it)


def _hot_ops_module():
    """procnet.fs._hotops, or None and why not (PROCNET_FUSE_OPS=mfusepy, not built, or
    built from another version of _hotops.pyx than the one beside it)."""
    if os.environ.get("PROCNET_FUSE_OPS") == "mfusepy":
        return None, "PROCNET_FUSE_OPS=mfusepy"
    try:
        from procnet.fs import _hotops
    except ImportError as e:
        return None, f"not built ({e})"
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        with open(os.path.join(here, "_hotops.pyx"), "rb") as f:
            source = hashlib.sha256(f.read()).hexdigest()
        with open(os.path.join(here, HOT_OPS_HASH_FILE)) as f:
            built = f.read().strip()
    except OSError as e:
        return None, f"build record missing ({e})"
    if built != source or getattr(_hotops, "ABI", None) != HOT_OPS_ABI:
        return None, "_hotops.pyx changed since the build (run: bash scripts/bootstrap.sh)"
    return _hotops, "built from these sources"


def hot_ops_in_use() -> tuple[bool, str]:
    """Whether a mount started now answers open/read/release from _hotops, and why."""
    mod, why = _hot_ops_module()
    return mod is not None, why


def _install_hot_ops(ops, tree_ops: TreeOperations) -> None:
    """Point the open, read and release entries of mfusepy's fuse_operations table at
    _hotops's C functions, which call tree_ops directly (see _hotops.pyx for why)."""
    global _hot_ops_owner
    mod, why = _hot_ops_module()
    if mod is not None and _hot_ops_owner is not None:
        mod, why = None, "another mount of this process uses them"
    if mod is None:
        _set_served_by(f"mfusepy: {why}")
        return
    fi = mfusepy.fuse_file_info
    if fi.flags.offset != 0:                  # _hotops reads flags as the first int
        _set_served_by("mfusepy: unexpected fuse_file_info layout")
        return
    probe = fi()
    probe.direct_io = 1
    word = fi.direct_io.offset
    mask = ctypes.c_uint32.from_buffer(probe, word).value
    table = ctypes.addressof(ops.contents)
    for name, address in mod.entries(tree_ops, fi.fh.offset, word, mask).items():
        ctypes.c_void_p.from_address(table + getattr(mfusepy.fuse_operations, name).offset).value = address
    _hot_ops_owner = tree_ops
    _set_served_by("_hotops")


def _set_served_by(what: str) -> None:
    global served_by
    served_by = what
    log.debug("open/read/release through %s", what)


def _still_mounted(mountpoint: bytes) -> bool:
    from procnet.fs.lifecycle import find_mount  # lifecycle imports this module

    return find_mount(os.fsdecode(mountpoint), resolve=False) is not None


def _serve_loop(api, se, background) -> int:
    """fuse_session_loop() (lib/fuse_loop.c), running ``background(pending)`` whenever no
    request waits. ``pending()`` (poll() on /dev/fuse, at most every PENDING_CHECK_S) lets the
    background work stop as soon as one arrives; it returns how long the loop may sleep in
    poll() before it wants to run again (0: at once).

    /dev/fuse is non-blocking: a read with nothing waiting answers EAGAIN, so a busy mount
    reads request after request with no poll() or exited check between them (libfuse's read
    checks fuse_session_exited() itself and answers 0 once a signal came). That inner drain
    is _hotops.drain where built, the same loop in Python otherwise."""
    fd = api["fuse_session_fd"](se)
    os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    last_check = [0.0]

    def pending() -> bool:
        now = time.perf_counter()
        if now - last_check[0] < PENDING_CHECK_S:
            return False
        last_check[0] = now
        return bool(poller.poll(0))

    receive, process, exited = (api["fuse_session_receive_buf"], api["fuse_session_process_buf"],
                                api["fuse_session_exited"])
    buf = _FuseBuf()
    ref = ctypes.byref(buf)
    hot, _ = _hot_ops_module()
    if hot is not None:                       # the same loop in C: no ctypes calls per request
        drain = functools.partial(hot.drain, se, ctypes.addressof(buf),
                                  ctypes.cast(receive, ctypes.c_void_p).value,
                                  ctypes.cast(process, ctypes.c_void_p).value, DRAIN_MAX)
    else:
        def drain() -> int:
            for _ in range(DRAIN_MAX):
                res = receive(se, ref)
                if res <= 0:
                    return res
                process(se, ref)
            return 1
    try:
        while True:
            res = drain()
            if res > 0:
                continue
            if res == 0:                          # unmounted (ENODEV), or exited by a signal
                return 0
            if res != -errno.EAGAIN and res != -errno.EINTR:
                return -res                       # a read error
            if exited(se):
                return _EXIT_BY_SIGNAL
            wait_s = background(pending)
            # A signal does not end poll() (Python retries it), so the wait stays short
            # enough to notice fuse_session_exited() soon after SIGTERM.
            if wait_s:
                poller.poll(max(1, min(round(wait_s * 1000), 10)))
    finally:
        api["free"](buf.mem)
