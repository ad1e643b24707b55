"""The compiled engine is the plain-Python engine, only faster (setup.py, docs/architecture.md §6).

  * In CI the compiled modules must be in use: a build that silently fell back to plain Python
    would pass every other test and miss every speed figure.
  * In CI the build is profile-guided (scripts/build_engine.sh), as bootstrap builds it: a
    build that silently fell back to the plain one runs about 7% more instructions per packet.
  * Every scenario of engine_scenarios.py gives the same observation compiled and plain
    (the plain side runs in a subprocess with PROCNET_ENGINE=python), and the same as when it
    was recorded in tests/data/engine_golden.json.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import engine_scenarios as sc
import procnet.engine as engine


def test_compiled_engine_in_use_in_ci():
    if os.environ.get("CI") != "true" or os.environ.get("PROCNET_ENGINE") == "python":
        pytest.skip("only required in CI (CI=true)")
    assert engine.ENGINE == "compiled", engine.ENGINE_REASON
    import procnet.engine.machine as machine
    assert machine.__file__.endswith(".so"), machine.__file__


def test_profile_guided_build_in_ci():
    if os.environ.get("CI") != "true" or os.environ.get("PROCNET_ENGINE") == "python":
        pytest.skip("only required in CI (CI=true)")
    from procnet.engine._buildinfo import build_kind
    assert build_kind(os.path.dirname(engine.__file__)) == "profile-guided"


def test_build_kind_is_read_from_the_cflags_and_recorded(tmp_path):
    from procnet.engine._buildinfo import BUILD_KIND_FILE, build_kind, build_kind_for
    assert build_kind_for("-fprofile-use -fprofile-partial-training -Wno-missing-profile") \
        == "profile-guided"
    assert build_kind_for("-fprofile-generate -fprofile-update=single") == "instrumented"
    assert build_kind_for("") == "plain"
    assert build_kind(str(tmp_path)) == "unknown"
    (tmp_path / BUILD_KIND_FILE).write_text("profile-guided\n")
    assert build_kind(str(tmp_path)) == "profile-guided"


def test_plain_python_is_chosen_when_asked():
    code = ("import procnet.engine as e, procnet.engine.dev as d; "
            "print(e.ENGINE, d.__file__.endswith('.py'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PROCNET_ENGINE="python"), timeout=60, check=True)
    assert out.stdout.split() == ["python", "True"]


@pytest.fixture(scope="module")
def plain_python_observations() -> dict:
    if engine.ENGINE != "compiled":
        pytest.skip(f"the engine is not compiled here ({engine.ENGINE_REASON})")
    out = subprocess.run([sys.executable, str(sc.HERE / "engine_scenarios.py")],
                         capture_output=True, text=True, timeout=600, check=True,
                         env=dict(os.environ, PROCNET_ENGINE="python"))
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", sorted(sc.SCENARIOS))
def test_compiled_equals_plain_python(name, plain_python_observations):
    assert sc.run(name) == plain_python_observations[name]


@pytest.mark.parametrize("name", sorted(sc.SCENARIOS))
def test_engine_computes_what_was_recorded(name):
    golden = json.loads(sc.GOLDEN.read_text())
    got = sc.run(name)
    want = golden[name]
    for key in want:     # the first differing part first: easier to read than one big diff
        assert got[key] == want[key], f"{name}: {key} differs from {sc.GOLDEN.name}"
    assert got == want


def test_defs_pxd_has_every_constant_of_defs_py():
    """The compiled modules take their constants from defs.pxd, which the build writes from
    defs.py: every integer constant there must come through with its value."""
    import re
    from pathlib import Path

    import procnet.engine.defs as defs
    from procnet.engine._buildinfo import defs_pxd
    pxd = {}
    for name, expr in re.findall(r"^    ([A-Z_][A-Z0-9_]*) = (.+)$",
                                 defs_pxd(Path(defs.__file__).read_text()), re.M):
        pxd[name] = eval(expr, {}, dict(pxd))
    py = {k: v for k, v in vars(defs).items() if k.isupper() and isinstance(v, int)}
    assert pxd == py


def test_sysctl_names_are_the_attributes():
    from procnet.engine.dev import NetCoreSysctls
    s = NetCoreSysctls(250)
    assert all(isinstance(getattr(s, n), int) for n in NetCoreSysctls.NAMES)
    if engine.ENGINE == "python":
        assert tuple(vars(s)) == NetCoreSysctls.NAMES


def test_costs_are_bounded():
    """A cost beyond 1 s is refused: sums of costs stay far inside the compiled engine's int64."""
    from procnet.engine.config import MAX_COST_NS, CostModel
    assert CostModel(protocol_ns=MAX_COST_NS).protocol_ns == MAX_COST_NS
    for bad in (MAX_COST_NS + 1, -1, 2**64 - 1, 1.5):
        with pytest.raises(ValueError):
            CostModel(protocol_ns=bad)
    m = engine.Machine()
    with pytest.raises(ValueError):
        m.set_model("hardirq_ns", 2**64 - 1)
    assert m.cost.hardirq_ns == CostModel().hardirq_ns


