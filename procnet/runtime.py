"""The runtime: one engine, one lock, and a clock that moves virtual time.

The engine is single-threaded and knows nothing of wall time. The runtime owns it and decides
when virtual time moves:

  * "realtime": virtual time follows `speed` x wall time since the mode was entered. The
    clock runs in slices of about `SLICE_TARGET_S` of wall time (the number of events per
    slice adapts to how costly events are), each `clock_step()`.
  * "manual": time moves only through `advance()` (procnet/clock/advance).

Who calls `clock_step()`: a mount's FUSE loop, between requests on its own thread
(`background()`, called through KernelFS by procnet/fs/glue.py's loop), so that one thread
serves and simulates; or, for a Runtime used without a mount, the clock thread of `start()`.

Every access to engine state takes `lock`; file operations take it through `access()`. The
engine asks every 32 events whether a file operation is waiting (`should_yield`, like
cond_resched()) and ends its slice early if so. On the mount's loop that question is a poll()
of /dev/fuse; for the clock thread it is whether a file operation queued for the lock, and
after each slice the thread waits (a few ms at most) until every one that queued meanwhile has
had its turn: Python's lock is unfair, and a busy clock thread re-took it before a waiting
reader woke up (measured: 110 reads/s, p99 66 ms; docs/architecture.md §3).

The backlog_threaded write path additionally holds `backlog_threaded_mutex` around "parse,
then switch", as backlog_threaded_sysctl() does.

`generation` counts the times engine state may have changed: every engine slice, every
`advance()` step, every clock setting and every mutating `access()` bumps it before the lock
is released. Equal generations therefore mean the same state, which lets the file tree reuse
a render without waiting for the engine (KernelFS, docs/architecture.md §3). `epoch` moves with
every such change except the realtime clock's own slices: what a reader must never miss (a
write, a clock setting, an advance). Between two epochs a running machine only moved on.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import threading
import time
from typing import Iterator

from procnet.engine.config import NSEC_PER_SEC, MachineConfig
from procnet.engine.machine import Machine

log = logging.getLogger("procnet")

SLICE_EVENTS = 2_000         # engine events per lock hold in advance() (manual mode)
SLICE_TARGET_S = 0.002       # realtime: wall time per lock hold the event count adapts to
SLICE_EVENTS_MIN, SLICE_EVENTS_MAX = 16, 20_000
HANDOFF_MAX_S = 0.02         # how long the clock thread waits for queued file operations
HANDOFF_BUSY_S = 0.0002      # ... and for a stream of file operations that need no lock
HANDOFF_POLL_S = 0.0001
IDLE_SLEEP_S = 0.001
MANUAL_POLL_S = 0.01         # how often a manual clock is looked at again


class Runtime:
    def __init__(self, cfg: MachineConfig | None = None, clock: str = "realtime",
                 speed: float = 1.0) -> None:
        if clock not in ("realtime", "manual"):
            raise ValueError(f"clock must be realtime or manual (got {clock!r})")
        if not speed > 0:
            raise ValueError(f"speed must be > 0 (got {speed})")
        self.machine = Machine(cfg or MachineConfig())
        self.lock = threading.RLock()
        self.backlog_threaded_mutex = threading.Lock()
        self.stop_requested = lambda: False   # set by the FUSE glue: the mount is stopping
        self._waiting = 0                 # file operations queued for `lock`
        self._file_ops = 0                # file operations so far (note_file_op)
        self._file_ops_seen = 0           # ... when the clock thread last handed off
        self._waiting_lock = threading.Lock()
        self.slice_events = SLICE_EVENTS  # realtime slice size, adapted to SLICE_TARGET_S
        self.clock_mode = clock
        self.speed = float(speed)
        self.boot_wall = time.time()
        self.lag_ns = 0                   # how far realtime mode is behind its target
        self.generation = 0               # bumped under the lock after any state change
        self.epoch = 0                    # ... after any change but a realtime clock slice
        self._anchor()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ access
    @contextlib.contextmanager
    def access(self, mutates: bool = True) -> Iterator[Machine]:
        """Hold the engine lock for one file operation, ahead of the realtime clock thread.
        Pass mutates=False for a pure read, which leaves `generation` as it is."""
        if not self.lock.acquire(blocking=False):     # the engine is running: queue up
            with self._waiting_lock:
                self._waiting += 1
            try:
                self.lock.acquire()
            finally:
                with self._waiting_lock:
                    self._waiting -= 1
        try:
            yield self.machine
        finally:
            if mutates:
                self._changed()
            self.lock.release()

    def _changed(self) -> None:
        """A change a reader must see: called under the lock."""
        self.generation += 1
        self.epoch += 1

    def state_changed(self) -> None:
        """Say that engine state changed outside access() (a store that takes its own locks).
        Through access(), like any file operation: a plain `with self.lock` does not tell the
        clock thread that someone waits, and lost the lock to its next slice again and again
        (writes to backlog_threaded took up to 0.4 s under load)."""
        with self.access():
            pass

    def note_file_op(self) -> None:
        """Called by the file tree for every operation, also for those answered without the
        lock (a reused render): the clock thread then gives way as it does to a waiting one."""
        self._file_ops += 1

    def _file_op_waiting(self) -> bool:
        """Asked by the clock thread's engine every few dozen events: a file operation wants
        the lock, or file operations ran since the last hand-off."""
        return self._waiting > 0 or self._file_ops != self._file_ops_seen

    def _file_op_queued(self) -> bool:
        """Asked by advance()'s engine: only a file operation waiting for the lock counts
        (advance runs on behalf of a file operation itself, and never hands off)."""
        return self._waiting > 0

    def _hand_off(self) -> None:
        """Called by the clock thread between slices, without the lock: let every file
        operation that is waiting for the lock take it first (bounded by HANDOFF_MAX_S), then
        sleep while more file operations keep coming (bounded by HANDOFF_BUSY_S).

        Sleeping is what gives way: a file operation served from a reused render takes no
        lock, but each FUSE request must still win the GIL from a busy engine thread, which
        costs it a switch interval and two cross-CPU wake-ups. HANDOFF_BUSY_S is a measured
        compromise (docs/architecture.md §3): 4 readers of a running R16 got 11 k reads/s
        without this sleep, 25 k with 0.2 ms and 30-55 k with 0.5-1 ms, but from 0.5 ms on
        the backlog_threaded switch p99 rose from 2 to 4-8 ms."""
        if self._waiting:
            deadline = time.monotonic() + HANDOFF_MAX_S
            while self._waiting and time.monotonic() < deadline:
                time.sleep(HANDOFF_POLL_S)
        deadline = time.monotonic() + HANDOFF_BUSY_S
        while self._file_ops != self._file_ops_seen and time.monotonic() < deadline:
            self._file_ops_seen = self._file_ops
            time.sleep(HANDOFF_POLL_S)
        self._file_ops_seen = self._file_ops

    # ------------------------------------------------------------------ clock
    def _anchor(self) -> None:
        self._wall0 = time.monotonic()
        self._virt0 = self.machine.now_ns

    def set_clock_mode(self, mode: str) -> None:
        if mode not in ("realtime", "manual"):
            raise ValueError(f"clock mode must be realtime or manual (got {mode!r})")
        with self.access():
            self.clock_mode = mode
            self._anchor()

    def set_speed(self, speed: float) -> None:
        if not speed > 0 or speed > 1e6:
            raise ValueError(f"speed must be in (0, 1e6] (got {speed})")
        with self.access():
            self.speed = float(speed)
            self._anchor()

    def advance(self, duration_ns: int) -> None:
        """Simulate `duration_ns` of virtual time, returning when it is done.

        Raises InterruptedError (EINTR) if the mount is told to stop meanwhile: the FUSE loop
        serves one request at a time, so a long advance would otherwise hold up SIGTERM too.
        The time simulated until then stays simulated."""
        if duration_ns < 0:
            raise ValueError(f"duration must be >= 0 (got {duration_ns})")
        with self.access(mutates=False):
            end = self.machine.now_ns + duration_ns
        while True:
            with self.access():
                done = self.machine.run_until(end, max_events=SLICE_EVENTS,
                                              should_yield=self._file_op_queued)
                if done:
                    if self.clock_mode == "realtime":
                        self._anchor()
                    return
            if self.stop_requested():
                raise InterruptedError(errno.EINTR, "clock/advance: interrupted, the mount is "
                                                    f"stopping (now {self.machine.now_ns} ns)")
            time.sleep(0)      # let a waiting reader take the lock

    # ------------------------------------------------------------------ clock thread
    def start(self) -> None:
        """Start the realtime clock thread (it idles while the clock is manual): for a Runtime
        used without a mount, whose FUSE loop would drive the clock instead (background())."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="procnet-engine", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        """The clock thread (Runtime.start()): slices, each followed by a hand-off."""
        while not self._stop.is_set():
            idle_s = self.clock_step(self._file_op_waiting)
            self._hand_off()
            if idle_s:
                self._stop.wait(idle_s)

    def background(self, pending) -> float:
        """The mount's work between FUSE requests (KernelFS.background): the realtime clock's
        next slice, cut short once `pending()` says a request waits, unless the clock thread
        (start()) drives the clock. Returns how long the loop may wait for requests."""
        if self._thread is not None:
            return MANUAL_POLL_S
        return self.clock_step(pending)

    def clock_step(self, should_yield) -> float:
        """One slice of the realtime clock: simulate towards the wall-clock target until it is
        reached, `slice_events` ran, or `should_yield()` (asked every 32 events) says a file
        operation is waiting. Returns how long the caller may wait before the next step: 0 while
        behind, IDLE_SLEEP_S once caught up, MANUAL_POLL_S while the clock is manual.

        Called by the clock thread, or by the FUSE loop thread between requests when the mount
        drives the clock itself (KernelFS.background, docs/architecture.md §3)."""
        try:
            return self._clock_step(should_yield)
        except Exception as e:  # an engine bug: stop the clock, say so where users look
            log.exception("the engine failed; the realtime clock is stopped")
            with self.lock:
                self.clock_mode = "manual"
                self.machine.log(f"procnet: the engine failed ({type(e).__name__}: {e}); "
                                 "clock/mode is now manual; see the daemon log")
                self._changed()
            return MANUAL_POLL_S

    def _clock_step(self, should_yield) -> float:
        if self.clock_mode != "realtime":
            return MANUAL_POLL_S
        with self.lock:
            if self.clock_mode != "realtime":
                return MANUAL_POLL_S
            target = self._virt0 + int((time.monotonic() - self._wall0) * self.speed
                                       * NSEC_PER_SEC)
            m = self.machine
            t0, ran0, now0, lag0 = time.perf_counter(), m.eq.events_run, m.now_ns, self.lag_ns
            caught_up = target <= m.now_ns or m.run_until(
                target, max_events=self.slice_events, should_yield=should_yield)
            took = time.perf_counter() - t0
            full_slice = m.eq.events_run - ran0 >= self.slice_events
            self.lag_ns = max(0, target - m.now_ns)
            if (m.eq.events_run, m.now_ns, self.lag_ns) != (ran0, now0, lag0):
                self.generation += 1         # the machine moved on: not a new epoch
        if full_slice and not caught_up:     # a slice cut short for a file op says nothing
            self._adapt_slice(took)
        return IDLE_SLEEP_S if caught_up else 0.0

    def _adapt_slice(self, took_s: float) -> None:
        """Scale the events per slice so that one slice takes about SLICE_TARGET_S."""
        scale = SLICE_TARGET_S / max(took_s, 1e-6)
        scale = min(2.0, max(0.5, scale))        # move smoothly
        self.slice_events = int(min(SLICE_EVENTS_MAX,
                                    max(SLICE_EVENTS_MIN, self.slice_events * scale)))

    def __enter__(self) -> "Runtime":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def make_tree(opts):
    """A started runtime and its file tree: what `procnet mount` and `procnet run` serve.
    Called in the serving process, after any fork (threads do not survive a fork)."""
    from procnet.kernelfs.tree import KernelFS
    rt = Runtime(opts.machine, clock=opts.clock, speed=opts.speed)
    return KernelFS(rt)          # the FUSE loop drives the clock (Runtime.background)
