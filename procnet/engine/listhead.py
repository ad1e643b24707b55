"""`struct list_head` (include/linux/list.h) for the receive path's short object lists.

softnet_data's poll_list, net_rx_action's local list and repoll list, and a CPU's pending
interrupts swing between empty and one or two entries about once per poll or hardirq. A Python
list frees its buffer each time it is emptied (by `del`, `pop` or `clear`) and allocates it
again at the next append; this ring of slots never shrinks. Two ListHeads swap in O(1), as
list_splice_init() moves a list by its head.
"""
from __future__ import annotations

import cython


class ListHead:
    """A FIFO of objects, oldest first. `count` is the number of entries (list_empty() is
    `count == 0`)."""

    def __init__(self) -> None:
        self.slots = [None] * 4
        self.mask = 3
        self.head = 0
        self.count = 0

    # ------------------------------------------------------------------ hot path
    # Compiled, listhead.pxd has these two again as inline methods, _add_tail and _pop_first,
    # which the receive path calls so that they compile without a call; plain Python has
    # the same names for these (at the end).
    def add_tail(self, entry) -> int:
        """list_add_tail()."""
        if cython.compiled:
            return self._add_tail(entry)
        if self.count > self.mask:
            self._grow()
        self.slots[(self.head + self.count) & self.mask] = entry
        self.count += 1
        return 0

    def pop_first(self):
        """list_first_entry() and list_del_init() of it; the list must not be empty."""
        if cython.compiled:
            return self._pop_first()
        i = self.head
        entry = self.slots[i]
        self.slots[i] = None
        self.head = (i + 1) & self.mask
        self.count -= 1
        return entry

    def item(self, k: int):
        """The k-th oldest entry, 0 <= k < count (list_for_each_entry's k-th step)."""
        return self.slots[(self.head + k) & self.mask]

    def splice_tail_init(self, other: "ListHead") -> None:
        """list_splice_tail_init(): move every entry of `other` to our tail, oldest first."""
        while other.count:
            self.add_tail(other.pop_first())

    def clear(self) -> None:
        """INIT_LIST_HEAD(), dropping the references."""
        while self.count:
            self.pop_first()

    # ------------------------------------------------------------------ off the hot path
    def remove(self, entry) -> None:
        """list_del() of `entry` (compared by identity); ValueError if it is not listed."""
        rest = [e for e in self if e is not entry]
        if len(rest) == self.count:
            raise ValueError("ListHead.remove(x): x not in list")
        self.clear()
        for e in rest:
            self.add_tail(e)

    def _grow(self) -> None:
        self.slots = [*self, *([None] * (self.mask + 1))]
        self.mask = 2 * self.mask + 1
        self.head = 0

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        return iter([self.item(k) for k in range(self.count)])

    def __contains__(self, entry) -> bool:
        return any(self.item(k) is entry for k in range(self.count))

    def __repr__(self) -> str:
        return f"ListHead({list(self)!r})"


if not cython.compiled:     # the inline names of the compiled ListHead (listhead.pxd)
    ListHead._add_tail = ListHead.add_tail
    ListHead._pop_first = ListHead.pop_first
