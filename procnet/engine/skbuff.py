"""`struct sk_buff_head`: a FIFO of packets (include/linux/skbuff.h).

A packet is an arrival time and a flow, `(arrival_ns, flow)` where a caller wants one value
(tests, `dev_cpu_dead`, unregister's purge). Inside, the two parts sit in parallel rings, an
int64 array and a list, so the compiled engine moves packets between queues without making a
tuple per packet (skbuff.pxd gives the rings C types).

Simplifications:
  * A slot keeps its flow reference after the packet left until the slot is reused: flows live
    as long as the machine anyway, and clearing costs a reference count per packet.
"""
from __future__ import annotations

from array import array

MIN_CAPACITY = 16


class SkbQueue:
    """A growable ring of packets, oldest first. `qlen` is skb_queue_len()."""

    def __init__(self, capacity: int = MIN_CAPACITY) -> None:
        cap = MIN_CAPACITY
        while cap < capacity:
            cap <<= 1
        self._t = array("q", bytes(8 * cap))
        self._f = [None] * cap
        self._mask = cap - 1
        self._head = 0
        self.qlen = 0
        self.popped = None              # the flow of the packet pop() returned last

    # ------------------------------------------------------------------ hot path
    def push(self, t_ns: int, flow) -> None:
        """__skb_queue_tail()."""
        if self.qlen > self._mask:
            self._grow()
        i = (self._head + self.qlen) & self._mask
        self._t[i] = t_ns
        self._f[i] = flow
        self.qlen += 1

    def pop(self) -> int:
        """__skb_dequeue(): the oldest packet's arrival time; its flow is left in `popped`."""
        if self.qlen == 0:
            raise IndexError("pop from an empty SkbQueue")
        i = self._head
        self.popped = self._f[i]
        self._head = (i + 1) & self._mask
        self.qlen -= 1
        return self._t[i]

    def peek_flow(self):
        """The oldest packet's flow (skb_peek()); the queue must not be empty."""
        return self._f[self._head]

    def splice_tail_init(self, other: "SkbQueue") -> None:
        """skb_queue_splice_tail_init(): move every packet of `other` to our tail."""
        n = other.qlen
        while self.qlen + n > self._mask + 1:
            self._grow()
        j = other._head
        i = (self._head + self.qlen) & self._mask
        for _ in range(n):
            self._t[i] = other._t[j]
            self._f[i] = other._f[j]
            i = (i + 1) & self._mask
            j = (j + 1) & other._mask
        self.qlen += n
        other._head = 0
        other.qlen = 0

    def _grow(self) -> None:
        cap = (self._mask + 1) * 2
        t = array("q", bytes(8 * cap))
        f = [None] * cap
        for k in range(self.qlen):
            j = (self._head + k) & self._mask
            t[k] = self._t[j]
            f[k] = self._f[j]
        self._t, self._f, self._mask, self._head = t, f, cap - 1, 0

    # ------------------------------------------------------------------ the deque-like view
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
            out.append((self._t[j], self._f[j]))
        return out

    def append(self, pkt) -> None:
        self.push(pkt[0], pkt[1])

    def extend(self, pkts) -> None:
        for pkt in pkts:
            self.push(pkt[0], pkt[1])

    def popleft(self) -> tuple[int, object]:
        t = self.pop()
        return t, self.popped

    def clear(self) -> None:
        self._head = 0
        self.qlen = 0

    def __repr__(self) -> str:
        return f"<SkbQueue qlen={self.qlen}>"
