"""The floor of a Python FUSE server: the smallest mfusepy filesystem procnet could be.

One directory with one file, `softnet_stat`: 16 rows of softnet_stat-shaped text (~2.2 KB),
rendered anew on every open, served exactly as procnet serves its files (libfuse3, the single
loop thread, st_size 0, direct_io per open, the same mount options). It has no engine, no lock,
no table and no path resolution, so its read rate is what the binding, libfuse and the kernel
cost by themselves on this machine (docs/performance.md "The mount, idle").

    python -m bench.minimal_fs MOUNTPOINT      # serves until SIGTERM/SIGINT
"""
from __future__ import annotations

import errno
import os
import stat
import sys

os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")

import mfusepy  # noqa: E402

FILE = "softnet_stat"
ROWS = 16


def render(counter: int) -> bytes:
    return "".join("%08x " * 14 % (counter, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, cpu, 0)
                   + "%08x\n" % 0 for cpu in range(ROWS)).encode()


class Minimal(mfusepy.Operations):
    use_ns = True

    def __init__(self) -> None:
        self.opens = 0
        self.snapshots: dict[int, bytes] = {}

    def getattr(self, path, fh=None):
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2}
        if path == "/" + FILE:
            return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": 0}
        raise mfusepy.FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", FILE]

    def open(self, path, fi):
        if path != "/" + FILE:
            raise mfusepy.FuseOSError(errno.ENOENT)
        self.opens += 1
        fi.fh = self.opens
        fi.direct_io = 1
        self.snapshots[fi.fh] = render(self.opens)
        return 0

    def read(self, path, size, offset, fi):
        return self.snapshots[fi.fh][offset:offset + size]

    def release(self, path, fi):
        self.snapshots.pop(fi.fh, None)
        return 0


def main(mountpoint: str) -> int:
    sys.setswitchinterval(0.0005)               # as procnet's daemon (no other thread here)
    try:
        mfusepy.FUSE(Minimal(), mountpoint, raw_fi=True, nothreads=True, foreground=True,
                     allow_other=True, default_permissions=True, entry_timeout=0.5,
                     attr_timeout=0.5, fsname="minimal", subtype="minimal")
    except RuntimeError:
        pass                                    # libfuse3 reports a signalled stop this way
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
