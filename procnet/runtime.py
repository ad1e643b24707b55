"""The runtime: one engine, one lock, and a clock that moves virtual time.

The engine is single-threaded and knows nothing of wall time. The runtime owns it and decides
when virtual time moves:

  * "realtime": a background thread keeps virtual time at `speed` x wall time since the mode
    was entered. It simulates in slices of at most `SLICE_EVENTS` events and drops the lock
    between slices, so file reads and control writes wait for at most one slice.
  * "manual": time moves only through `advance()` (procnet/clock/advance).

Every access to engine state takes `lock`. The backlog_threaded write path additionally holds
`backlog_threaded_mutex` around "parse, then switch", as backlog_threaded_sysctl() does.
"""
from __future__ import annotations

import logging
import threading
import time

from procnet.engine.config import NSEC_PER_SEC, MachineConfig
from procnet.engine.machine import Machine

log = logging.getLogger("procnet")

SLICE_EVENTS = 2_000         # engine events per lock hold: ~1-3 ms of wall time
IDLE_SLEEP_S = 0.001


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
        self.clock_mode = clock
        self.speed = float(speed)
        self.boot_wall = time.time()
        self.lag_ns = 0                   # how far realtime mode is behind its target
        self._anchor()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ clock
    def _anchor(self) -> None:
        self._wall0 = time.monotonic()
        self._virt0 = self.machine.now_ns

    def set_clock_mode(self, mode: str) -> None:
        if mode not in ("realtime", "manual"):
            raise ValueError(f"clock mode must be realtime or manual (got {mode!r})")
        with self.lock:
            self.clock_mode = mode
            self._anchor()

    def set_speed(self, speed: float) -> None:
        if not speed > 0 or speed > 1e6:
            raise ValueError(f"speed must be in (0, 1e6] (got {speed})")
        with self.lock:
            self.speed = float(speed)
            self._anchor()

    def advance(self, duration_ns: int) -> None:
        """Simulate `duration_ns` of virtual time, returning when it is done."""
        if duration_ns < 0:
            raise ValueError(f"duration must be >= 0 (got {duration_ns})")
        with self.lock:
            end = self.machine.now_ns + duration_ns
        while True:
            with self.lock:
                if self.machine.run_until(end, max_events=SLICE_EVENTS):
                    if self.clock_mode == "realtime":
                        self._anchor()
                    return
            time.sleep(0)      # let a waiting reader take the lock

    # ------------------------------------------------------------------ engine thread
    def start(self) -> None:
        """Start the realtime clock thread (it idles while the clock is manual)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="procnet-engine", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.clock_mode != "realtime":
                self._stop.wait(0.01)
                continue
            with self.lock:
                if self.clock_mode != "realtime":
                    continue
                target = self._virt0 + int((time.monotonic() - self._wall0) * self.speed
                                           * NSEC_PER_SEC)
                m = self.machine
                caught_up = target <= m.now_ns or m.run_until(target, max_events=SLICE_EVENTS)
                self.lag_ns = max(0, target - m.now_ns)
            if caught_up:
                self._stop.wait(IDLE_SLEEP_S)
            else:
                time.sleep(0)      # yield the GIL and the lock to file operations

    def __enter__(self) -> "Runtime":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