def test_event_queue_orders_many_events_by_time_then_seq():
    """More events than the compiled queue's first allocation: it grows and keeps the order."""
    import random
    from procnet.engine.events import EventQueue
    eq = EventQueue()
    rng = random.Random(5)
    want = []
    for i in range(3000):
        t = rng.randrange(0, 500)
        eq.at(t, i % 7, None, i)
        want.append((t, i))
    got = []
    while len(eq):
        kind = eq.pop()
        got.append((eq.now_ns, eq.popped_token))
        assert kind == eq.popped_token % 7
    assert got == sorted(want)


def test_event_queue_interleaved_pushes_and_pops_match_heapq():
    """Pops between pushes, as in a run (the queue shrinks and grows again, ties in time):
    the order is heapq's on (time, seq)."""
    import heapq
    import random
    from procnet.engine.events import EventQueue
    eq = EventQueue()
    ref: list[tuple[int, int]] = []
    rng = random.Random(11)
    seq = 0
    for _ in range(20_000):
        if ref and rng.random() < 0.48:
            t, s = heapq.heappop(ref)
            eq.pop()
            assert (eq.now_ns, eq.popped_token) == (t, s)
        else:
            seq += 1
            t = eq.now_ns + rng.randrange(0, 40)
            eq.at(t, 1, None, seq)
            heapq.heappush(ref, (t, seq))
        assert len(eq) == len(ref)


def test_event_queue_inserts_at_either_end_and_among_ties():
    """The compiled queue's insert lands first, last or among equal times (a memmove of all,
    none or some of the pending events): each series pops in (time, seq) order."""
    from procnet.engine.events import EventQueue
    series = {"later each": list(range(200)), "earlier each": list(range(200, 0, -1)),
              "one time": [7] * 200, "ties among others": [i % 3 * 10 for i in range(200)]}
    for name, times in series.items():
        eq = EventQueue()
        eq.at(1000, 0, None, -1)                       # a far event, pending throughout
        for seq, t in enumerate(times):
            eq.at(t, 1, None, seq)
        got = []
        while len(eq):
            eq.pop()
            got.append((eq.now_ns, eq.popped_token))
        want = sorted((t, seq) for seq, t in enumerate(times)) + [(1000, -1)]
        assert got == want, name


def test_event_queue_refuses_an_event_in_the_past():
    """at() in the past is a bug in a caller: ValueError, and the queue is as it was."""
    from procnet.engine.events import EventQueue
    eq = EventQueue()
    eq.at(10, 1, None, 1)
    eq.at(20, 1, None, 2)
    eq.pop()
    with pytest.raises(ValueError, match="event in the past: 9 < now 10"):
        eq.at(9, 1, None, 3)
    assert len(eq) == 1 and eq.head_ns() == 20
    eq.pop()
    assert (eq.now_ns, eq.popped_token, len(eq)) == (20, 2, 0)


