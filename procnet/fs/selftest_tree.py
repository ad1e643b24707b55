"""A tiny in-memory Tree for exercising the FUSE glue without the kernel file table.

    python -m procnet.fs.selftest_tree MNT [--background] [--log-file PATH]

tests/test_fs_mount.py mounts it; it is also a quick check that FUSE works on a machine.
Files (modes as shown):
    counter    0444  "<n>\\n", n grows by one on every open (render)
    value      0644  an int; like proc_dointvec, only a write at offset 0 is applied
    writes     0444  one line per write to `value`: "<offset> <data as hex>"
    readonly   0444  "constant\\n"
    big        0444  ~200 KB of lines "<generation> <line number>"; generation = open count
    fail       0644  reading raises RuntimeError, writing raises KeyError (the glue answers EIO)
    dyn/ctl    0200  write "add NAME" or "del NAME" to create or remove dyn/NAME (0444, "NAME\\n")
"""

from __future__ import annotations

import argparse
import errno
import sys

from procnet.fs import MountError, NodeInfo, serve

BIG_LINES = 16_000  # x 13 bytes = 208 KB


class SelftestTree:
    def __init__(self) -> None:
        self.opens = 0
        self.value = 0
        self.writes: list[tuple[int, bytes]] = []
        self.dyn: set[str] = set()
        self.files = {
            "counter": (0o444, self._counter),
            "value": (0o644, lambda: b"%d\n" % self.value),
            "writes": (0o444, lambda: b"".join(b"%d %s\n" % (o, d.hex().encode()) for o, d in self.writes)),
            "readonly": (0o444, lambda: b"constant\n"),
            "big": (0o444, self._big),
            "fail": (0o644, self._fail),
            "dyn/ctl": (0o200, lambda: b""),
        }

    def _counter(self) -> bytes:
        self.opens += 1
        return b"%d\n" % self.opens

    def _big(self) -> bytes:
        self.opens += 1
        return b"".join(b"%06d %05d\n" % (self.opens % 1_000_000, i) for i in range(BIG_LINES))

    def _fail(self) -> bytes:
        raise RuntimeError("selftest: rendering 'fail' always fails")

    def stat(self, path: str) -> NodeInfo | None:
        if path in ("", "dyn"):
            return NodeInfo(is_dir=True, mode=0o555)
        if path in self.files:
            return NodeInfo(is_dir=False, mode=self.files[path][0])
        if path.startswith("dyn/") and path[4:] in self.dyn:
            return NodeInfo(is_dir=False, mode=0o444)
        return None

    def listdir(self, path: str) -> list[str]:
        if path == "":
            return ["counter", "value", "writes", "readonly", "big", "fail", "dyn"]
        if path == "dyn":
            return ["ctl", *sorted(self.dyn)]
        raise OSError(errno.ENOTDIR, "not a directory")

    def read(self, path: str) -> bytes:
        if path in self.files:
            return self.files[path][1]()
        if path.startswith("dyn/") and path[4:] in self.dyn:
            return path[4:].encode() + b"\n"
        raise OSError(errno.ENOENT, "no such file")

    def write(self, path: str, data: bytes, offset: int) -> int:
        if path == "value":
            self.writes.append((offset, data))
            if offset == 0:  # procfs applies the first write of a handle only
                try:
                    self.value = int(data.strip())
                except ValueError:
                    raise OSError(errno.EINVAL, f"value must be an integer (got {data!r})") from None
            return len(data)
        if path == "fail":
            raise KeyError("selftest: writing 'fail' always fails")
        if path == "dyn/ctl":
            verb, _, name = data.decode().strip().partition(" ")
            if verb == "add" and name and "/" not in name:
                self.dyn.add(name)
            elif verb == "del" and name in self.dyn:
                self.dyn.remove(name)
            else:
                raise OSError(errno.EINVAL, f"usage: add NAME | del NAME (got {data!r})")
            return len(data)
        raise OSError(errno.EIO, "not writable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m procnet.fs.selftest_tree", description=__doc__.split("\n")[0])
    parser.add_argument("mountpoint")
    parser.add_argument("--background", action="store_true", help="return once mounted; the daemon detaches")
    parser.add_argument("--log-file", help="daemon log (default: stderr; /dev/null in the background)")
    args = parser.parse_args(argv)
    try:
        return serve(
            SelftestTree,
            args.mountpoint,
            foreground=not args.background,
            on_ready=lambda: print(f"ready {args.mountpoint}", flush=True),
            log_file=args.log_file,
        )
    except MountError as e:
        print(f"procnet: {e.message}", file=sys.stderr)
        return e.code


if __name__ == "__main__":
    sys.exit(main())
