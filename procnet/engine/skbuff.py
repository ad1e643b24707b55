"""`struct sk_buff_head`: a FIFO of packets (include/linux/skbuff.h).

A packet is an arrival time and the id of its flow. The queue keeps the two in parallel int64
rings, so that moving packets from queue to queue copies numbers and touches no flow (the
compiled engine: skbuff.pxd gives the rings C types). The flow itself is `flows[fid]`, the
machine's table of every flow it ever had (NetCore.flows_by_id), which each queue shares.

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
        self._t = array("q", bytes(8 * cap))
        self._id = array("q", bytes(8 * cap))
        self._mask = cap - 1
        self._head = 0
        self.qlen = 0
        self.popped_fid = -1            # the flow id of the packet pop() returned last

    # ------------------------------------------------------------------ hot path
    def push(self, t_ns: int, fid: int) -> None:
        """__skb_queue_tail()."""
        if self.qlen > self._mask:
            self._grow()
        i = (self._head + self.qlen) & self._mask
        self._t[i] = t_ns
        self._id[i] = fid
        self.qlen += 1

    def pop(self) -> int:
        """__skb_dequeue(): the oldest packet's arrival time; its flow id is left in
        `popped_fid`."""
        if self.qlen == 0:
            raise IndexError("pop from an empty SkbQueue")
        i = self._head
        self.popped_fid = self._id[i]
        self._head = (i + 1) & self._mask
        self.qlen -= 1
        return self._t[i]

    def peek_fid(self) -> int:
        """The oldest packet's flow id (skb_peek()); the queue must not be empty."""
        return self._id[self._head]

    def splice_tail_init(self, other: "SkbQueue") -> None:
        """skb_queue_splice_tail_init(): move every packet of `other` to our tail."""
        n = other.qlen
        while self.qlen + n > self._mask + 1:
            self._grow()
        j = other._head
        i = (self._head + self.qlen) & self._mask
        for _ in range(n):
            self._t[i] = other._t[j]
            self._id[i] = other._id[j]
            i = (i + 1) & self._mask
            j = (j + 1) & other._mask
        self.qlen += n
        other._head = 0
        other.qlen = 0

    def _grow(self) -> None:
        cap = (self._mask + 1) * 2
        t = array("q", bytes(8 * cap))
        ids = array("q", bytes(8 * cap))
        for k in range(self.qlen):
            j = (self._head + k) & self._mask
            t[k] = self._t[j]
            ids[k] = self._id[j]
        self._t, self._id, self._mask, self._head = t, ids, cap - 1, 0

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
            j = (self._head + k) & self._mask
            out.append((self._t[j], self.flows[self._id[j]]))
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
        self._head = 0
        self.qlen = 0

    def __repr__(self) -> str:
        return f"<SkbQueue qlen={self.qlen}>"
