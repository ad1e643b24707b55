"""skb_flow_limit(): the half-full rule, the 128-packet window, whose table and whose counters
(kernel-facts.md section 2.3).

Packets are enqueued by hand from CPU 0 (this CPU) to CPU 2 (the target) with no consumer, so
`qlen` before packet k (1-based) is exactly the number accepted so far.

Bucket ids: the engine follows the 2025+ `hash_32(hash, log2(table_len))`; before that it was
`hash & (table_len - 1)`. The hashes below are chosen so that both give the same answer
(bucket 0 for BUCKET0_HASH, non-zero for HASH), so the tests hold for either version.
"""
from __future__ import annotations

from engine_helpers import (DROPPED, FLOW_LIMIT_COUNT, GOLDEN_RATIO_32, inject,
                            inverse_mod_2_32, machine, make_flow, row)

HASH = 0x12345678
# 4096 * k with k*GOLDEN_RATIO_32 == 1 (mod 2^20): hash & 4095 == 0 and
# (hash * GOLDEN_RATIO_32 mod 2^32) >> 20 == (4096 mod 2^32) >> 20 == 0.
BUCKET0_HASH = (4096 * pow(GOLDEN_RATIO_32, -1, 1 << 20)) & 0xFFFFFFFF
MAX = 200            # netdev_max_backlog; half = MAX >> 1 = 100
THIS, TARGET = 0, 2


