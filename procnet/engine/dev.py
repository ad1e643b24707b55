"""The receive path of net/core/dev.c, in the three backlog modes procnet compares.

Functions keep the kernel's names: `enqueue_to_backlog`, `skb_flow_limit`, `get_rps_cpu`,
`napi_schedule_rps`, `____napi_schedule`, `rps_trigger_softirq`, `net_rps_send_ipi`,
`process_backlog`, `__napi_poll`, `net_rx_action`, `napi_threaded_poll`, `flush_backlog`,
`dev_cpu_dead`, plus seed 000's `backlog_set_threaded`. Reference: Linux 6.10-6.18 dev.c
(../shared/kernel-facts.md sections 2-7) and the two seeds.

Modes:
  * stock: backlogs are plain NAPIs run by NET_RX softirq; remote RPS targets get an IPI.
  * seed 000 (`backlog_threaded` sysctl): unbound `napi/backlog-N` kthreads, THREADED set at run
    time; variant "intended" wakes the remote target's thread, "as-written" schedules *this*
    CPU's backlog as the patch's hunk does on >= 6.0 trees (see docs/openwrt-freeze.md).
  * seed 002 (`thread_backlog_napi`): bound `backlog_napi/N` smpboot threads, THREADED from boot,
    local-CPU shortcut to softirq (switchable off: the 2023 RFC).

Simplifications:
  * RFS (rps_sock_flow_table / rps_flow_cnt) is stored but does not steer: procnet has no
    socket-to-CPU model for NIC flows. RPS map selection is exact.
  * The defer list, GRO and TX softirq are not modelled.
  * netif_running() is false from the moment unregister starts (dev_close).
"""
from __future__ import annotations

from array import array
from dataclasses import fields, replace

import cython

from .config import CostModel, NetDeviceConfig, TrafficConfig
from .cpu import Cpu
from .netdevice import NETREG_UNREGISTERED, NETREG_UNREGISTERING, NetDevice
from .sched import PARKED, RUNNING
from .skbuff import SkbQueue
from .softnet import FlowLimit, SoftnetData, reciprocal_scale
from .traffic import Flow, flow_hash, make_source, rss_queue

if not cython.compiled:     # compiled, the .pxd cimports these from defs.pxd as C constants
    from .defs import (BODY_NAPI, CTX_TASK_BH, DONE_AFTER_POLL, DONE_NONE, EV_IPI_ARRIVE,
                       EV_IRQ_FIRE, EV_SOCK_DELIVER, NAPI_STATE_SCHED, NAPI_STATE_SCHED_THREADED,
                       NAPI_STATE_THREADED, NAPI_THREAD_BH, NAPI_THREAD_RAN, NAPI_THREAD_RESCHED,
                       NAPI_THREAD_WAIT, NO_ARRIVAL, NO_CHUNK, NSEC_PER_MSEC, OP_BH_ENABLE, OP_RESCHED, OP_RUN,
                       OP_SLEEP, OP_SPIN, SCHED_BITS, SOFTIRQ, SYSTEM)

KMALLOC_MAX_SIZE = 1 << 22           # x86-64 with 4 KiB pages (order-10 allocations)
MAX_SOFTIRQ_TIME_MS = 2              # kernel/softirq.c MAX_SOFTIRQ_TIME


class Costs:
    """The machine's CostModel as plain attributes, read on every packet (dev.pxd gives them C
    types; the frozen dataclass itself is what procnet/model/* shows and replaces)."""

    def __init__(self, cost: CostModel) -> None:
        for f in fields(cost):
            setattr(self, f.name, getattr(cost, f.name))


class NetCoreSysctls:
    """The net.core values the receive path reads (net_hotdata and dev.c globals)."""

    NAMES = ("netdev_max_backlog", "dev_weight", "dev_weight_rx_bias", "dev_weight_tx_bias",
             "dev_rx_weight", "dev_tx_weight", "netdev_budget", "netdev_budget_usecs",
             "flow_limit_table_len", "rps_sock_flow_entries", "rps_default_mask",
             "netdev_tstamp_prequeue", "busy_poll", "busy_read", "gro_normal_batch",
             "skb_defer_max")

    def __init__(self, hz: int) -> None:
        self.netdev_max_backlog = 1000
        self.dev_weight = 64                 # weight_p
        self.dev_weight_rx_bias = 1
        self.dev_weight_tx_bias = 1
        self.dev_rx_weight = 64
        self.dev_tx_weight = 64
        self.netdev_budget = 300
        self.netdev_budget_usecs = 2 * 1_000_000 // hz
        self.flow_limit_table_len = 4096
        self.rps_sock_flow_entries = 0       # stored; RFS does not steer (see docstring)
        self.rps_default_mask = 0
        # Stored so the files behave; they have no effect on the backlog model.
        self.netdev_tstamp_prequeue = 1
        self.busy_poll = 0
        self.busy_read = 0
        self.gro_normal_batch = 8
        self.skb_defer_max = 64


class UnregisterResult:
    """What unregister_netdevice() did: time it took and whether seed 000's wait was bounded."""

    def __init__(self) -> None:
        self.waited_ns = 0
        self.error: str | None = None
        self.dropped = 0

    def __repr__(self) -> str:
        return f"<UnregisterResult waited={self.waited_ns}ns dropped={self.dropped} error={self.error!r}>"


