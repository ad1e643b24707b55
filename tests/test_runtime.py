"""procnet.runtime without FUSE: the clock, the lock hand-off, interrupts and engine failures."""

from __future__ import annotations

import errno
import threading
import time

import pytest

from procnet.engine.config import MachineConfig, TrafficConfig
from procnet.runtime import SLICE_EVENTS_MAX, SLICE_EVENTS_MIN, Runtime


def busy_runtime() -> Runtime:
    """A realtime runtime that cannot keep up: 2 Mpps of traffic at 100x wall-clock speed
    (the compiled engine simulates a few Mpps; the speed keeps it saturated anyway)."""
    rt = Runtime(MachineConfig(cpus=4), clock="realtime", speed=100.0)
    rt.machine.set_rps_cpus("eth0", 0, 0b1110)
    rt.machine.add_traffic(TrafficConfig("t", dev="eth0", flows=64, pps=2_000_000))
    return rt


def test_advance_moves_virtual_time_by_exactly_that():
    rt = Runtime(clock="manual")
    rt.advance(12_345)
    assert rt.machine.now_ns == 12_345
    rt.advance(0)
    assert rt.machine.now_ns == 12_345
    with pytest.raises(ValueError):
        rt.advance(-1)


def test_advance_gives_way_when_the_mount_stops():
    rt = busy_runtime()
    rt.clock_mode = "manual"
    checks = []
    rt.stop_requested = lambda: checks.append(1) or len(checks) >= 3
    with pytest.raises(InterruptedError) as e:
        rt.advance(10 * 1_000_000_000)
    assert e.value.errno == errno.EINTR
    assert 0 < rt.machine.now_ns < 10 * 1_000_000_000  # what ran until then stays simulated


def test_file_operations_get_the_lock_while_the_engine_is_saturated():
    rt = busy_runtime()
    with rt:
        time.sleep(0.3)
        waits = []
        for _ in range(100):
            t0 = time.perf_counter()
            with rt.access() as m:
                m.softnet_stat()
            waits.append(time.perf_counter() - t0)
        time.sleep(0.05)
        assert rt.lag_ns > 0  # it really is behind, i.e. never idle
    waits.sort()
    assert waits[98] < 0.1, waits[-5:]  # about one slice (~2 ms), not starved
    assert SLICE_EVENTS_MIN <= rt.slice_events <= SLICE_EVENTS_MAX


def test_a_waiting_file_operation_cuts_the_slice_short():
    """The engine asks should_yield every 32 events (EventQueue.run_until): a file operation
    waits for those, not for a whole slice (SLICE_EVENTS_MAX events here)."""
    rt, cut = slice_cutting_runtime()
    with rt:
        time.sleep(0.2)
        for _ in range(20):
            with rt.access():
                pass
            time.sleep(0.005)
    assert len(cut) >= 20          # every access() ended the slice it arrived in
    assert rt.machine.now_ns > cut[-1]                 # and the engine went on afterwards


def slice_cutting_runtime() -> tuple[Runtime, list[int]]:
    """A saturated runtime with long slices that records the virtual time of every cut."""
    rt = busy_runtime()
    rt.slice_events = SLICE_EVENTS_MAX
    rt._adapt_slice = lambda took_s: None          # keep the long slices
    cut: list[int] = []
    real = rt._file_op_waiting
    rt._file_op_waiting = lambda: real() and not cut.append(rt.machine.now_ns)
    return rt, cut


def test_yield_points_come_every_32_events():
    from procnet.engine import Machine
    from procnet.engine.defs import EV_DISPATCH, YIELD_MASK
    m = Machine()
    eq = m.eq
    for t in range(1000):
        eq.at(t, EV_DISPATCH, m.cpus[0], 0)   # an idle CPU looks for work and finds none
    asked = []
    assert not m.run_until(10_000, should_yield=lambda: asked.append(eq.events_run) or True)
    assert eq.events_run == YIELD_MASK == 31 and len(asked) == 1
    ran = []
    assert not m.run_until(10_000, should_yield=lambda: ran.append(1) or len(ran) == 3)
    assert eq.events_run == 31 + 3 * (YIELD_MASK + 1) - 1
    assert m.run_until(10_000) and eq.events_run == 1000 and eq.now_ns == 10_000


class WithRunUntil:
    """The runtime's machine with run_until replaced (a compiled Machine's methods cannot be
    reassigned on the instance)."""

    def __init__(self, machine, run_until) -> None:
        self._machine = machine
        self.run_until = run_until

    def __getattr__(self, name):
        return getattr(self._machine, name)


