"""KernelFS reuses a render while the runtime's generation stands still, and never after a
change a reader must see.

The rule (procnet/kernelfs/tree.py): a result is reused at the generation it was made at (every
engine slice, advance step, clock setting and write moves the generation before it returns),
and, while the realtime clock runs, for RENDER_SHARE_S across the clock's own slices but never
across a write, clock setting or advance (the epoch). These tests count the calls of a show()
to see which reads rendered.
"""

from __future__ import annotations

import time

import pytest

from procnet.engine.config import MachineConfig, TrafficConfig
from procnet.kernelfs import tree as tree_mod
from procnet.kernelfs.table import TABLE, Entry
from procnet.kernelfs.tree import KernelFS
from procnet.runtime import Runtime


def counting_fs(clock: str = "manual"):
    """The real table plus one file whose show() counts its calls and shows the time."""
    calls = []

    def show(ctx):
        calls.append(ctx.m.now_ns)
        return f"{ctx.m.now_ns} {ctx.m.stats.offered}\n"

    rt = Runtime(MachineConfig(cpus=4), clock=clock)
    entry = Entry("procnet/counted", 0o444, show, None, "test", "counts its renders")
    return KernelFS(rt, table=[*TABLE, entry]), calls


def test_an_idle_machine_is_rendered_once():
    fs, calls = counting_fs()
    first = fs.read("procnet/counted")
    assert [fs.read("procnet/counted") for _ in range(50)] == [first] * 50
    assert len(calls) == 1


@pytest.mark.parametrize("change", [
    lambda fs: fs.rt.advance(1000),
    lambda fs: fs.write("proc/sys/net/core/netdev_max_backlog", b"2000\n", 0),
    lambda fs: fs.write("procnet/clock/speed", b"2\n", 0),
    lambda fs: fs.write("backlog_threaded", b"1\n", 0),          # a store with its own locks
    lambda fs: fs.write("procnet/clock/advance", b"1000\n", 0),  # ... and one that runs slices
])
def test_any_change_renders_anew(change):
    fs, calls = counting_fs()
    fs.read("procnet/counted")
    change(fs)
    fs.read("procnet/counted")
    assert len(calls) == 2


def test_a_refused_write_also_renders_anew():
    """A bad control write leaves a message in procnet/dmesg: that is a change too."""
    fs, _ = counting_fs()
    before = fs.read("procnet/dmesg")
    with pytest.raises(OSError):
        fs.write("procnet/traffic/ctl", b"bogus\n", 0)
    assert fs.read("procnet/dmesg") != before


def test_reads_see_their_writes_for_every_kind_of_read():
    fs, _ = counting_fs()
    path = "proc/sys/net/core/netdev_max_backlog"
    assert fs.stat(path).per_read
    assert fs.read_at(path, 0, 100) == b"1000\n"
    assert fs.read(path) == b"1000\n"
    fs.write(path, b"1234\n", 0)
    assert fs.read_at(path, 0, 100) == b"1234\n"
    assert fs.read(path) == b"1234\n"


def test_stat_and_listdir_follow_hotplug():
    fs, _ = counting_fs()
    assert fs.stat("sys/devices/system/cpu/cpu3/online") is not None
    assert fs.read("sys/devices/system/cpu/online") == b"0-3\n"
    fs.write("sys/devices/system/cpu/cpu3/online", b"0\n", 0)
    assert fs.read("sys/devices/system/cpu/online") == b"0-2\n"
    assert fs.read("sys/devices/system/cpu/cpu3/online") == b"0\n"


def test_errors_are_not_kept():
    fs, _ = counting_fs()
    for _ in range(2):
        with pytest.raises(OSError):
            fs.read("proc/net/nonexistent")
    assert not any(key[1] == "proc/net/nonexistent" and key[0] == "read"
                   for key in fs._renders)


def test_the_reuse_is_bounded(monkeypatch):
    monkeypatch.setattr(tree_mod, "RENDER_CACHE_ENTRIES", 8)
    monkeypatch.setattr(tree_mod, "RENDER_CACHE_MAX_BYTES", 64)
    fs, _ = counting_fs()
    for i in range(4):
        for path in ("procnet/counted", "proc/stat", "proc/net/softnet_stat", "procnet/clock/now",
                     "proc/sys/net/core/netdev_max_backlog"):
            fs.read(path)
            fs.read_at(path, i, 10)
            assert len(fs._renders) <= 8
    assert ("read", "proc/stat") not in fs._renders     # larger than 64 bytes: made per read


def test_a_running_machine_is_rendered_again_after_each_slice(monkeypatch):
    """Realtime: a reused render is at most one slice old; a later read sees later state
    (with the sharing window off: see the next test)."""
    monkeypatch.setattr(tree_mod, "RENDER_SHARE_S", 0.0)
    fs, calls = counting_fs("realtime")
    fs.rt.machine.add_traffic(TrafficConfig("t", dev="eth0", flows=16, pps=100_000))
    with fs.rt:
        first = fs.read("procnet/counted")
        deadline = time.monotonic() + 5
        g = fs.rt.generation
        while fs.rt.generation == g and time.monotonic() < deadline:
            time.sleep(0.001)
        second = fs.read("procnet/counted")
    assert second != first and len(calls) == 2
    assert int(second.split()[0]) > int(first.split()[0])


def test_readers_of_a_running_machine_share_a_render_until_a_change(monkeypatch):
    """Realtime: within RENDER_SHARE_S a render serves across the clock's own slices, never
    across a write; the manual clock never shares (its time moves only by request)."""
    monkeypatch.setattr(tree_mod, "RENDER_SHARE_S", 60.0)
    fs, calls = counting_fs("realtime")
    fs.rt.machine.add_traffic(TrafficConfig("t", dev="eth0", flows=16, pps=100_000))
    with fs.rt:
        first = fs.read("procnet/counted")
        g = fs.rt.generation
        deadline = time.monotonic() + 5
        while fs.rt.generation < g + 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert fs.rt.generation >= g + 3                  # the engine ran slices meanwhile
        assert fs.read("procnet/counted") == first and len(calls) == 1
        fs.write("proc/sys/net/core/netdev_max_backlog", b"2000\n", 0)
        assert fs.read("procnet/counted") != first and len(calls) == 2
    fs, calls = counting_fs("manual")
    fs.read("procnet/counted")
    fs.rt.advance(1000)
    fs.read("procnet/counted")
    assert len(calls) == 2
