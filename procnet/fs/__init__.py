"""FUSE glue: serves a tree of procfs/sysfs-style files on a mountpoint.

This package is the only part of procnet that talks to FUSE, and only ``glue.py`` imports the
binding (mfusepy on libfuse3). It serves any object that satisfies the ``Tree`` protocol below;
the kernel file table implements it. Importing ``procnet.fs`` does not load libfuse, so the
CLI can report "apt-get install fuse3" instead of crashing on import.

See docs/fuse.md for the semantics (snapshot per open, errno mapping, mount options, signals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "NodeInfo",
    "Tree",
    "MountError",
    "serve",
    "umount",
    "EXIT_OK",
    "EXIT_FAILURE",
    "EXIT_BAD_MOUNTPOINT",
    "EXIT_ALREADY_MOUNTED",
    "EXIT_NO_FUSE",
    "EXIT_NOT_PERMITTED",
    "EXIT_DEAD_MOUNT",
    "EXIT_NOT_MOUNTED",
]


@dataclass(frozen=True)
class NodeInfo:
    """What ``stat`` of one node reports. ``mode`` holds permission bits only (e.g. 0o644).

    The glue reads only these attributes (``per_read`` is optional), so a tree may return its
    own type with the same attributes instead of importing this one (keeps dependencies
    pointing down).
    """

    is_dir: bool
    mode: int
    uid: int = 0
    gid: int = 0
    per_read: bool = False  # answer each read(2) with tree.read_at() instead of a snapshot


class Tree(Protocol):
    """The file tree that the FUSE glue serves. Paths are relative, without a leading '/';
    '' is the root. Raise ``OSError(errno, message)`` to return a kernel errno to the
    client; any other exception is logged with its traceback and the client gets EIO."""

    def stat(self, path: str) -> NodeInfo | None:
        """The node at ``path``, or None if it does not exist (ENOENT)."""

    def listdir(self, path: str) -> list[str]:
        """Names in the directory ``path``, without '.' and '..'."""

    def read(self, path: str) -> bytes:
        """The whole content of the file, rendered from one consistent snapshot.
        Called once per open() of a readable handle; reads are then served from it."""

    def read_at(self, path: str, offset: int, size: int) -> bytes:
        """One read(2) call, for nodes whose stat() has ``per_read`` set (only those need
        this method): /proc/sys files render on every call and return data only at
        offset 0 (proc_sys_read). At most ``size`` bytes."""

    def write(self, path: str, data: bytes, offset: int) -> int:
        """Handle one write(2) call; return the byte count that call reports (1..len(data);
        procfs reports len(data) even for ignored writes at offset > 0)."""

    # Optional: ``background(pending) -> float`` is work the tree wants done between
    # requests, on the loop's own thread (KernelFS: the engine's clock). The loop calls it
    # whenever no request waits; it should return soon after ``pending()`` turns true (pending
    # polls /dev/fuse, at most every 20 us), and return how many seconds the loop may wait for
    # a request before calling it again (0: at once). A tree with it is served by the glue's
    # own loop instead of libfuse's (glue._serve_loop).
    #
    # Optional: ``set_stop_check(fn)`` is called once with a function that returns True once
    # the mount is stopping (SIGINT/SIGTERM/SIGHUP). A callback that runs long (the loop is
    # single-threaded, so it holds up every other request and the signal too) should poll it
    # and give up with OSError(EINTR).


from procnet.fs.lifecycle import (  # noqa: E402  (re-exported; imports no FUSE binding)
    EXIT_ALREADY_MOUNTED,
    EXIT_BAD_MOUNTPOINT,
    EXIT_DEAD_MOUNT,
    EXIT_FAILURE,
    EXIT_NO_FUSE,
    EXIT_NOT_MOUNTED,
    EXIT_NOT_PERMITTED,
    EXIT_OK,
    MountError,
    serve,
    umount,
)
