"""Per-CPU receive state: `struct softnet_data`, the backlog `napi_struct`, the flow-limit table.

Models include/linux/netdevice.h (`softnet_data`, NAPI_STATE_*) and the flow-limit part of
net/core/dev.c (`struct sd_flow_limit`, `skb_flow_limit`).

A packet is an arrival time and a flow (`procnet.engine.skbuff`); the flow carries the 32-bit
flow hash, the device and per-flow counters (`procnet.engine.traffic.Flow`).

Simplifications:
  * Counters are Python ints; renderers truncate to 32 bits exactly as `%08x` of an unsigned int.
  * `defer_list`, GRO and the TX queues are not modelled (no receive-side effect on the backlog).
"""
from __future__ import annotations

import cython

from .listhead import ListHead
from .skbuff import SkbQueue

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import NAPI_STATE_SCHED, NAPI_STATE_SCHED_THREADED, NAPI_STATE_THREADED

FLOW_LIMIT_HISTORY = 1 << 7          # 128-packet window
GOLDEN_RATIO_32 = 0x61C88647


def hash_32(val: int, bits: int) -> int:
    """hash_32() from include/linux/hash.h (used by skb_flow_limit since 2025)."""
    return ((val * GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - bits) if bits else 0


def reciprocal_scale(val: int, ep_ro: int) -> int:
    """reciprocal_scale() from include/linux/kernel.h: map a u32 onto [0, ep_ro)."""
    return (val * ep_ro) >> 32


class Napi:
    """`struct napi_struct`: a device queue's NAPI or a CPU's backlog pseudo-NAPI."""

    __slots__ = ("name", "state", "weight", "thread", "sd", "rxq", "on_poll_list")

    def __init__(self, name: str, weight: int, sd: "SoftnetData | None" = None, rxq=None) -> None:
        self.name = name
        self.state = 0
        self.weight = weight
        self.thread = None            # Task polling it when THREADED
        self.sd = sd                  # set for a backlog NAPI (container_of)
        self.rxq = rxq                # set for a device NAPI
        self.on_poll_list = -1        # CPU whose poll_list holds it, or -1 (list_owner)

    @property
    def is_backlog(self) -> bool:
        return self.sd is not None

    def state_names(self) -> str:
        names = [n for bit, n in ((NAPI_STATE_SCHED, "SCHED"), (NAPI_STATE_THREADED, "THREADED"),
                                  (NAPI_STATE_SCHED_THREADED, "SCHED_THREADED")) if self.state & bit]
        return "|".join(names) or "0"


class FlowLimit:
    """`struct sd_flow_limit`: allocated per CPU whose bit is set in flow_limit_cpu_bitmap."""

    __slots__ = ("count", "log_buckets", "history_head", "history", "buckets")

    def __init__(self, table_len: int) -> None:
        self.count = 0
        self.log_buckets = table_len.bit_length() - 1   # table_len is a power of two
        self.history_head = 0
        self.history = [0] * FLOW_LIMIT_HISTORY
        self.buckets = [0] * table_len

    def over_limit(self, flow_hash: int) -> bool:
        """The table update of skb_flow_limit() after the half-full test; True means drop."""
        new_flow = hash_32(flow_hash, self.log_buckets)
        head = self.history_head
        old_flow = self.history[head]
        self.history[head] = new_flow
        self.history_head = (head + 1) & (FLOW_LIMIT_HISTORY - 1)
        buckets = self.buckets
        if buckets[old_flow]:
            buckets[old_flow] -= 1
        buckets[new_flow] += 1
        if buckets[new_flow] > FLOW_LIMIT_HISTORY >> 1:
            self.count += 1
            return True
        return False


class SoftnetData:
    """`struct softnet_data` for one possible CPU, with the fields the receive path uses."""

    __slots__ = ("cpu", "input_pkt_queue", "process_queue", "backlog", "poll_list",
                 "processed", "dropped", "time_squeeze", "received_rps", "flow_limit",
                 "rps_ipi_list", "rps_ipi_spare", "input_queue_head", "input_queue_tail", "in_net_rx_action",
                 "in_napi_threaded_poll", "process_queue_empty", "ipi_inflight", "ipi_cancelled")

    def __init__(self, cpu: int, weight: int, flows: list) -> None:
        self.cpu = cpu
        self.input_pkt_queue = SkbQueue(flows)
        self.process_queue = SkbQueue(flows)
        self.backlog = Napi(f"backlog/{cpu}", weight, sd=self)
        self.poll_list = ListHead()       # of Napi
        self.processed = 0
        self.dropped = 0
        self.time_squeeze = 0
        self.received_rps = 0
        self.flow_limit: FlowLimit | None = None
        self.rps_ipi_list: list[SoftnetData] = []
        self.rps_ipi_spare: list[SoftnetData] = []   # net_rps_send_ipi() swaps the two
        self.input_queue_head = 0
        self.input_queue_tail = 0
        self.in_net_rx_action = False
        self.in_napi_threaded_poll = False
        self.process_queue_empty = 0    # seed 000's generation counter
        self.ipi_inflight = 0           # RPS IPIs sent to this CPU and not yet handled
        self.ipi_cancelled = 0          # in-flight IPIs already handled at CPU death

    def qlen(self) -> int:
        return self.input_pkt_queue.qlen + self.process_queue.qlen

    def softnet_stat_row(self) -> tuple[int, ...]:
        """The 15 values softnet_seq_show() prints for this CPU (net/core/net-procfs.c)."""
        fl = self.flow_limit.count if self.flow_limit else 0
        inq, pq = self.input_pkt_queue.qlen, self.process_queue.qlen
        return (self.processed, self.dropped, self.time_squeeze, 0, 0, 0, 0, 0, 0,
                self.received_rps, fl, inq + pq, self.cpu, inq, pq)
