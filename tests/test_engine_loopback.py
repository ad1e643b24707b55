"""lo: netif_rx() from the sender's context and the local softirq shortcut
(kernel-facts.md sections 2.1, 5.2 "Local-CPU shortcut", 5.3 "local schedule", 12.2).

A UDP_RR pair over lo with the client pinned to CPU 1 and the server to CPU 2, no RPS on lo:
each datagram is enqueued to the SENDER's own backlog.
"""
from __future__ import annotations

import pytest
from engine_helpers import MS, PROCESSED, machine, row, tasks_named

from procnet.engine.config import NetDeviceConfig, UdpRRConfig

RR = (UdpRRConfig(client_cpus=(1,), server_cpus=(2,)),)
LO = (NetDeviceConfig(name="lo", irq_cpus=(), loopback=True),)
DURATION = 10 * MS


def rr_machine(**kw):
    return machine(cpus=4, devices=LO, udp_rr=RR, **kw)


def expected_stock_transactions(c, duration_ns):
    """Critical path of one transaction in softirq-on-send mode, from the cost model:
    client send ends at T; bh_enable runs NET_RX in the client: request reaches the server
    socket at T + entry + poll + protocol; the server (asleep on idle CPU 2) is woken:
    + wakeup_latency + context_switch; it runs recv + send; its bh_enable delivers the
    response: + entry + poll + protocol; client wakes: + wakeup_latency + context_switch;
    client recv -> transaction counted. Then the next send. The first send ends at
    wakeup_latency + context_switch + send (client woken at t=0 on an idle CPU)."""
    rx = c.softirq_entry_ns + c.napi_poll_ns + c.protocol_ns
    wake = c.wakeup_latency_ns + c.context_switch_ns
    to_done = rx + wake + (c.udp_recv_ns + c.udp_send_ns) + rx + wake + c.udp_recv_ns
    period = to_done + c.udp_send_ns
    first_send = wake + c.udp_send_ns
    return (duration_ns - first_send - to_done) // period + 1     # 624 with the defaults


def run(m):
    m.run_for(DURATION)
    m.check_conservation()
    return m.udp_rr["rr"]


def test_stock_request_processed_in_softirq_on_client_cpu():
    m = rr_machine()
    pair = run(m)
    assert pair.transactions == expected_stock_transactions(m.cost, DURATION)
    # Requests are processed by NET_RX on CPU 1 (the client's), responses on CPU 2.
    assert row(m, 1)[PROCESSED] == pair.req_flow.delivered
    assert row(m, 2)[PROCESSED] == pair.resp_flow.delivered
    assert row(m, 0)[PROCESSED] == row(m, 3)[PROCESSED] == 0
    assert pair.req_flow.delivered >= pair.transactions
    # Each datagram: one NET_RX softirq in the sender's bh_enable, no IPI, no ksoftirqd.
    assert m.cpus[1].net_rx_softirqs == pair.req_flow.delivered
    assert m.stats.ipis_sent == 0 and all(c.irqs["CAL"] == 0 for c in m.cpus)
    assert all(k.runtime_ns == 0 for k in tasks_named(m, "ksoftirqd/"))
    assert m.cpu_times()[1]["softirq"] > 0


def test_felix_threaded_local_schedule_wakes_the_thread():
    stock = rr_machine()
    s_pair = run(stock)
    m = rr_machine()
    m.set_sysctl("backlog_threaded", 1)
    pair = run(m)
    assert pair.transactions > 0
    # No local shortcut in seed 000: the datagram wakes napi/backlog-1 (2) instead of running
    # in the sender's softirq. No NET_RX softirq and no softirq time at all.
    assert all(c.net_rx_softirqs == 0 for c in m.cpus)
    assert all(t["softirq"] == 0 for t in m.cpu_times())
    t1, t2 = (next(t for t in m.task_list() if t.comm == f"napi/backlog-{i}") for i in (1, 2))
    assert t1.wakeups == pair.req_flow.delivered and t1.runtime_ns > 0
    assert t2.wakeups == pair.resp_flow.delivered and t2.runtime_ns > 0
    # Two extra thread wake-ups per transaction: more context switches per transaction
    # (stock: 2 per datagram = idle <-> task; threaded: at least one more per datagram) and
    # fewer transactions in the same time.
    s_cs = sum(c.ctxt for c in stock.cpus) / s_pair.transactions
    f_cs = sum(c.ctxt for c in m.cpus) / pair.transactions
    assert f_cs >= s_cs + 2
    assert pair.transactions < s_pair.transactions


