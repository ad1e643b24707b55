"""A run is a pure function of (MachineConfig, seed): same inputs, same trace hash; another seed,
another hash (style.md item 11; events.py total order (time, seq))."""
from __future__ import annotations

import hashlib
import json

from engine_helpers import MS

from procnet.engine.config import MachineConfig, NetDeviceConfig, TaskConfig, TrafficConfig
from procnet.engine.machine import Machine


def config(seed: int) -> MachineConfig:
    return MachineConfig(
        cpus=4, seed=seed,
        devices=(NetDeviceConfig(rx_queues=2, irq_cpus=(0, 1)),
                 NetDeviceConfig(name="lo", irq_cpus=(), loopback=True)),
        traffic=(TrafficConfig("p", flows=32, pps=400_000, pattern="poisson"),
                 TrafficConfig("b", flows=4, pps=200_000, pattern="onoff",
                               on_ns=2 * MS, off_ns=3 * MS)),
        tasks=(TaskConfig("hog", cpus=(2,)), TaskConfig("duty", util=30, period_ns=2 * MS)),
    )


def trace_hash(seed: int, should_yield=None) -> tuple[str, dict]:
    m = Machine(config(seed))
    m.set_rps_cpus("eth0", 0, 0b1110)
    m.set_rps_cpus("eth0", 1, 0b1100)
    m.set_sysctl("netdev_max_backlog", 300)
    m.set_sysctl("flow_limit_cpu_bitmap", 0b0011)
    if should_yield is None:
        m.run_for(50 * MS)
    else:   # the runtime's way: slices, some cut short for a file operation
        end = m.now_ns + 50 * MS
        while not m.run_until(end, max_events=997, should_yield=should_yield):
            pass
    m.check_conservation()
    state = {
        "softnet_stat": m.softnet_stat(),
        "conservation": m.conservation(),
        "latency": m.stats.latency.summary_us(),
        "cpu_times": m.cpu_times(),
        "tasks": [(t.pid, t.comm, t.cpu, t.runtime_ns, t.nvcsw, t.nivcsw, t.migrations)
                  for t in m.task_list()],
        "ipis": m.stats.ipis_sent,
        "events": m.eq.events_run,
    }
    blob = json.dumps(state, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest(), state


def test_same_seed_same_hash_other_seed_other_hash():
    h1, s1 = trace_hash(7)
    h2, s2 = trace_hash(7)
    assert h1 == h2, "two runs of the same config and seed diverged"
    h3, s3 = trace_hash(8)
    assert h3 != h1
    # The run did real work on several CPUs (a hash over idle machines proves nothing).
    assert s1["conservation"][1] > 10_000
    assert sum(1 for r in s1["softnet_stat"] if r[0] > 0) >= 3
    assert s1["softnet_stat"] != s3["softnet_stat"]


def test_hash_is_stable_across_processes():
    # No dependence on Python's per-process hash randomisation (str hashes, set order).
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    code = ("import sys; sys.path[:0] = [%r, %r]; import test_engine_determinism as t; "
            "print(t.trace_hash(7)[0])" % (str(here), str(here.parent)))
    hashes = set()
    for hs in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hs)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=120, check=True)
        hashes.add(out.stdout.strip())
    assert hashes == {trace_hash(7)[0]}


def test_where_a_run_is_cut_does_not_change_it():
    """The realtime clock cuts runs into slices, and cuts a slice short when a file operation
    waits (EventQueue.run_until's should_yield): the result is the same as one run."""
    import random
    rng = random.Random(3)
    asked = []

    def should_yield() -> bool:
        asked.append(1)
        return rng.random() < 0.3

    h_cut, s_cut = trace_hash(7, should_yield)
    assert len(asked) > 100
    assert h_cut == trace_hash(7)[0]