class NetCore:
    """Mixin of Machine holding the networking state and the dev.c functions."""

    def __init__(self) -> None:
        cfg = self.cfg
        self.cost = cfg.cost
        self.c = Costs(cfg.cost)
        self.hz = cfg.hz
        self.max_softirq_jiffies = max(1, -(-MAX_SOFTIRQ_TIME_MS * cfg.hz // 1000))
        self.preempt_rt = cfg.preempt_rt
        self.use_backlog_threads = cfg.use_backlog_threads
        self.sysctl = NetCoreSysctls(cfg.hz)
        # Every flow the machine ever had, by id: packets in queues carry only the id.
        self.flows_by_id: list[Flow] = []
        self._flow_hash = array("q", bytes(8 * 64))   # flow id -> flow hash (for RPS)
        self.softnet = [SoftnetData(c, self.sysctl.dev_weight, self.flows_by_id)
                        for c in range(cfg.cpus)]
        self.netdevs: dict[str, NetDevice] = {}
        self.traffic: dict[str, object] = {}
        self.flows: list[Flow] = []            # flows of live sources and UDP_RR pairs
        self._next_fid = 0
        self._next_ifindex = 1
        self._next_irq = 24
        self.backlog_threaded = False        # seed 000's static bool in backlog_set_threaded
        self.kthread_fail_at: int | None = None   # fault injection: fail the Nth kthread_run
        self._kthreads_created = 0
        self.stalled: dict[int, int] = {}    # cpu -> virtual time the stall was first seen
        # Model settings a script may flip at run time (procnet/model/*).
        self.felix_variant = cfg.felix_variant
        self.felix_intended = cfg.felix_variant == "intended"
        self.backlog_local_shortcut = cfg.backlog_local_shortcut
        # Set to a list to record (flow id, arrival_ns, cpu) of every delivery, in order.
        self.delivery_trace: list | None = None
        # Set to a function f(napi, work, cpu) called after every NAPI poll: the kernel's
        # napi:napi_poll tracepoint (trace_napi_poll() in __napi_poll).
        self.trace_napi_poll = None
        # Scratch of napi_poll_device()'s RPS step, by CPU: the ring position of the first and
        # last packet for that target and their count; the targets in the order they first
        # appear. By ring position: the next packet of the same chain, and when a packet
        # processed on the polling CPU is done.
        self._rps_first = array("q", bytes(8 * cfg.cpus))
        self._rps_tail = array("q", bytes(8 * cfg.cpus))
        self._rps_count = array("q", bytes(8 * cfg.cpus))
        self._rps_order = array("q", bytes(8 * cfg.cpus))
        self._rps_next = array("q", bytes(8 * 64))
        self._rps_done = array("q", bytes(8 * 64))

    # ------------------------------------------------------------------ the CPU model
    # What the receive path asks of the CPUs it runs on. Machine (machine.py) implements these;
    # they are declared here so that the compiled engine calls them directly (dev.pxd).
    def raise_irq(self, cpu, src) -> int:
        raise NotImplementedError

    def raise_net_rx(self, cpu) -> int:
        raise NotImplementedError

    def wake_up_process(self, t, charge: bool = True) -> bool:
        raise NotImplementedError

    def _start_chunk(self, cpu, kind: int, dur_ns: int, task, preemptible: bool,
                     done: int) -> int:
        raise NotImplementedError

    def _cut_chunk(self, cpu) -> None:
        raise NotImplementedError

    def _kick(self, cpu, delay_ns: int = 0) -> None:
        raise NotImplementedError

    def _dispatch(self, cpu) -> int:
        raise NotImplementedError

    def _net_rx_action_done(self, cpu) -> int:
        raise NotImplementedError

    def jiffies(self, t_ns: int = -1) -> int:
        raise NotImplementedError

    # ------------------------------------------------------------------ devices and traffic
    def add_netdev(self, dcfg: NetDeviceConfig) -> NetDevice:
        """register_netdevice(): new rx queues get rps_default_mask (rx_queue_default_mask)."""
        if dcfg.name in self.netdevs:
            raise ValueError(f"device {dcfg.name!r} already exists")
        for c in dcfg.irq_cpus:
            if not 0 <= c < self.cfg.cpus:
                raise ValueError(f"{dcfg.name}: irq cpu {c} out of range 0..{self.cfg.cpus - 1}")
        dev = NetDevice(dcfg, self._next_ifindex, self._next_irq, self.cfg.cpus, self.flows_by_id)
        self._next_ifindex += 1
        if not dcfg.loopback:
            self._next_irq += len(dev.rxqs)
        self.netdevs[dev.name] = dev
        for rxq in dev.rxqs:
            if rxq.irq_cpu is not None and not self.cpus[rxq.irq_cpu].online:
                rxq.irq_cpu = self.online_cpus()[0]
            if self.sysctl.rps_default_mask:                 # rx_queue_default_mask()
                self.set_rps_cpus(dev.name, rxq.index, self.sysctl.rps_default_mask)
        return dev

    def _new_flow(self, name: str, dev: NetDevice, tuple5: tuple) -> Flow:
        f = Flow(self._next_fid, name, tuple5, flow_hash(tuple5, self.cfg.seed), dev)
        self._next_fid += 1
        self.register_flow(f)
        return f

    def register_flow(self, f: Flow) -> None:
        """A new flow of the machine (its id the next one): a live flow (`flows`), and
        `flows_by_id[f.fid]` for as long as the machine lives, as packets refer to it by id."""
        if f.fid != len(self.flows_by_id):
            raise ValueError(f"flow id {f.fid} is not the next one ({len(self.flows_by_id)})")
        if f.fid >= len(self._flow_hash):
            self._flow_hash = array("q", self._flow_hash) + array("q", bytes(8 * f.fid))
        self._flow_hash[f.fid] = f.hash
        self.flows_by_id.append(f)
        self.flows.append(f)

    def add_traffic(self, tcfg: TrafficConfig):
        """Start a seeded traffic source on a device's rx queues."""
        if tcfg.name in self.traffic:
            raise ValueError(f"traffic {tcfg.name!r} already exists")
        dev = self.netdevs.get(tcfg.dev)
        if dev is None:
            raise ValueError(f"no device {tcfg.dev!r}")
        if dev.loopback:
            raise ValueError("traffic on lo comes from tasks (udp_rr), not from a generator")
        src = make_source(tcfg, dev, self.cfg.seed, self._next_fid, self.eq.now_ns)
        for f in src.flows:
            self.register_flow(f)
        self._next_fid += len(src.flows)
        for q, stream in src.streams:
            rxq = dev.rxqs[q]
            rxq.fill(self.eq.now_ns, self.stats)
            rxq.streams.append(stream)
            if rxq.irq_armed:
                self._arm_irq(rxq)
        self.traffic[tcfg.name] = src
        return src

    def del_traffic(self, name: str) -> None:
        src = self.traffic.pop(name, None)
        if src is None:
            raise KeyError(f"no traffic {name!r}")
        dev = self.netdevs.get(src.cfg.dev)
        if dev is not None:
            for q, stream in src.streams:
                dev.rxqs[q].fill(self.eq.now_ns, self.stats)
                dev.rxqs[q].streams.remove(stream)
        src.stop()
        gone = set(map(id, src.flows))        # packets still queued keep their Flow objects
        self.flows = [f for f in self.flows if id(f) not in gone]

    # ------------------------------------------------------------------ NIC interrupts
    def _arm_irq(self, rxq) -> int:
        """Re-enable the queue's interrupt: it fires rx_usecs after the next arrival."""
        rxq.irq_armed = True
        rxq.irq_token += 1
        if rxq.ring.qlen:
            when = self.eq.now_ns + rxq.dev.coalesce_ns
        else:
            nxt = rxq.next_arrival_ns()
            if nxt == NO_ARRIVAL:
                return 0
            when = max(nxt, self.eq.now_ns) + rxq.dev.coalesce_ns
        self.eq._push(when, EV_IRQ_FIRE, rxq, rxq.irq_token)         # at(), inline compiled
        return 0

    def _irq_fire(self, rxq, token: int) -> int:
        if token != rxq.irq_token or not rxq.irq_armed or not rxq.dev.running:
            return 0
        rxq.fill(self.eq.now_ns, self.stats)
        if not rxq.ring.qlen:       # the stream went quiet (traffic removed): re-arm lazily
            self._arm_irq(rxq)
            return 0
        rxq.irq_armed = False
        irq_cpu = rxq.irq_cpu       # a C int: a Python one made cpus[] a generic lookup
        self.raise_irq(cython.cast(Cpu, self.cpus[irq_cpu]), rxq)     # cpus holds Cpus
        return 0

    def rxq_interrupt(self, rxq, cpu) -> int:
        """The driver's hardirq handler: napi_schedule() (NAPI) or netif_rx() per packet."""
        rxq.irqs_per_cpu[cpu.id] += 1
        if not rxq.dev.running:
            return 0
        if rxq.dev.napi_driver:
            napi = rxq.napi
            if not napi.state & NAPI_STATE_SCHED:
                napi.state |= NAPI_STATE_SCHED
                self.____napi_schedule(cython.cast(SoftnetData, self.softnet[cpu.id]), napi)
            return 0
        rxq.fill(self.eq.now_ns, self.stats)
        ring = rxq.ring
        cost = self.c.driver_rx_ns
        while ring.qlen:
            self._cost_acc += cost
            t = ring.pop()
            self.netif_rx(t, self.flows_by_id[ring.popped_fid], cpu, rxq)
        self._arm_irq(rxq)
        return 0

    # ------------------------------------------------------------------ entry points
    def netif_rx(self, t_ns: int, flow: Flow, cpu, rxq) -> None:
        """netif_rx_internal(): RPS may pick a CPU; -1 means this CPU."""
        target = self.get_rps_cpu(rxq, flow.hash)
        if target < 0:
            target = cpu.id
        self._cost_acc += self.c.enqueue_ns
        self.enqueue_to_backlog(t_ns, flow, target, cpu.id)

    def loopback_xmit(self, flow: Flow, cpu) -> None:
        """loopback_xmit() -> __netif_rx() in the sender's context, BH disabled."""
        self.stats.offered += 1
        prev, self.ctx = self.ctx, CTX_TASK_BH
        try:
            self.netif_rx(self.eq.now_ns, flow, cpu, flow.dev.rxqs[0])
        finally:
            self.ctx = prev

    def get_rps_cpu(self, rxq, hash_: int) -> int:
        """get_rps_cpu(): cpus[reciprocal_scale(hash, len)], -1 without map, hash 0, offline."""
        if rxq.rps_map is None or hash_ == 0:      # (no local: a typed memoryview local
            return -1                              # costs a reference-count round trip)
        tcpu = rxq.rps_map[reciprocal_scale(hash_, len(rxq.rps_map))]
        c = self.cpus[tcpu]
        return tcpu if c.online else -1

    def enqueue_to_backlog(self, t_ns: int, flow: Flow, target: int, this_cpu: int) -> bool:
        """enqueue_to_backlog(): accept while qlen <= netdev_max_backlog and the flow is under its
        limit; schedule the backlog NAPI only on the empty -> non-empty transition."""
        dev = flow.dev
        if not dev.running:
            flow.dropped += 1
            self.stats.drop("device_gone")
            return False
        sd = self.softnet[target]
        qlen = sd.input_pkt_queue.qlen
        max_backlog = self.sysctl.netdev_max_backlog
        # int max_backlog against an unsigned qlen: a negative value means no limit.
        if (max_backlog < 0 or qlen <= max_backlog):
            if not self.skb_flow_limit(flow.hash, qlen, this_cpu):
                if qlen == 0 and not sd.backlog.state & NAPI_STATE_SCHED:
                    sd.backlog.state |= NAPI_STATE_SCHED
                    self.napi_schedule_rps(sd, self.softnet[this_cpu])
                sd.input_pkt_queue.push(t_ns, flow.fid)
                sd.input_queue_tail += 1
                return True
            reason = "flow_limit"
        else:
            reason = "backlog"
        sd.dropped += 1
        flow.dropped += 1
        self.stats.drop(reason)
        return False

    def skb_flow_limit(self, hash_: int, qlen: int, this_cpu: int) -> bool:
        """skb_flow_limit(): past half the limit, this CPU's table decides (128-packet window)."""
        max_backlog = self.sysctl.netdev_max_backlog
        if max_backlog < 0 or qlen < (max_backlog >> 1):
            return False
        fl = self.softnet[this_cpu].flow_limit
        if fl is None:
            return False
        return fl.over_limit(hash_)

    # ------------------------------------------------------------------ scheduling NAPIs
    def napi_schedule_rps(self, sd: SoftnetData, mysd: SoftnetData) -> int:
        """napi_schedule_rps() in the machine's mode (see module docstring)."""
        if sd is not mysd:
            if self.use_backlog_threads:
                self.____napi_schedule(mysd, sd.backlog)          # wakes sd's thread
                return 0
            if sd.backlog.state & NAPI_STATE_THREADED:           # seed 000
                if self.felix_intended:
                    self.____napi_schedule(mysd, sd.backlog)
                else:
                    # As written on >= 6.0 trees: fall through to the tail, which schedules
                    # *this* CPU's backlog. sd keeps SCHED and nobody will poll it.
                    self.____napi_schedule(mysd, mysd.backlog)
                return 0
            for queued in mysd.rps_ipi_list:     # identity, not ==: a scan of pointers
                if queued is sd:
                    break
            else:
                mysd.rps_ipi_list.append(sd)
            if not mysd.in_net_rx_action and not mysd.in_napi_threaded_poll:
                self.raise_net_rx(cython.cast(Cpu, self.cpus[mysd.cpu]))
            return 0
        self.____napi_schedule(mysd, mysd.backlog)
        return 0

    def ____napi_schedule(self, sd: SoftnetData, napi) -> int:
        """____napi_schedule(): wake the NAPI's thread, or add it to this CPU's poll_list."""
        if napi.state & NAPI_STATE_THREADED and napi.thread is not None:
            thread = napi.thread
            c = self.cpus[sd.cpu]
            local_shortcut = (self.use_backlog_threads and self.backlog_local_shortcut
                              and thread is c.backlog_thread)
            if not local_shortcut:
                napi.state |= NAPI_STATE_SCHED_THREADED
                if not self.wake_up_process(thread) and thread.spinning:
                    self._poke_spinner(thread)
                return 0
        if napi.on_poll_list >= 0:
            return 0      # list_add_tail on a queued NAPI is a bug in the kernel; never here
        sd.poll_list._add_tail(napi)
        napi.on_poll_list = sd.cpu
        if not sd.in_net_rx_action:
            self.raise_net_rx(cython.cast(Cpu, self.cpus[sd.cpu]))
        return 0

    def _poke_spinner(self, thread) -> None:
        """A busy-polling thread notices the new SCHED bit at its next loop iteration."""
        cpu = self.cpus[thread.cpu]
        if cpu.curr is thread and cpu.chunk_kind != NO_CHUNK and cpu.chunk_task is thread:
            self._cut_chunk(cpu)
            thread.remaining_ns = 0
            self._kick(cpu)

    def _ipi_arrive(self, remsd: SoftnetData) -> int:
        if remsd.ipi_cancelled:
            remsd.ipi_cancelled -= 1      # already run by smpcfd_dying_cpu()
            return 0
        self.raise_irq(cython.cast(Cpu, self.cpus[remsd.cpu]), remsd)
        return 0

    def smpcfd_dying_cpu(self, n: int, irq_pending_ipis: int) -> None:
        """flush_smp_call_function_queue() on a dying CPU: the RPS IPIs sent to it run there
        before it dies. stop_machine() cannot start while another CPU is inside net_rx_action,
        so IPIs still on an rps_ipi_list are sent (and run) first too."""
        sd = self.softnet[n]
        queued = 0
        for other in self.softnet:
            if sd in other.rps_ipi_list:
                other.rps_ipi_list.remove(sd)
                queued += 1
        sd.ipi_cancelled += sd.ipi_inflight - irq_pending_ipis   # still travelling
        handled = sd.ipi_inflight + queued
        sd.ipi_inflight = 0
        if handled:
            sd.received_rps += handled
            if sd.backlog.on_poll_list < 0:
                sd.poll_list.add_tail(sd.backlog)
                sd.backlog.on_poll_list = n

    def rps_trigger_softirq(self, sd: SoftnetData, cpu) -> int:
        """rps_trigger_softirq(): the RPS IPI handler on the target CPU."""
        sd.ipi_inflight = max(0, sd.ipi_inflight - 1)
        if sd.backlog.on_poll_list < 0:
            self.____napi_schedule(sd, sd.backlog)
        sd.received_rps += 1
        return 0

    def net_rps_send_ipi(self, mysd: SoftnetData) -> int:
        """net_rps_send_ipi(): one IPI per listed remote softnet_data whose CPU is online.
        Returns the sender's cost."""
        cost = 0
        lst, mysd.rps_ipi_list = mysd.rps_ipi_list, mysd.rps_ipi_spare
        for remsd in lst:
            target = cython.cast(Cpu, self.cpus[remsd.cpu])
            if target.online:
                cost += self.c.ipi_send_ns
                self.stats.ipis_sent += 1
                remsd.ipi_inflight += 1
                self.eq._push(self.eq.now_ns + self.c.ipi_latency_ns, EV_IPI_ARRIVE, remsd, 0)
        lst.clear()
        mysd.rps_ipi_spare = lst
        return cost

    # ------------------------------------------------------------------ polling
    def deliver(self, t_ns: int, flow: Flow, run_cpu: int, t_done: int) -> None:
        """__netif_receive_skb(): the packet reaches the protocol; `processed` counts it here."""
        dev = flow.dev
        if dev.unregistered:
            # Only reachable in seed 000, whose dev_cpu_dead leaves an offline CPU's queue to
            # its thread and whose flush only walks online CPUs: a kernel would touch a freed
            # net_device here. Count it, say it, and do not deliver.
            self.stats.delivered_after_unregister += 1
            flow.dropped += 1
            self.stats.drop("device_gone")
            self.log(f"procnet: packet for unregistered {dev.name} left in a backlog "
                     f"(seed 000 hazard), dropped on cpu{run_cpu}")
            return
        sd = self.softnet[run_cpu]
        sd.processed += 1
        flow.delivered += 1
        if self.delivery_trace is not None:
            self.delivery_trace.append((flow.fid, t_ns, run_cpu))
        stats = self.stats
        stats.delivered += 1
        stats.latency.record(t_done - t_ns)
        c = self.cpus[run_cpu]
        c.delivered += 1
        sink = flow.sink
        if sink is not None:
            if sink.waiter is not None:
                self._cost_acc += self.c.wakeup_ns      # sock_def_readable -> try_to_wake_up
            self.eq.at(t_done, EV_SOCK_DELIVER, (run_cpu, sink, (t_ns, flow)), 0)

    def deliver_batch(self, q: SkbQueue, n: int, run_cpu: int, t_first: int, step: int) -> int:
        """deliver() for the first n packets of q, processed back to back: the first done at
        t_first, then one every `step` ns. Per-flow counters and latency stay per packet."""
        latency = self.stats.latency
        trace = self.delivery_trace
        flows = self.flows_by_id
        t = t_first
        fast = 0
        head, mask = q.head, q.mask
        for k in range(n):              # q read in place: its k-th oldest, then n dropped
            i = (head + k) & mask
            t_ns = q.times[i]
            # Unchecked casts: flows_by_id holds only Flows, a Flow's dev is a NetDevice.
            flow = cython.cast(Flow, flows[q.fids[i]])
            if flow.sink is None and cython.cast(NetDevice, flow.dev).running:
                flow.delivered += 1
                if cython.compiled:
                    latency._count(t - t_ns)    # record(), without its call and return
                else:
                    latency.record(t - t_ns)
                if trace is not None:
                    trace.append((flow.fid, t_ns, run_cpu))
                fast += 1
            else:
                self.deliver(t_ns, flow, run_cpu, t)
                head, mask = q.head, q.mask     # as they were unless a socket's path grew q
            t += step
        q.drop_head(n)
        if fast:
            sd = cython.cast(SoftnetData, self.softnet[run_cpu])
            sd.processed += fast
            self.stats.delivered += fast
            c = cython.cast(Cpu, self.cpus[run_cpu])
            c.delivered += fast
        return 0

    def process_backlog(self, napi, quota: int, run_cpu: int, t0: int) -> tuple[int, int]:
        """process_backlog(): drain process_queue, splice input_pkt_queue, complete when empty.
        Returns (work, cost_ns)."""
        sd = napi.sd
        cost = 0
        if sd.rps_ipi_list and not self.use_backlog_threads:
            cost += self.net_rps_send_ipi(sd)
        napi.weight = self.sysctl.dev_rx_weight      # takes effect from the next poll
        work = 0
        per_pkt = self.c.protocol_ns
        pq = sd.process_queue
        while True:
            if pq.qlen:
                n = min(quota - work, pq.qlen)
                self.deliver_batch(pq, n, run_cpu, t0 + cost + per_pkt, per_pkt)
                cost += n * per_pkt
                work += n
                if work >= quota:
                    sd.input_queue_head += work
                    return work, cost
            sd.process_queue_empty += 1
            if not sd.input_pkt_queue.qlen:
                napi.state &= ~SCHED_BITS            # keeps THREADED
                break
            pq.splice_tail_init(sd.input_pkt_queue)
        sd.input_queue_head += work
        return work, cost

    def enqueue_batch(self, ring: SkbQueue, norder: int, this_cpu: int, dev: NetDevice) -> int:
        """enqueue_to_backlog() for the RPS step's chains of the rx ring (napi_poll_device): for
        each target CPU in _rps_order[:norder], its _rps_count packets in order, the
        _rps_first-th oldest, then the _rps_next of each. A chain whose packets are all
        accepted without reaching the flow-limit test is one append; otherwise it goes packet
        by packet, so drops and flow-limit stay exact. One call per poll, not per target: a
        poll carries a handful of packets to about as many targets."""
        # Unchecked casts: softnet holds SoftnetData.
        max_backlog = self.sysctl.netdev_max_backlog
        mysd = cython.cast(SoftnetData, self.softnet[this_cpu])
        for o in range(norder):
            target = self._rps_order[o]
            k = self._rps_first[target]
            count = self._rps_count[target]
            self._rps_count[target] = 0
            sd = cython.cast(SoftnetData, self.softnet[target])
            q = sd.input_pkt_queue
            qlen = q.qlen
            last = qlen + count - 1
            if dev.running and (max_backlog < 0 or (
                    last <= max_backlog and (mysd.flow_limit is None or last < max_backlog >> 1))):
                if qlen == 0 and not sd.backlog.state & NAPI_STATE_SCHED:
                    sd.backlog.state |= NAPI_STATE_SCHED
                    self.napi_schedule_rps(sd, mysd)
                # __skb_queue_tail() of each, in chain order, written into q's ring in place.
                if qlen + count > q.mask + 1:      # the call only when the ring must grow
                    q.reserve(count)
                mask, src_head, src_mask = q.mask, ring.head, ring.mask
                i = q.head + qlen
                for _ in range(count):
                    j = (src_head + k) & src_mask
                    q.times[i & mask] = ring.times[j]
                    q.fids[i & mask] = ring.fids[j]
                    i += 1
                    k = self._rps_next[k]
                q.qlen += count
                sd.input_queue_tail += count
                continue
            for _ in range(count):
                i = (ring.head + k) & ring.mask
                self.enqueue_to_backlog(ring.times[i], self.flows_by_id[ring.fids[i]], target,
                                        this_cpu)
                k = self._rps_next[k]
        return 0

    def napi_poll_device(self, napi, quota: int, cpu, t0: int) -> tuple[int, int]:
        """A NAPI driver's poll: up to `quota` packets from the ring via netif_receive_skb():
        to a backlog when get_rps_cpu() picks a CPU, else processed here."""
        rxq = napi.rxq
        rxq.fill(self.eq.now_ns, self.stats)
        ring = rxq.ring
        c = self.c
        work = min(quota, ring.qlen)
        if rxq.rps_map is None:
            step = c.driver_rx_ns + c.protocol_ns
            self.deliver_batch(ring, work, cpu.id, t0 + step, step)
            cost = work * step
        else:
            # get_rps_cpu() per packet, reading the ring in place. Packets keep their order
            # within each target (a chain through _rps_next from _rps_first[target]); targets
            # are enqueued in the order they first appear, then the packets processed here.
            if work > len(self._rps_next):
                self._rps_next = array("q", bytes(8 * 2 * work))
                self._rps_done = array("q", bytes(8 * 2 * work))
            n = len(rxq.rps_map)
            cpus = self.cpus
            norder = 0
            inline_first = -1
            inline_tail = -1
            cost = 0
            head = ring.head
            mask = ring.mask
            driver_rx_ns, enqueue_ns, protocol_ns = c.driver_rx_ns, c.enqueue_ns, c.protocol_ns
            for k in range(work):
                fid = ring.fids[(head + k) & mask]
                h = self._flow_hash[fid]
                cost += driver_rx_ns
                tcpu = rxq.rps_map[(h * n) >> 32] if h else -1
                if tcpu >= 0 and not cython.cast(Cpu, cpus[tcpu]).online:  # cpus holds Cpus
                    tcpu = -1
                if tcpu >= 0:
                    cost += enqueue_ns
                    if self._rps_count[tcpu]:
                        self._rps_next[self._rps_tail[tcpu]] = k
                    else:
                        self._rps_first[tcpu] = k
                        self._rps_order[norder] = tcpu
                        norder += 1
                    self._rps_tail[tcpu] = k
                    self._rps_count[tcpu] += 1
                else:
                    cost += protocol_ns
                    self._rps_done[k] = t0 + cost
                    if inline_first < 0:
                        inline_first = k
                    else:
                        self._rps_next[inline_tail] = k
                    inline_tail = k
            if norder:
                self.enqueue_batch(ring, norder, cpu.id, rxq.dev)
            if inline_first >= 0:
                self._rps_next[inline_tail] = -1
                k = inline_first
                while k >= 0:
                    i = (ring.head + k) & ring.mask
                    self.deliver(ring.times[i], self.flows_by_id[ring.fids[i]], cpu.id,
                                 self._rps_done[k])
                    k = self._rps_next[k]
            ring.drop_head(work)
        if work < quota:
            napi.state &= ~SCHED_BITS                # napi_complete_done()
            self._arm_irq(rxq)
        return work, cost

    def __napi_poll(self, napi, cpu, t0: int) -> tuple[int, int, bool]:
        """__napi_poll(): poll only if SCHED is set; a full-weight poll asks for a repoll."""
        weight = napi.weight
        if not napi.state & NAPI_STATE_SCHED:
            return 0, 0, False
        self._cost_acc = 0
        if napi.sd is not None:
            work, cost = self.process_backlog(napi, weight, cpu.id, t0)
        else:
            work, cost = self.napi_poll_device(napi, weight, cpu, t0)
        if self.trace_napi_poll is not None:
            self.trace_napi_poll(napi, work, cpu.id)
        cost += self._cost_acc
        self._cost_acc = 0
        return work, cost, work >= weight

    def net_rx_action_begin(self, cpu) -> None:
        """net_rx_action() entry: take the whole poll_list, set budget and time limit."""
        sd = cython.cast(SoftnetData, self.softnet[cpu.id])
        sd.in_net_rx_action = True
        cpu.in_net_rx = True
        # list_splice_init(&sd->poll_list, &list): the lists change places, none is made.
        spare = cpu.net_rx_list
        spare.clear()
        cpu.net_rx_list, sd.poll_list = sd.poll_list, spare
        cpu.net_rx_repoll.clear()
        cpu.net_rx_budget = self.sysctl.netdev_budget
        usecs_to_jiffies = -(-self.sysctl.netdev_budget_usecs * self.hz // 1_000_000)
        cpu.net_rx_time_limit = self.jiffies() + usecs_to_jiffies

    def net_rx_action_poll_one(self, cpu) -> int:
        """One iteration of net_rx_action's loop, or its exit."""
        sd = cython.cast(SoftnetData, self.softnet[cpu.id])
        if cpu.net_rx_list.count == 0:
            if cpu.net_rx_repoll.count == 0:
                sd.in_net_rx_action = False
                if sd.poll_list.count:               # refilled while we ran: start again
                    sd.in_net_rx_action = True
                    cpu.net_rx_list, sd.poll_list = sd.poll_list, cpu.net_rx_list
                    self.net_rx_action_poll_one(cpu)
                    return 0
                if not sd.rps_ipi_list:
                    cpu.in_net_rx = False
                    self._net_rx_action_done(cpu)
                    self._dispatch(cpu)
                    return 0
            self._net_rx_action_exit(cpu, sd, True)
            return 0
        napi = cpu.net_rx_list._pop_first()
        napi.on_poll_list = -1
        self._cost_acc = 0
        fixed = self.c.napi_poll_ns
        work, cost, repoll = self.__napi_poll(napi, cpu, self.eq.now_ns + fixed)
        if repoll:
            cpu.net_rx_repoll._add_tail(napi)
            napi.on_poll_list = cpu.id
        cpu.net_rx_budget -= work
        self._start_chunk(cpu, SOFTIRQ, fixed + cost, cpu.softirq_host, False, DONE_AFTER_POLL)
        return 0

    def _net_rx_action_after_poll(self, cpu) -> int:
        """net_rx_action()'s test after each poll: out of budget or time, it stops
        (time_squeeze)."""
        if cpu.net_rx_budget <= 0 or self.jiffies() >= cpu.net_rx_time_limit:
            sd = cython.cast(SoftnetData, self.softnet[cpu.id])
            sd.time_squeeze += 1
            self._net_rx_action_exit(cpu, sd, False)
        return 0

    def _net_rx_action_exit(self, cpu, sd, dispatch: bool) -> int:
        """net_rx_action() exit: poll_list = unprocessed + added meanwhile + repoll; re-raise
        NET_RX if non-empty; send pending RPS IPIs."""
        new = cpu.net_rx_list
        new.splice_tail_init(sd.poll_list)
        new.splice_tail_init(cpu.net_rx_repoll)
        cpu.net_rx_list, sd.poll_list = sd.poll_list, new
        for k in range(new.count):
            n = new.item(k)
            n.on_poll_list = cpu.id
        if new.count:
            cpu.softirq_pending = True          # __raise_softirq_irqoff: no ksoftirqd wake-up
        else:
            sd.in_net_rx_action = False
        cost = self.net_rps_send_ipi(sd) if sd.rps_ipi_list else 0
        cpu.in_net_rx = False
        self._net_rx_action_done(cpu)
        if cost:
            self._start_chunk(cpu, SOFTIRQ, cost, cpu.softirq_host, False, DONE_NONE)
        elif dispatch:
            self._dispatch(cpu)
        return 0

    # ------------------------------------------------------------------ threaded NAPI
    def _napi_thread_step(self, t) -> int:
        """napi_threaded_poll() as a state machine (BODY_NAPI), one request per step:

            while True:
                while not SCHED_THREADED: sleep              # napi_thread_wait()
                while True:
                    poll                                     # __napi_poll, then RPS IPIs
                    if no work, SCHED clear, SCHED_THREADED set: spin; break
                    run (the poll's cost, not preemptible)
                    bh_enable                                # local_bh_enable()
                    if not repoll: break
                    resched                                  # cond_resched()

        A poll with SCHED clear does nothing and SCHED_THREADED stays set: the loop then spins
        (the seed-000 as-written busy loop)."""
        napi = t.napi
        pc = t.pc
        if pc == NAPI_THREAD_RAN:
            t.pc = NAPI_THREAD_BH
            return OP_BH_ENABLE
        if pc == NAPI_THREAD_BH:
            if t.repoll:
                t.pc = NAPI_THREAD_RESCHED
                return OP_RESCHED
            pc = NAPI_THREAD_WAIT
        if pc == NAPI_THREAD_WAIT and not napi.state & NAPI_STATE_SCHED_THREADED:
            t.pc = NAPI_THREAD_WAIT
            return OP_SLEEP
        cpu = self.cpus[t.cpu]
        sd = self.softnet[cpu.id]
        sd.in_napi_threaded_poll = True
        work, cost, repoll = self.__napi_poll(napi, cpu, self.eq.now_ns + self.c.napi_poll_ns)
        sd.in_napi_threaded_poll = False
        if sd.rps_ipi_list:
            cost += self.net_rps_send_ipi(sd)
        if (work == 0 and not napi.state & NAPI_STATE_SCHED
                and napi.state & NAPI_STATE_SCHED_THREADED):
            t.pc = NAPI_THREAD_WAIT
            return OP_SPIN
        t.remaining_ns = self.c.napi_poll_ns + cost
        t.bucket = SYSTEM
        t.preemptible = False
        t.repoll = repoll
        t.pc = NAPI_THREAD_RAN
        return OP_RUN

    def _setup_backlog_napi_threads(self) -> None:
        """Seed 002: smpboot_register_percpu_thread(backlog_threads); .setup sets THREADED."""
        for c in self.cpus:
            sd = self.softnet[c.id]
            t = self._spawn_kthread(f"backlog_napi/{c.id}", BODY_NAPI, cpu=c.id,
                                    per_cpu=True, napi=sd.backlog)
            sd.backlog.thread = t
            sd.backlog.state |= NAPI_STATE_THREADED
            c.backlog_thread = t

    def backlog_set_threaded(self, threaded: bool) -> int:
        """backlog_set_threaded() of seed 000: create missing unbound napi/backlog-N threads,
        then set or clear THREADED under each backlog lock. Returns 0 or -errno.

        Deviation from the patch: when kthread_run fails, the patch forces the mode off but its
        sysctl keeps the value written; procnet's handler reads back the real mode."""
        if self.backlog_threaded == threaded:
            return 0
        if self.use_backlog_threads:
            raise OSError(95, "backlog_threaded: the boot option thread_backlog_napi already "
                              "threads the backlog (the two designs are alternatives)")
        err = 0
        if threaded:
            for sd in self.softnet:
                napi = sd.backlog
                if napi.thread is not None:
                    continue
                self._kthreads_created += 1
                if self.kthread_fail_at is not None and self._kthreads_created >= self.kthread_fail_at:
                    err = -12
                    self.log(f"kthread_run failed with err {err}")
                    threaded = False
                    break
                napi.thread = self._spawn_kthread(f"napi/backlog-{sd.cpu}",
                                                  BODY_NAPI, cpu=sd.cpu,
                                                  per_cpu=False, napi=napi)
        self.backlog_threaded = threaded
        for sd in self.softnet:
            if threaded:
                sd.backlog.state |= NAPI_STATE_THREADED
            else:
                sd.backlog.state &= ~NAPI_STATE_THREADED
        return err

    def dev_set_threaded(self, name: str, threaded: bool) -> None:
        """dev_set_threaded(): per-device threaded NAPI with unbound napi/<dev>-<id> threads."""
        dev = self._dev(name)
        if dev.loopback:
            raise OSError(95, f"{name} has no NAPI")
        for rxq in dev.rxqs:
            napi = rxq.napi
            if threaded and napi.thread is None:
                napi.thread = self._spawn_kthread(f"napi/{name}-{rxq.index}",
                                                  BODY_NAPI, cpu=rxq.irq_cpu or 0,
                                                  per_cpu=False, napi=napi)
        dev.threaded = int(threaded)
        for rxq in dev.rxqs:
            if threaded:
                rxq.napi.state |= NAPI_STATE_THREADED
            else:
                rxq.napi.state &= ~NAPI_STATE_THREADED

    # ------------------------------------------------------------------ configuration
    def _dev(self, name: str) -> NetDevice:
        dev = self.netdevs.get(name)
        if dev is None:
            raise KeyError(f"no device {name!r}")
        return dev

    def set_rps_cpus(self, dev_name: str, queue: int, mask: int) -> int:
        """store_rps_map(): map = written mask & online CPUs, ascending; empty -> no RPS.
        Returns the mask rps_cpus reads back."""
        dev = self._dev(dev_name)
        if not 0 <= queue < len(dev.rxqs):
            raise KeyError(f"{dev_name} has no rx-{queue}")
        online = sum(1 << c for c in self.online_cpus())
        eff = mask & online
        rxq = dev.rxqs[queue]
        cpus = [c for c in range(self.cfg.cpus) if eff >> c & 1]
        rxq.rps_map = array("q", cpus) if cpus else None
        rxq.rps_mask = eff if cpus else 0
        return rxq.rps_mask

    def set_model(self, name: str, value) -> None:
        """Change a model setting or cost between events (procnet/model/*)."""
        if name == "felix_variant":
            if value not in ("intended", "as-written"):
                raise ValueError(f"felix_variant must be intended or as-written (got {value!r})")
            self.felix_variant = value
            self.felix_intended = value == "intended"
        elif name == "backlog_local_shortcut":
            self.backlog_local_shortcut = bool(value)
        elif name in self.cost.field_names():
            if int(value) < 0:
                raise ValueError(f"{name} must be >= 0 (got {value})")
            self.cost = replace(self.cost, **{name: int(value)})
            self.c = Costs(self.cost)
        else:
            raise KeyError(f"unknown model setting {name!r}")

    def get_sysctl(self, name: str) -> int:
        if name == "backlog_threaded":
            return int(self.backlog_threaded)
        if name == "flow_limit_cpu_bitmap":
            return self.flow_limit_cpu_bitmap()
        if not hasattr(self.sysctl, name):
            raise KeyError(f"unknown sysctl {name!r}")
        return getattr(self.sysctl, name)

    def set_sysctl(self, name: str, value: int) -> None:
        """Apply an already-parsed net.core value with the side effects of its handler."""
        s = self.sysctl
        if name in ("dev_weight", "dev_weight_rx_bias", "dev_weight_tx_bias"):
            if value < 1:
                raise ValueError(f"{name} must be >= 1 (got {value})")
            setattr(s, name, value)
            # proc_do_dev_weight(): recompute under dev_weight_mutex; no overflow check.
            s.dev_rx_weight = _s32(s.dev_weight * s.dev_weight_rx_bias)
            s.dev_tx_weight = _s32(s.dev_weight * s.dev_weight_tx_bias)
        elif name == "flow_limit_table_len":
            u = value & 0xFFFFFFFF          # the kernel tests the int as an unsigned int
            if not u or u & (u - 1):
                raise ValueError(f"flow_limit_table_len must be a power of two (got {value})")
            s.flow_limit_table_len = value
        elif name == "flow_limit_cpu_bitmap":
            self.set_flow_limit_cpu_bitmap(value)
        elif name == "backlog_threaded":
            err = self.backlog_set_threaded(bool(value))
            if err:
                raise OSError(-err, f"backlog_threaded: kthread_run failed with err {err}")
        elif hasattr(s, name):
            setattr(s, name, value)
        else:
            raise KeyError(f"unknown sysctl {name!r}")

    def set_flow_limit_cpu_bitmap(self, mask: int) -> None:
        """flow_limit_cpu_sysctl(): allocate tables for set bits, free them for cleared bits."""
        table_len = self.sysctl.flow_limit_table_len
        for sd in self.softnet:
            want = bool(mask >> sd.cpu & 1)
            if want and sd.flow_limit is None:
                # kzalloc_node(sizeof(*cur) + table_len): fails for a negative or huge length
                if not 0 < table_len <= KMALLOC_MAX_SIZE:
                    raise OSError(12, f"flow_limit_cpu_bitmap: cannot allocate a flow table of "
                                      f"{table_len} buckets for cpu{sd.cpu}")
                sd.flow_limit = FlowLimit(table_len)
            elif not want and sd.flow_limit is not None:
                sd.flow_limit = None

    def flow_limit_cpu_bitmap(self) -> int:
        return sum(1 << sd.cpu for sd in self.softnet if sd.flow_limit is not None)

    # ------------------------------------------------------------------ unregister
    def unregister_netdev(self, name: str) -> UnregisterResult:
        """unregister_netdevice(): dev_close, flush_all_backlogs, then the device is gone.

        Seed 000 with THREADED backlogs may wait (msleep(1) loop, in virtual time) for a thread
        to drain process_queue; the wait is bounded by cfg.flush_wait_limit_ns and then reported
        as an error, the hung thread's packets dropped so the emulation can go on."""
        dev = self._dev(name)
        if dev.loopback:
            raise OSError(1, "lo cannot be unregistered")
        res = UnregisterResult()
        dev.reg_state = NETREG_UNREGISTERING
        for tname in [n for n, s in self.traffic.items() if s.cfg.dev == name]:
            self.del_traffic(tname)
        for rxq in dev.rxqs:                           # dev_close(): napi_disable, free ring
            rxq.irq_token += 1
            rxq.irq_armed = False
            napi = rxq.napi
            if napi.on_poll_list >= 0:
                lst = self.softnet[napi.on_poll_list].poll_list
                if napi in lst:
                    lst.remove(napi)
                for c in self.cpus:
                    if c.in_net_rx:
                        for lst in (c.net_rx_list, c.net_rx_repoll):
                            if napi in lst:
                                lst.remove(napi)
                napi.on_poll_list = -1
            napi.state &= NAPI_STATE_THREADED
            for pkt in rxq.ring:
                pkt[1].dropped += 1
            n = len(rxq.ring)
            rxq.ring.clear()
            self.stats.drop("device_gone", n)
            res.dropped += n
            if napi.thread is not None:
                self._kill(napi.thread)
                napi.thread = None
        waits = self.flush_all_backlogs(dev, res)
        if waits:
            deadline = self.eq.now_ns + self.cfg.flush_wait_limit_ns
            start = self.eq.now_ns
            while waits and self.eq.now_ns < deadline:
                self.run_for(NSEC_PER_MSEC)               # msleep(1)
                waits = [(sd, gen) for sd, gen in waits if sd.process_queue_empty == gen]
            res.waited_ns = self.eq.now_ns - start
            for sd, _ in waits:
                thread = sd.backlog.thread
                res.error = (f"flush_backlog: {thread.comm if thread else 'no thread'} did not "
                             f"drain process_queue of cpu{sd.cpu} within "
                             f"{self.cfg.flush_wait_limit_ns // NSEC_PER_MSEC} ms; a kernel "
                             f"would hang in unregister_netdevice here")
                self.log("INFO: task unregister blocked: " + res.error)
                res.dropped += self._purge(sd.process_queue, dev, sd)
        dev.reg_state = NETREG_UNREGISTERED
        del self.netdevs[name]
        return res

    def _purge(self, queue, dev, sd) -> int:
        keep = [p for p in queue if p[1].dev is not dev]
        n = len(queue) - len(keep)
        if n:
            for p in queue:
                if p[1].dev is dev:
                    p[1].dropped += 1
            queue.clear()
            queue.extend(keep)
            sd.input_queue_head += n
            self.stats.drop("device_gone", n)
        return n

    def flush_all_backlogs(self, dev, res: UnregisterResult) -> list:
        """flush_all_backlogs() -> flush_backlog() on each online CPU. Returns seed 000's
        (sd, generation) pairs it must wait for."""
        waits = []
        for c in self.cpus:
            if not c.online:
                continue
            sd = self.softnet[c.id]
            res.dropped += self._purge(sd.input_pkt_queue, dev, sd)
            felix_threaded = (sd.backlog.state & NAPI_STATE_THREADED
                              and not self.use_backlog_threads)
            if felix_threaded:
                if any(p[1].dev is dev for p in sd.process_queue):
                    waits.append((sd, sd.process_queue_empty))
                elif sd.process_queue:
                    waits.append((sd, sd.process_queue_empty))
                continue
            res.dropped += self._purge(sd.process_queue, dev, sd)
        return waits

    # ------------------------------------------------------------------ hotplug
    def dev_cpu_dead(self, oldcpu: int, cpu) -> None:
        """dev_cpu_dead(), run on `cpu` after oldcpu died."""
        oldsd = self.softnet[oldcpu]
        sd = self.softnet[cpu.id]
        self.curr_cpu = cpu.id
        for napi in list(oldsd.poll_list):
            napi.on_poll_list = -1
            if napi.is_backlog:
                napi.state &= NAPI_STATE_THREADED
            else:
                self.____napi_schedule(sd, napi)
        oldsd.poll_list.clear()
        if oldsd.backlog.state & NAPI_STATE_THREADED and not self.use_backlog_threads:
            return          # seed 000: the unbound thread keeps the dead CPU's queues
        if not self.use_backlog_threads and oldsd.rps_ipi_list:
            self.net_rps_send_ipi(oldsd)
        oldsd.rps_ipi_list = []
        # netif_rx() from process context ends in local_bh_enable(), which runs NET_RX: a packet
        # that stays on this CPU is processed before the next one is re-injected.
        prev, self.ctx = self.ctx, CTX_TASK_BH
        now = self.eq.now_ns
        mysd = self.softnet[cpu.id]
        try:
            for queue in (oldsd.process_queue, oldsd.input_pkt_queue):
                while queue.qlen:
                    t_ns = queue.pop()
                    flow = self.flows_by_id[queue.popped_fid]
                    oldsd.input_queue_head += 1
                    dev = flow.dev
                    rxq = dev.rxqs[rss_queue(flow.hash, len(dev.rxqs))]
                    target = self.get_rps_cpu(rxq, flow.hash)
                    if target < 0 or target == cpu.id:
                        if dev.running:
                            self.deliver(t_ns, flow, cpu.id, now)
                        else:
                            flow.dropped += 1
                            self.stats.drop("device_gone")
                    else:
                        self.enqueue_to_backlog(t_ns, flow, target, cpu.id)
            if mysd.rps_ipi_list:
                self.net_rps_send_ipi(mysd)
        finally:
            self.ctx = prev

    # ------------------------------------------------------------------ views
    def softnet_stat(self) -> list[tuple[int, ...]]:
        """Rows of /proc/net/softnet_stat: online CPUs only, ascending."""
        return [self.softnet[c.id].softnet_stat_row() for c in self.cpus if c.online]

    def queued(self) -> int:
        n = sum(sd.qlen() for sd in self.softnet)
        for dev in self.netdevs.values():
            for rxq in dev.rxqs:
                n += len(rxq.ring)
        return n

    def conservation(self) -> tuple[int, int, dict[str, int], int]:
        """(offered, delivered, dropped by reason, queued); offered == the sum of the rest."""
        self._fill_all_rings()
        s = self.stats
        return s.offered, s.delivered, dict(s.dropped), self.queued()

    def check_conservation(self) -> None:
        offered, delivered, dropped, queued = self.conservation()
        if offered != delivered + sum(dropped.values()) + queued:
            raise AssertionError(f"conservation violated: offered {offered} != delivered "
                                 f"{delivered} + dropped {dropped} + queued {queued}")

    def detect_stalls(self) -> list[int]:
        """Backlogs with SCHED set, packets queued, and no context that will ever poll them:
        not on any poll_list, not owned by a woken or runnable thread. A real kernel has no such
        check; procnet logs each new stall once."""
        found = []
        for sd in self.softnet:
            napi = sd.backlog
            stalled = False
            if napi.state & NAPI_STATE_SCHED and (sd.input_pkt_queue or sd.process_queue):
                pollable = napi.on_poll_list >= 0 or any(
                    c.in_net_rx and (napi in c.net_rx_list or napi in c.net_rx_repoll)
                    for c in self.cpus)
                t = napi.thread
                # A woken thread polls while SCHED_THREADED is set, even if THREADED was
                # cleared meanwhile (napi_thread_wait tests only SCHED_THREADED).
                thread_will_poll = (t is not None and napi.state & NAPI_STATE_SCHED_THREADED
                                    and t.state in (RUNNING, PARKED))
                ipi_coming = sd.ipi_inflight > 0 or any(sd in o.rps_ipi_list for o in self.softnet)
                stalled = not pollable and not thread_will_poll and not ipi_coming
            if stalled:
                found.append(sd.cpu)
                if sd.cpu not in self.stalled:
                    self.stalled[sd.cpu] = self.eq.now_ns
                    self.stats.stalls_detected += 1
                    self.log(f"procnet: backlog stall on cpu{sd.cpu}: NAPI state "
                             f"{napi.state_names()}, {sd.qlen()} packets queued, no context "
                             f"will poll it")
            else:
                self.stalled.pop(sd.cpu, None)
        return found


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v