def test_mainline_local_shortcut_keeps_softirq():
    stock = rr_machine()
    s_pair = run(stock)
    m = rr_machine(thread_backlog_napi=True)
    pair = run(m)
    # Same-CPU enqueue: ____napi_schedule sees this CPU's own backlog_napi thread and uses the
    # local poll_list + softirq: identical to stock, the threads never run.
    assert pair.transactions == s_pair.transactions == expected_stock_transactions(m.cost,
                                                                                    DURATION)
    assert all(t.runtime_ns == 0 and t.wakeups == 0 for t in tasks_named(m, "backlog_napi/"))
    assert m.cpus[1].net_rx_softirqs == pair.req_flow.delivered
    assert m.stats.ipis_sent == 0


def test_mainline_without_shortcut_uses_threads():
    m = rr_machine(thread_backlog_napi=True, backlog_local_shortcut=False)
    pair = run(m)
    assert 0 < pair.transactions < expected_stock_transactions(m.cost, DURATION)
    b1, b2 = (next(t for t in m.task_list() if t.comm == f"backlog_napi/{i}") for i in (1, 2))
    # Always threaded (the August 2023 RFC): every datagram wakes the bound thread of the
    # sender's CPU, which processes it on that CPU. A datagram still queued when the run stops
    # has had its wake-up but not its delivery.
    assert b1.wakeups == pair.req_flow.delivered + m.softnet[1].qlen()
    assert b2.wakeups == pair.resp_flow.delivered + m.softnet[2].qlen()
    assert b1.runtime_ns > 0 and b1.cpu == 1 and b2.runtime_ns > 0 and b2.cpu == 2
    assert row(m, 1)[PROCESSED] == pair.req_flow.delivered
    assert all(c.net_rx_softirqs == 0 for c in m.cpus)
    assert m.stats.ipis_sent == 0


@pytest.mark.parametrize("kw", [{}, {"thread_backlog_napi": True}])
def test_stock_context_switches_two_per_datagram(kw):
    m = rr_machine(**kw)
    pair = run(m)
    # Client and server each sleep once and wake once per datagram received: a switch to idle
    # and a switch back, on their own CPUs; nothing else runs there.
    for cpu, flow in ((1, pair.resp_flow), (2, pair.req_flow)):
        assert 2 * flow.delivered <= m.cpus[cpu].ctxt <= 2 * flow.delivered + 3


def test_socket_wakeup_is_charged_to_the_softirq_that_delivers():
    # ENGINE DEVIATION: sock_deliver() runs as a later event, so the wakeup_ns it adds to
    # _cost_acc is charged to nobody.
    # The reader is woken by sock_def_readable() -> try_to_wake_up() inside __netif_receive_skb
    # (NET_RX on the sender's CPU), so that softirq pays CostModel.wakeup_ns per datagram, as
    # the enqueue path pays it when an enqueue wakes a backlog thread. Stock, CPU 1 only runs
    # the requests' softirqs: per request entry + poll + protocol + one wake-up.
    m = rr_machine()
    pair = run(m)
    c = m.cost
    per_request = c.softirq_entry_ns + c.napi_poll_ns + c.protocol_ns + c.wakeup_ns
    assert m.cpu_times()[1]["softirq"] == pair.req_flow.delivered * per_request
