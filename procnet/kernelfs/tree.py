"""KernelFS: the file table served as a tree (the `procnet.fs.Tree` protocol), without FUSE.

Every operation resolves a path against `TABLE`, binds placeholders to live objects, and runs
the entry's show/store under the runtime's lock (one read = one consistent snapshot; one write
is applied between two engine events). Tests, notebooks and the FUSE glue all use this class.

Renders are reused while the runtime's `generation` is unchanged, i.e. while no engine slice,
advance step or write has happened since: an idle machine is rendered once, not per read, and
a reader of a running machine sees the state at the last slice boundary (at most one slice,
about 2 ms of wall time, old) without stopping the engine for it. While the realtime clock
runs, a render is also shared for RENDER_SHARE_S of wall time across the clock's own slices
(never across a write, a clock setting or an advance: the runtime's `epoch`), so readers of a
busy machine do not each stop it for a state a millisecond newer. A write bumps both before
it returns, so a read after a write always sees it.
"""
from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass

from .table import TABLE, Ctx, Entry

log = logging.getLogger("procnet")

# Control-file errors in the log and procnet/dmesg: printk_ratelimited()'s shape (a burst per
# interval), with a larger burst since each message answers a user's own write.
LOG_INTERVAL_S = 5.0
LOG_BURST = 100
LOG_MAX_CHARS = 240

# Reused renders: how many, and the largest one kept (bigger renders are made per read).
RENDER_CACHE_ENTRIES = 256
RENDER_CACHE_MAX_BYTES = 64 << 10
RENDER_SHARE_S = 0.001     # a running machine's render serves this long (wall time), see above


@dataclass(frozen=True)
class Node:
    """What stat() reports (the attributes procnet.fs.NodeInfo has)."""

    is_dir: bool
    mode: int
    uid: int = 0
    gid: int = 0
    per_read: bool = False      # every read() is answered by read_at() (proc_sys_read)


DIR = Node(True, 0o555)


def _split(path: str) -> list[str]:
    return [p for p in path.strip("/").split("/") if p]


def _index(comp: str, prefix: str) -> int | None:
    """'rx-3' -> 3 for prefix 'rx-'; None unless comp is the prefix and a canonical number."""
    digits = comp[len(prefix):]
    if not comp.startswith(prefix) or not digits.isdigit() or str(int(digits)) != digits:
        return None
    return int(digits)


