"""`struct sk_buff_head`: a FIFO of packets (include/linux/skbuff.h).

A packet is an arrival time and the id of its flow. The queue keeps the two in parallel int64
rings, so that moving packets from queue to queue copies numbers and touches no flow (the
compiled engine: skbuff.pxd gives the rings C types). The flow itself is `flows[fid]`, the
machine's table of every flow it ever had (NetCore.flows_by_id), which each queue shares.

The ring's layout is part of the API, as `struct sk_buff_head`'s list is for
skb_queue_walk(): the k-th oldest packet is at slot `(head + k) & mask` of `times` and `fids`.
A NAPI poll reads its rx ring in place that way and writes each RPS target's packets into
that target's backlog ring (`reserve`, then the slots after its tail), then drops them all
with `drop_head`: one copy per packet, as the kernel's one pointer move, instead of a pop and
a push into a scratch queue. The arrival generator fills rx rings the same way.

Callers outside the hot path (tests, `dev_cpu_dead`, unregister's purge) see packets as
`(arrival_ns, flow)` tuples: `append`, `extend`, `popleft`, iteration.
"""
from __future__ import annotations

from array import array

MIN_CAPACITY = 16


class SkbQueue:
    """A growable ring of packets, oldest first. `qlen` is skb_queue_len()."""

    def __init__(self, flows: list, capacity: int = MIN_CAPACITY) -> None:
        cap = MIN_CAPACITY
        while cap < capacity:
            cap <<= 1
        self.flows = flows              # flows[fid]: shared with the machine
        self.times = array("q", bytes(8 * cap))
        self.fids = array("q", bytes(8 * cap))
        self.mask = cap - 1
        self.head = 0
        self.qlen = 0
        self.popped_fid = -1            # the flow id of the packet pop() returned last

    # ------------------------------------------------------------------ hot path
    def push(self, t_ns: int, fid: int) -> None:
        """__skb_queue_tail()."""
        if self.qlen > self.mask:
            self._grow()
        i = (self.head + self.qlen) & self.mask
        self.times[i] = t_ns
        self.fids[i] = fid
        self.qlen += 1

    def pop(self) -> int:
        """__skb_dequeue(): the oldest packet's arrival time; its flow id is left in
        `popped_fid`."""
        if self.qlen == 0:
            raise IndexError("pop from an empty SkbQueue")
        i = self.head
        self.popped_fid = self.fids[i]
        self.head = (i + 1) & self.mask
        self.qlen -= 1
        return self.times[i]

    def peek_fid(self) -> int:
        """The oldest packet's flow id (skb_peek()); the queue must not be empty."""
        return self.fids[self.head]

    def splice_tail_init(self, other: "SkbQueue") -> None:
        """skb_queue_splice_tail_init(): move every packet of `other` to our tail."""
        n = other.qlen
        while self.qlen + n > self.mask + 1:
            self._grow()
        j = other.head
        i = (self.head + self.qlen) & self.mask
        for _ in range(n):
            self.times[i] = other.times[j]
            self.fids[i] = other.fids[j]
            i = (i + 1) & self.mask
            j = (j + 1) & other.mask
        self.qlen += n
        other.head = 0
        other.qlen = 0

    def reserve(self, n: int) -> None:
        """Room for n more packets: a caller that writes them into the slots after the tail
        itself (the arrival generator, the NAPI poll's RPS step) then adds n to qlen."""
        while self.qlen + n > self.mask + 1:
            self._grow()

    def drop_head(self, n: int) -> int:
        """Forget the n oldest packets (n <= qlen): they were handed on in place."""
        self.head = (self.head + n) & self.mask
        self.qlen -= n
        return 0

    def _grow(self) -> None:
        cap = (self.mask + 1) * 2
        t = array("q", bytes(8 * cap))
        ids = array("q", bytes(8 * cap))
        for k in range(self.qlen):
            j = (self.head + k) & self.mask
            t[k] = self.times[j]
            ids[k] = self.fids[j]
        self.times, self.fids, self.mask, self.head = t, ids, cap - 1, 0

    # ------------------------------------------------------------------ the deque-like view
    @property
    def popped(self):
        """The flow of the packet pop() returned last."""
        return self.flows[self.popped_fid]

    def __len__(self) -> int:
        return self.qlen

    def __bool__(self) -> bool:
        return self.qlen > 0

    def __iter__(self):
        return iter(self.packets())

    def packets(self) -> list[tuple[int, object]]:
        """A snapshot of the queue as (arrival_ns, flow) tuples, oldest first."""
        out = []
        for k in range(self.qlen):
            j = (self.head + k) & self.mask
            out.append((self.times[j], self.flows[self.fids[j]]))
        return out

    def append(self, pkt) -> None:
        self.push(pkt[0], pkt[1].fid)

    def extend(self, pkts) -> None:
        for pkt in pkts:
            self.push(pkt[0], pkt[1].fid)

    def popleft(self) -> tuple[int, object]:
        t = self.pop()
        return t, self.flows[self.popped_fid]

    def clear(self) -> None:
        self.head = 0
        self.qlen = 0

    def __repr__(self) -> str:
        return f"<SkbQueue qlen={self.qlen}>"