def test_an_engine_failure_stops_the_clock_and_says_so():
    rt = Runtime(clock="realtime")
    real = rt.machine.run_until
    calls = []

    def flaky(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(*args, **kw)

    rt.machine = WithRunUntil(rt.machine, flaky)
    with rt:
        deadline = time.monotonic() + 5
        while rt.clock_mode == "realtime" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rt.clock_mode == "manual"
        assert "the engine failed (RuntimeError: boom)" in rt.machine.dmesg[-1][1]
        rt.set_clock_mode("realtime")  # the clock thread is still there
        time.sleep(0.1)
        assert rt.machine.now_ns > 0


def test_backlog_threaded_mutex_then_lock_is_the_only_order():
    rt = Runtime(clock="manual")
    done = threading.Event()

    def writer():
        with rt.backlog_threaded_mutex, rt.access():
            done.set()

    t = threading.Thread(target=writer)
    t.start()
    t.join(5)
    assert done.is_set()


# ---------------------------------------------------------------------- generation and renders
def test_generation_moves_with_every_change_and_only_then():
    rt = Runtime(clock="manual")
    g = rt.generation
    with rt.access(mutates=False):
        pass
    assert rt.generation == g                       # a pure read changes nothing
    with rt.access():
        pass
    assert rt.generation > g                        # a write may have changed anything
    for change in (lambda: rt.advance(1000), lambda: rt.set_clock_mode("manual"),
                   lambda: rt.set_speed(2.0), rt.state_changed):
        g = rt.generation
        change()
        assert rt.generation > g


def test_the_clock_thread_moves_generation_only_when_time_moves():
    rt = Runtime(clock="manual")
    with rt:
        time.sleep(0.05)                            # manual: the thread idles
        g = rt.generation
        time.sleep(0.05)
        assert rt.generation == g
        rt.set_clock_mode("realtime")
        g = rt.generation
        time.sleep(0.05)
        assert rt.generation > g                    # virtual time follows wall time


def test_file_operations_without_the_lock_still_make_the_clock_thread_give_way():
    """A reader served from a reused render never queues for the lock; note_file_op() is
    what ends the engine's slice at the next yield point, and the hand-off forgets it."""
    rt = Runtime(clock="manual")
    assert not rt._file_op_waiting()
    rt.note_file_op()
    assert rt._file_op_waiting()
    t0 = time.perf_counter()
    rt._hand_off()
    assert time.perf_counter() - t0 < 0.1
    assert not rt._file_op_waiting()


def test_a_stream_of_lock_free_reads_cuts_slices_and_the_engine_goes_on():
    rt, cut = slice_cutting_runtime()
    with rt:
        time.sleep(0.2)
        for _ in range(20):
            rt.note_file_op()
            time.sleep(0.005)
    assert len(cut) >= 20
    assert rt.machine.now_ns > cut[-1]


def test_advance_runs_whole_slices_after_file_operations():
    """advance() runs for a file operation itself: reads before it must not cut its slices to
    32 events (they did once, and a 20 ms advance of R16 took 1.7x as long)."""
    from procnet.runtime import SLICE_EVENTS
    rt = busy_runtime()
    rt.clock_mode = "manual"
    for _ in range(3):
        rt.note_file_op()
    slices = []
    real = rt.machine.run_until
    rt.machine = WithRunUntil(rt.machine, lambda *a, **kw: slices.append(1) or real(*a, **kw))
    rt.advance(20_000_000)
    assert rt.machine.eq.events_run > 4 * SLICE_EVENTS
    assert len(slices) <= rt.machine.eq.events_run // SLICE_EVENTS + 1


# ---------------------------------------------------------------------- driven by the FUSE loop
def test_background_runs_the_clock_until_a_request_waits():
    """Runtime.background is the mount's loop running the clock between requests: a slice
    per call, cut at the first yield point once pending() is true, nothing while manual or
    while a clock thread drives the clock."""
    rt = busy_runtime()
    asked = []
    assert rt.background(lambda: asked.append(1) or False) == 0.0    # behind: call again
    ran = rt.machine.eq.events_run
    assert ran > 0 and asked                                        # asked at yield points
    rt.background(lambda: True)
    assert 0 < rt.machine.eq.events_run - ran <= 64                 # cut at the first one
    rt.set_clock_mode("manual")
    now = rt.machine.now_ns
    assert rt.background(lambda: False) > 0 and rt.machine.now_ns == now
    idle = Runtime(clock="realtime")
    time.sleep(0.01)
    assert idle.background(lambda: False) > 0 and idle.machine.now_ns > 0   # caught up: wait
    with idle:
        assert idle.background(lambda: False) > 0                  # the thread's job


def test_an_engine_failure_in_background_stops_the_clock_and_says_so():
    rt = Runtime(clock="realtime")

    def boom(*args, **kw):
        raise RuntimeError("boom")

    real = rt.machine
    rt.machine = WithRunUntil(real, boom)
    time.sleep(0.01)
    assert rt.background(lambda: False) > 0
    assert rt.clock_mode == "manual"
    assert "the engine failed (RuntimeError: boom)" in real.dmesg[-1][1]