def test_list_head_is_a_fifo_like_deque():
    """ListHead (poll_list, net_rx_action's lists, pending interrupts) under random adds,
    pops, splices, removals and clears, through several growths: the same entries in the
    same order as a deque, and no reference kept to an entry once it left."""
    import random
    import weakref
    from collections import deque

    from procnet.engine.listhead import ListHead

    class Entry:  # weak-referenceable, unlike int
        pass

    a, b = ListHead(), ListHead()
    ra, rb = deque(), deque()
    gone = []
    rng = random.Random(5)
    for _ in range(20_000):
        op = rng.random()
        if op < 0.40:
            e = Entry()
            a.add_tail(e)
            ra.append(e)
        elif op < 0.75 and ra:
            e = a.pop_first()
            assert e is ra.popleft()
            gone.append(weakref.ref(e))
        elif op < 0.82:
            e = Entry()
            b.add_tail(e)
            rb.append(e)
        elif op < 0.85:
            a.splice_tail_init(b)
            ra.extend(rb)
            rb.clear()
        elif op < 0.90 and ra:
            e = rng.choice(ra)
            a.remove(e)
            ra.remove(e)
            assert e not in a
        elif op < 0.905:
            a.clear()
            ra.clear()
        assert len(a) == a.count == len(ra) and b.count == len(rb)
        assert [a.item(k) for k in range(a.count)] == list(a) == list(ra)
        assert list(b) == list(rb)
    e = None
    with pytest.raises(ValueError):
        a.remove(Entry())
    a.clear()
    ra.clear()
    assert a.count == 0 and not a
    assert len(gone) > 5000 and all(r() is None for r in gone)

def test_latency_buckets_keep_the_top_8_bits():
    """Compiled, values are counted in their bucket at once; plain, folded with numpy: the
    buckets are the value with all but its 8 most significant bits cleared, either way."""
    import random
    from procnet.engine.stats import LatencyHistogram
    rng = random.Random(9)
    values = [0, 1, 255, 256, 257, 511, 512, 2**40 - 1, 2**40] + [
        rng.randrange(0, 1 << rng.randrange(1, 48)) for _ in range(20_000)]
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    want: dict[int, int] = {}
    for v in values:
        shift = max(v.bit_length() - 8, 0)
        key = v >> shift << shift
        want[key] = want.get(key, 0) + 1
    assert h.counts == want
    assert (h.total, h.sum_ns, h.max_ns) == (len(values), sum(values), max(values))


@pytest.mark.parametrize("pattern", ["poisson", "constant", "onoff"])
def test_arrivals_do_not_depend_on_the_block_size(pattern):
    """Gaps and flows come from generators of their own, each drawn in order: a stream gives
    the same arrivals whatever block size it generates them in (traffic.BLOCK_SPAN_NS)."""
    from procnet.engine.config import TrafficConfig
    from procnet.engine.traffic import ArrivalStream, Flow
    flows = [Flow(i, f"f{i}", (i,), 1000 + i, None) for i in range(7)]
    cfg = TrafficConfig("t", flows=7, pps=300_000, pattern=pattern, on_ns=50_000, off_ns=30_000)

    def arrivals(block: int) -> list:
        s = ArrivalStream(flows, cfg, 300_000.0, 42, 1_000, 0.25, block=block)
        out = []
        for _ in range(5000):
            t = s.take()
            out.append((t, s.taken_fid))
        return out

    a = arrivals(257)
    assert a == arrivals(16384) == arrivals(1000)
    assert len({f for _, f in a}) == 7 and all(b[0] > x[0] for x, b in zip(a, a[1:]))


@pytest.mark.parametrize("nflows", [2, 7, 1024])
def test_flow_picks_are_numpys_random_draws(nflows):
    """A Poisson stream's flow of arrival k is floor(u_k * nflows), u_k the k-th draw of
    numpy's Generator.random() on the stream's flow seed: compiled, the draws are made in C
    (traffic.pxd, procnet_pcg64_flow_picks) and must be numpy's bit for bit, across blocks."""
    import numpy as np
    from procnet.engine.config import TrafficConfig
    from procnet.engine.traffic import ArrivalStream, Flow
    flows = [Flow(i, f"f{i}", (i,), 1000 + i, None) for i in range(nflows)]
    cfg = TrafficConfig("t", flows=nflows, pps=300_000, pattern="poisson")
    s = ArrivalStream(flows, cfg, 300_000.0, 42, 1_000, 0.25, block=300)
    got = []
    for _ in range(1000):                      # 3.3 blocks
        s.take()
        got.append(s.taken_local)
    _, flows_seed = np.random.SeedSequence(42).spawn(2)
    u = np.random.default_rng(flows_seed).random(1000)
    assert got == np.minimum((u * nflows).astype(np.int64), nflows - 1).tolist()