def bucket(h: int, table_len: int = 4096) -> int:
    bits = table_len.bit_length() - 1
    return ((h * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - bits)


def setup(bitmap: int):
    m = machine(cpus=4)
    m.set_sysctl("netdev_max_backlog", MAX)
    m.set_sysctl("flow_limit_cpu_bitmap", bitmap)
    return m


def test_hash_choice():
    assert bucket(HASH) != 0 and HASH & 4095 != 0
    assert bucket(BUCKET0_HASH) == 0 and BUCKET0_HASH & 4095 == 0 and BUCKET0_HASH != 0
    assert inverse_mod_2_32(GOLDEN_RATIO_32) * GOLDEN_RATIO_32 % (1 << 32) == 1


def test_single_flow_first_flow_limit_drop_index():
    m = setup(1 << THIS)
    f = make_flow(m, HASH)
    fl = m.softnet[THIS].flow_limit
    assert fl is not None and m.softnet[TARGET].flow_limit is None
    assert fl.history == [0] * 128 and fl.history_head == 0       # zero-filled at allocation

    # Packets 1..100 see qlen 0..99 < MAX >> 1 = 100: accepted, the table is not touched.
    assert all(inject(m, f, TARGET, THIS, n=100))
    assert fl.history_head == 0 and fl.buckets[bucket(HASH)] == 0

    # Packet 100 + k sees qlen >= 100, so the table is updated: the evicted history entries are
    # the zero fill (bucket 0, counter 0: no decrement) and this flow's counter becomes k.
    # Accept while k <= 64; k = 65 > FLOW_LIMIT_HISTORY >> 1 is the first drop: packet 165
    # (0-based index 164). Every later packet keeps the counter above 64 (the window fills up
    # with this flow: 66, 67, ..., 128, then 128 forever), so all of them are dropped too.
    results = inject(m, f, TARGET, THIS, n=136)
    assert results.index(False) + 100 == 164
    assert results == [True] * 64 + [False] * 72
    assert fl.history_head == 136 % 128
    assert fl.buckets[bucket(HASH)] == 128        # the whole window is this flow now

    assert len(m.softnet[TARGET].input_pkt_queue) == 164        # never reached MAX
    # flow_limit_count (column 11) on the ENQUEUING CPU's row, dropped (column 2) on the
    # TARGET's row (section 2.3 "Consequence for /proc/net/softnet_stat").
    assert row(m, THIS)[FLOW_LIMIT_COUNT] == 72 and row(m, THIS)[DROPPED] == 0
    assert row(m, TARGET)[DROPPED] == 72 and row(m, TARGET)[FLOW_LIMIT_COUNT] == 0
    assert m.stats.dropped == {"ring_full": 0, "backlog": 0, "flow_limit": 72, "device_gone": 0}
    m.check_conservation()


def test_table_on_target_cpu_only_has_no_effect():
    m = setup(1 << TARGET)
    f = make_flow(m, HASH)
    results = inject(m, f, TARGET, THIS, n=300)
    # THIS has no table -> skb_flow_limit() is false; only the backlog limit applies:
    # MAX + 1 = 201 accepted, 99 dropped as "backlog", the target's table never updated.
    assert results == [True] * 201 + [False] * 99
    assert m.stats.dropped["backlog"] == 99 and m.stats.dropped["flow_limit"] == 0
    assert m.softnet[TARGET].flow_limit.history_head == 0
    assert row(m, TARGET)[FLOW_LIMIT_COUNT] == 0 and row(m, THIS)[FLOW_LIMIT_COUNT] == 0
    m.check_conservation()


def test_local_enqueue_uses_own_table():
    m = setup(1 << TARGET)
    f = make_flow(m, HASH)
    # this CPU == target: the target's table is this CPU's table, same count as above.
    results = inject(m, f, TARGET, TARGET, n=300)
    assert results.index(False) == 164
    assert row(m, TARGET)[FLOW_LIMIT_COUNT] == row(m, TARGET)[DROPPED] == 300 - 164
    m.check_conservation()


def test_two_alternating_flows_are_never_flow_limited():
    m = setup(1 << THIS)
    a, b = make_flow(m, HASH), make_flow(m, HASH ^ 0x00F00F00)
    assert bucket(a.hash) != bucket(b.hash) and 0 not in (bucket(a.hash), bucket(b.hash))
    results = []
    for _ in range(150):
        results += inject(m, a, TARGET, THIS) + inject(m, b, TARGET, THIS)
    # Alternating, each flow holds at most 64 of the 128 window entries: never > 64. Only the
    # backlog limit bites: 201 accepted, 99 "backlog" drops, flow_limit_count 0.
    assert results == [True] * 201 + [False] * 99
    assert m.stats.dropped["flow_limit"] == 0 and row(m, THIS)[FLOW_LIMIT_COUNT] == 0
    m.check_conservation()


def test_bucket_zero_quirk_zero_filled_history():
    m = setup(1 << THIS)
    f = make_flow(m, BUCKET0_HASH)
    results = inject(m, f, TARGET, THIS, n=300)
    # The history starts as 128 entries of bucket 0. A bucket-0 flow's first packet evicts a
    # zero entry while buckets[0] == 0 (no decrement) -> 1; every later packet evicts a bucket-0
    # entry (fill or its own) and decrements first -> the counter stays 1, never > 64.
    # So it is never flow-limited and only the backlog limit applies.
    assert results == [True] * 201 + [False] * 99
    assert m.softnet[THIS].flow_limit.buckets[0] == 1
    assert m.stats.dropped["flow_limit"] == 0 and m.stats.dropped["backlog"] == 99
    m.check_conservation()


def test_table_updated_even_when_backlog_limit_would_refuse_first():
    m = setup(1 << THIS)
    m.set_sysctl("netdev_max_backlog", 0)
    f = make_flow(m, HASH)
    # MAX 0: qlen < 0 >> 1 is never true, so the table is consulted from packet 1, but the
    # backlog test runs first (qlen <= max && !flow_limit): packet 1 accepted (qlen 0), packet
    # 2 refused by the length test before skb_flow_limit() is called -> one table update only.
    assert inject(m, f, TARGET, THIS, n=2) == [True, False]
    assert m.softnet[THIS].flow_limit.history_head == 1
    assert m.stats.dropped["backlog"] == 1
    m.check_conservation()


def test_clearing_the_bitmap_frees_the_table():
    m = setup(1 << THIS)
    f = make_flow(m, HASH)
    inject(m, f, TARGET, THIS, n=300)
    m.set_sysctl("flow_limit_cpu_bitmap", 0)
    assert m.softnet[THIS].flow_limit is None
    assert m.flow_limit_cpu_bitmap() == 0
    assert row(m, THIS)[FLOW_LIMIT_COUNT] == 0     # "0 if none" (section 8, column 11)
    m.check_conservation()


def test_table_len_only_read_at_allocation():
    m = setup(1 << THIS)
    m.set_sysctl("flow_limit_table_len", 8)
    assert len(m.softnet[THIS].flow_limit.buckets) == 4096     # existing table unchanged
    m.set_sysctl("flow_limit_cpu_bitmap", 0)
    m.set_sysctl("flow_limit_cpu_bitmap", 1 << THIS)            # re-allocated: 8 buckets
    fl = m.softnet[THIS].flow_limit
    assert len(fl.buckets) == 8
    # Two flows in the same of 8 buckets share one counter: alternating, together they fill
    # the window exactly like one flow -> first drop at window position 65 again.
    a = make_flow(m, HASH)
    same = next(h for h in range(1, 1 << 16)          # same bucket in both conventions
                if bucket(h, 8) == bucket(HASH, 8) and h & 7 == HASH & 7 and h != HASH)
    b = make_flow(m, same)
    results = inject(m, a, TARGET, THIS, n=100)        # qlen 0..99: below half, no update
    for _ in range(40):
        results += inject(m, a, TARGET, THIS) + inject(m, b, TARGET, THIS)
    assert results.index(False) == 164
    m.check_conservation()