class KernelFS:
    def __init__(self, runtime, table: list[Entry] | None = None) -> None:
        self.rt = runtime
        self.table = TABLE if table is None else table
        self._patterns = [(_split(e.path), e) for e in self.table]
        # lookup() only tries the patterns that can match a path's first component, in table
        # order (the first match wins).
        self._wild_first = [(p, e) for p, e in self._patterns if p[0].startswith("<")]
        self._by_first = {first: [(p, e) for p, e in self._patterns
                                  if p[0] == first or p[0].startswith("<")]
                          for first in {p[0] for p, _ in self._patterns}}
        # Paths without placeholders (the sysctls, proc/stat, ...) resolve by one dict lookup.
        self._static: dict[str, Entry] = {}
        for e in self.table:
            if "<" not in e.path:
                self._static.setdefault(e.path, e)          # the first entry wins, as below
        # key -> (generation, epoch, time rendered, result)
        self._renders: dict[tuple, tuple[int, int, float, object]] = {}
        self._log_window = float("-inf")   # ratelimit of control-file error messages
        self._log_count = 0
        self._log_missed = 0

    # ------------------------------------------------------------------ resolution
    def _candidates(self, comp: str, key: str, ctx: Ctx) -> list[tuple[str, Ctx]]:
        """Expand a placeholder component into (name, bound ctx) pairs for the live machine."""
        m = self.rt.machine
        if key == "<pid>":
            return [(str(t.pid), _bind(ctx, task=t)) for t in m.task_list()]
        if key == "<dev>":
            return [(d.name, _bind(ctx, dev=d)) for d in m.netdevs.values()]
        if key == "<rxq>":
            return [(f"rx-{q.index}", _bind(ctx, rxq=q)) for q in ctx.dev.rxqs]
        if key == "<cpu>":
            return [(f"cpu{c.id}", _bind(ctx, cpu=c)) for c in m.cpus]
        return [(key, ctx)]

    def _bind_one(self, comp: str, key: str, ctx: Ctx) -> Ctx | None:
        """The one candidate named `comp` (what _candidates would list under that name), found
        directly: a lookup must not build a context for every task or CPU."""
        m = self.rt.machine
        if key == "<pid>":
            t = m.tasks.get(int(comp)) if _index(comp, "") is not None else None
            return _bind(ctx, task=t) if t is not None else None     # the dead are released
        if key == "<dev>":
            d = m.netdevs.get(comp)
            return _bind(ctx, dev=d) if d is not None else None
        if key == "<rxq>":
            n = _index(comp, "rx-")
            return _bind(ctx, rxq=ctx.dev.rxqs[n]) if n is not None and n < len(ctx.dev.rxqs) \
                else None
        if key == "<cpu>":
            n = _index(comp, "cpu")
            return _bind(ctx, cpu=m.cpus[n]) if n is not None and n < len(m.cpus) else None
        return ctx if comp == key else None

    def _match(self, parts: list[str], pattern: list[str], ctx: Ctx) -> Ctx | None:
        """Bind `parts` (a prefix of a path) against `pattern`; None if it does not match."""
        if len(parts) > len(pattern):
            return None
        for comp, key in zip(parts, pattern):
            if key[0] == "<":
                ctx = self._bind_one(comp, key, ctx)
                if ctx is None:
                    return None
            elif key != comp:
                return None
        return ctx

    def lookup(self, path: str) -> tuple[Entry | None, Ctx | None, bool]:
        """(entry, ctx, is_dir) for a path; (None, None, False) if it does not exist."""
        root = Ctx(self.rt)
        entry = self._static.get(path)
        if entry is not None and (entry.when is None or entry.when(root)):
            return entry, root, False
        parts = _split(path)
        is_dir = not parts
        patterns = self._by_first.get(parts[0], self._wild_first) if parts else self._patterns
        for pattern, entry in patterns:
            ctx = self._match(parts, pattern, root)
            if ctx is None:
                continue
            if len(parts) == len(pattern):
                if entry.when is None or entry.when(ctx):
                    return entry, ctx, False
            elif len(parts) < len(pattern):
                is_dir = True
        return None, None, is_dir

    def _reuse(self, key: tuple, make):
        """make() under the lock, or its result from an earlier call at the same generation.

        The check needs no lock: the generation only moves under the lock, after a change, so
        an equal one means the result still holds (see the module docstring)."""
        rt = self.rt
        rt.note_file_op()
        hit = self._renders.get(key)
        if hit is not None and (hit[0] == rt.generation or (
                hit[1] == rt.epoch and rt.clock_mode == "realtime"
                and time.monotonic() - hit[2] < RENDER_SHARE_S)):
            return hit[3]
        with rt.access(mutates=False):
            generation, epoch = rt.generation, rt.epoch
            result = make()
        if len(self._renders) >= RENDER_CACHE_ENTRIES:
            self._renders.clear()          # bounded: start over rather than track recency
        if not isinstance(result, bytes) or len(result) <= RENDER_CACHE_MAX_BYTES:
            self._renders[key] = (generation, epoch, time.monotonic(), result)
        return result

    # ------------------------------------------------------------------ Tree protocol
    def stat(self, path: str) -> Node | None:
        entry = self._static.get(path)
        if entry is not None and entry.when is None:     # fixed for the life of the mount
            self.rt.note_file_op()
            return Node(False, entry.mode, per_read=entry.read_call is not None)
        return self._reuse(("stat", path), lambda: self._stat(path))

    def _stat(self, path: str) -> Node | None:
        entry, _, is_dir = self.lookup(path)
        if entry is not None:
            return Node(False, entry.mode, per_read=entry.read_call is not None)
        return DIR if is_dir else None

    def listdir(self, path: str) -> list[str]:
        parts = _split(path)
        names: dict[str, None] = {}
        with self.rt.access(mutates=False):
            for pattern, entry in self._patterns:
                if len(pattern) <= len(parts):
                    continue
                ctx = self._match(parts, pattern, Ctx(self.rt))
                if ctx is None:
                    continue
                key = pattern[len(parts)]
                for name, c in self._candidates(key, key, ctx):
                    if len(pattern) == len(parts) + 1 and entry.when is not None \
                            and not entry.when(c):
                        continue
                    names[name] = None
        if not names and self.stat(path) is None:
            raise OSError(errno.ENOENT, f"no such directory: {path}")
        return list(names)

    def read(self, path: str) -> bytes:
        return self._reuse(("read", path), lambda: self._read(path))

    def _read(self, path: str) -> bytes:
        entry, ctx, is_dir = self.lookup(path)
        if entry is None:
            raise OSError(errno.EISDIR if is_dir else errno.ENOENT, path)
        if entry.show is None:
            raise OSError(errno.EACCES, f"{path} is write-only")
        return entry.show(ctx).encode()

    def background(self, pending) -> float:
        """Work between FUSE requests, on the loop's thread (fs.Tree): the engine's clock."""
        return self.rt.background(pending)

    def set_stop_check(self, stop_requested) -> None:
        """The FUSE glue's "is the mount stopping?" check; Runtime.advance polls it."""
        self.rt.stop_requested = stop_requested

    def read_at(self, path: str, offset: int, size: int) -> bytes:
        """One read() call on a per-read file (stat().per_read): what proc_sys_read returns."""
        return self._reuse(("read_at", path, offset, size),
                           lambda: self._read_at(path, offset, size))

    def _read_at(self, path: str, offset: int, size: int) -> bytes:
        entry, ctx, is_dir = self.lookup(path)
        if entry is None:
            raise OSError(errno.EISDIR if is_dir else errno.ENOENT, path)
        if entry.read_call is None:
            return entry.show(ctx).encode()[offset:offset + size]
        return entry.read_call(ctx, offset, size)

    def write(self, path: str, data: bytes, offset: int) -> int:
        entry, ctx, is_dir = self._lookup_locked(path)
        if entry is None:
            raise OSError(errno.EISDIR if is_dir else errno.ENOENT, path)
        if entry.store is None:
            raise OSError(errno.EIO, f"{path} is read-only")
        try:
            if entry.own_lock:
                try:
                    return entry.store(ctx, data, offset)
                finally:
                    self.rt.state_changed()     # whatever locks the store took
            with self.rt.access():
                return entry.store(ctx, data, offset)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ETIMEDOUT, errno.EOPNOTSUPP, errno.ENOMEM) \
                    and path.startswith("procnet/"):
                self._report(f"procnet: {e.strerror}")
            raise

    def _report(self, msg: str) -> None:
        """A control-file error goes to the daemon log and procnet/dmesg, like a
        printk_ratelimited(): at most LOG_BURST messages per LOG_INTERVAL_S, then one
        "N messages suppressed" when the next window opens, each cut to LOG_MAX_CHARS. A
        script (or a fuzzer) writing bad commands in a loop must not grow the log or the
        machine's memory without bound (tests/reliability, docs/reliability.md)."""
        now = time.monotonic()
        if now - self._log_window >= LOG_INTERVAL_S:
            if self._log_missed:
                self._emit(f"procnet: {self._log_missed} messages suppressed")
            self._log_window, self._log_count, self._log_missed = now, 0, 0
        if self._log_count >= LOG_BURST:
            self._log_missed += 1
            return
        self._log_count += 1
        if len(msg) > LOG_MAX_CHARS:
            msg = msg[:LOG_MAX_CHARS - 3] + "..."
        self._emit(msg)

    def _emit(self, msg: str) -> None:
        log.warning(msg)
        with self.rt.access():
            self.rt.machine.log(msg)

    def _lookup_locked(self, path: str):
        with self.rt.access(mutates=False):
            return self.lookup(path)


def _bind(ctx: Ctx, **kw) -> Ctx:
    return Ctx(ctx.rt, **{**{"task": ctx.task, "dev": ctx.dev, "rxq": ctx.rxq, "cpu": ctx.cpu},
                          **kw})
