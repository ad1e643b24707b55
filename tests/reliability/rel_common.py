"""Shared pieces of the reliability suite (tests/reliability, docs/reliability.md).

Profiles: the quick profile runs in the normal suite (CI); ``PROCNET_FULL=1`` selects the full
counts. Nothing is skipped in either: only the numbers change. ``pick(quick, full)`` is how a
test chooses its count.

Figures: ``record(section, key, value)`` keeps a measured figure; tests/reliability/conftest.py
prints them at the end of the session and writes them to $PROCNET_RELIABILITY_RESULTS (JSON),
which ``python -m tools.reliability`` turns into the tables of docs/reliability.md. So every
figure in the doc comes from the test that checks it.
"""
from __future__ import annotations

import gc
import os
import re
import sys
import threading
import time
from pathlib import Path

from procnet.engine.config import MachineConfig
from procnet.kernelfs.table import TABLE
from procnet.kernelfs.tree import KernelFS
from procnet.runtime import Runtime

FULL = os.environ.get("PROCNET_FULL", "") not in ("", "0")
PROFILE = "full" if FULL else "quick"

FIGURES: dict[str, dict[str, object]] = {}
_figures_lock = threading.Lock()


def pick(quick, full):
    """The quick or the full count, by profile."""
    return full if FULL else quick


def env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def record(section: str, key: str, value) -> None:
    """Keep a measured figure for the end-of-session report (and docs/reliability.md)."""
    with _figures_lock:
        FIGURES.setdefault(section, {})[key] = value


def bump(section: str, key: str, n: int = 1) -> None:
    with _figures_lock:
        sec = FIGURES.setdefault(section, {})
        sec[key] = sec.get(key, 0) + n


def high(section: str, key: str, value: float) -> None:
    """Keep the largest value seen."""
    with _figures_lock:
        sec = FIGURES.setdefault(section, {})
        if value > sec.get(key, float("-inf")):
            sec[key] = value


# ---------------------------------------------------------------------------------- machines

MODES = ("stock", "seed000", "seed002")


def make_fs(mode: str = "stock", cpus: int = 4, seed: int = 1, **cfg) -> KernelFS:
    """A KernelFS over a manual-clock runtime: the file tree without FUSE.
    seed000 starts with backlog_threaded=1 written through the file."""
    rt = Runtime(MachineConfig(cpus=cpus, seed=seed, thread_backlog_napi=mode == "seed002",
                               **cfg), clock="manual")
    fs = KernelFS(rt)
    if mode == "seed000":
        assert fs.write("backlog_threaded", b"1\n", 0) == 2
    return fs


def concrete(pattern: str, fs: KernelFS) -> list[str]:
    """Every concrete path of a table pattern on this machine (placeholders expanded)."""
    m = fs.rt.machine
    parts = pattern.split("/")
    out = [[]]
    for comp in parts:
        nxt = []
        for prefix in out:
            if comp == "<pid>":
                names = [str(t.pid) for t in m.task_list()]
            elif comp == "<dev>":
                names = list(m.netdevs)
            elif comp == "<cpu>":
                names = [f"cpu{c.id}" for c in m.cpus]
            elif comp == "<rxq>":
                names = [f"rx-{q.index}" for q in m.netdevs[prefix[-2]].rxqs]
            else:
                names = [comp]
            nxt += [prefix + [n] for n in names]
        out = nxt
    return [p for p in ("/".join(x) for x in out) if fs.stat(p) is not None]


def writable_paths(fs: KernelFS) -> dict[str, list[str]]:
    """TABLE entries with a store -> their concrete paths on this machine."""
    return {e.path: concrete(e.path, fs) for e in TABLE if e.store is not None}


def readable_paths(fs: KernelFS) -> list[str]:
    out = []
    for e in TABLE:
        if e.show is not None:
            out += concrete(e.path, fs)
    return out


# ------------------------------------------------------------------------------------- memory

def heap_sample(m=None) -> dict[str, int]:
    """Python heap after a full collection: allocated blocks, tracked objects, RSS (KiB).
    sys.getallocatedblocks() counts every live pymalloc block, so a per-cycle leak of any
    object shows up as linear growth; it costs nothing while the loop runs. With a machine,
    its latency histograms are folded first (they buffer up to 65536 raw values)."""
    if m is not None:
        m.stats.latency.flush()
        for pair in m.udp_rr.values():
            pair.rtt.flush()
    gc.collect()
    return {"blocks": sys.getallocatedblocks(), "objects": len(gc.get_objects()),
            "rss_kib": rss_kib(os.getpid())}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


# ---------------------------------------------------------------------------------- daemon logs

# What a procnet daemon log may contain besides INFO lines. Any other record at WARNING or
# above, and any traceback, is "unexpected" (section 6 of docs/reliability.md).
EXPECTED_LOG = [
    # bad writes to procnet/* control files are mirrored to the log (kernelfs/tree.py)
    re.compile(r" WARNING procnet: procnet: "),
]
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \S+\[\d+\] (\w+) ")
LEVELS = ("WARNING", "ERROR", "CRITICAL")


def log_records(text: str) -> list[tuple[str, str]]:
    """(level, full text) of each record; traceback lines belong to the record before them.
    Lines outside any record (libfuse's own messages) are records of level '?'."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        m = RECORD.match(line)
        if m:
            out.append((m.group(1), line))
        elif out and (line.startswith((" ", "Traceback", "During handling")) or
                      re.match(r"^\w+(\.\w+)*(Error|Exception|Interrupt)\b", line)):
            out[-1] = (out[-1][0], out[-1][1] + "\n" + line)
        elif line.strip():
            out.append(("?", line))
    return out


def unexpected_log_lines(text: str, extra=()) -> list[str]:
    allowed = [*EXPECTED_LOG, *extra]
    bad = []
    for level, rec in log_records(text):
        if level in ("INFO", "DEBUG"):
            continue
        if any(p.search(rec) for p in allowed):
            continue
        bad.append(rec)
    return bad


def scan_log(path: Path, extra=()) -> list[str]:
    """Scan one daemon log (before it is removed) and count it in the suite's figures."""
    try:
        text = path.read_text()
    except OSError:
        text = ""
    bad = unexpected_log_lines(text, extra)
    bump("daemon_logs", "logs scanned")
    bump("daemon_logs", "unexpected warnings/errors", len(bad))
    bump("daemon_logs", "expected WARNING lines (bad control writes, injected faults)",
         sum(1 for level, _ in log_records(text) if level in LEVELS) - len(bad))
    return bad


def timed(fn, *args):
    """(result or exception, seconds)."""
    t0 = time.perf_counter()
    try:
        out = fn(*args)
    except BaseException as e:  # noqa: BLE001 - the caller classifies it
        out = e
    return out, time.perf_counter() - t0
