"""The built-in experiments: each is a public claim, a shell script, the modes to run, and the
direction the claim predicts.

Every variant runs the same script on a fresh machine with the same seed and traffic; only the
mode differs (a boot option in `cmdline`, or what the script writes for PN_VARIANT). Costs are
the documented defaults (docs/model.md): nothing is tuned per experiment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@dataclass(frozen=True)
class Variant:
    label: str                 # PN_VARIANT, what the script switches on
    mode: str                  # stock | backlog_threaded | thread_backlog_napi
    cmdline: str = ""          # boot options of the machine
    note: str = ""


STOCK = Variant("stock", "stock", note="NET_RX softirq, RPS by IPI")
FELIX = Variant("backlog_threaded", "backlog_threaded",
                note="seed 000: echo 1 > backlog_threaded (unbound napi/backlog-N)")
MAINLINE = Variant("thread_backlog_napi", "thread_backlog_napi", "thread_backlog_napi",
                   note="seed 002: bound backlog_napi/N, local shortcut")
RFC = Variant("rfc_no_shortcut", "thread_backlog_napi", "thread_backlog_napi",
              note="Aug 2023 RFC: bound threads, no local shortcut")
FELIX_AS_WRITTEN = Variant("as-written", "backlog_threaded",
                           note="seed 000 applied to a >= 6.0 tree, as the hunk is written")
FELIX_INTENDED = Variant("intended", "backlog_threaded",
                         note="seed 000 as its author intended (5.x behaviour)")


@dataclass(frozen=True)
class Verdict:
    prediction: str
    agrees: bool
    detail: str


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    claim: str
    source: str
    variants: tuple[Variant, ...]
    judge: Callable[[dict[str, dict]], Verdict]
    cpus: int = 4
    timeseries: bool = False           # plot delivered rate over time instead of bars
    extra_metrics: tuple[str, ...] = field(default_factory=tuple)

    @property
    def script(self) -> Path:
        return SCRIPTS / f"{self.name}.sh"


def _pct(a: float, b: float) -> str:
    return f"{(a - b) / b:+.1%}" if b else "n/a"


def judge_imbalance(r: dict[str, dict]) -> Verdict:
    s, f = r["stock"], r["backlog_threaded"]
    hog_s, hog_f = s["hog_cpu_share"], f["hog_cpu_share"]
    better_lat = f["latency_us"]["p99"] <= s["latency_us"]["p99"]
    agrees = hog_f > hog_s and better_lat and f["delivered_pps"] >= 0.99 * s["delivered_pps"]
    return Verdict(
        "backlog_threaded keeps up with the traffic, lowers latency and frees the loaded CPU "
        "(threads move to idle CPUs)",
        agrees,
        f"delivered {_pct(f['delivered_pps'], s['delivered_pps'])}, p99 latency "
        f"{s['latency_us']['p99']} -> {f['latency_us']['p99']} us, the user task's CPU share "
        f"{hog_s:.0%} -> {hog_f:.0%}; thread_backlog_napi (bound): p99 "
        f"{r['thread_backlog_napi']['latency_us']['p99']} us")


def judge_busy_target(r: dict[str, dict]) -> Verdict:
    s = r["stock"]
    worse = [v for v in ("backlog_threaded", "thread_backlog_napi")
             if r[v]["delivered_pps"] <= s["delivered_pps"] * 1.01]
    agrees = len(worse) == 2
    return Verdict(
        "with every CPU busy, threaded processing gets no more CPU time: no throughput gain, "
        "higher latency",
        agrees,
        "; ".join(f"{v}: delivered {_pct(r[v]['delivered_pps'], s['delivered_pps'])}, p99 "
                  f"{s['latency_us']['p99']} -> {r[v]['latency_us']['p99']} us"
                  for v in ("backlog_threaded", "thread_backlog_napi")))


def judge_competing(r: dict[str, dict]) -> Verdict:
    s = r["stock"]
    tails = {v: r[v]["latency_us"]["p999"] for v in ("backlog_threaded", "thread_backlog_napi")}
    agrees = all(t > s["latency_us"]["p999"] for t in tails.values())
    return Verdict(
        "backlog kthreads compete with user threads: a longer latency tail than softirq",
        agrees,
        f"p99.9 stock {s['latency_us']['p999']} us; " +
        ", ".join(f"{v} {t} us" for v, t in tails.items()))


def judge_loopback(r: dict[str, dict]) -> Verdict:
    s, rfc, main = r["stock"], r["rfc_no_shortcut"], r["thread_backlog_napi"]
    d_tps = (rfc["transactions_per_s"] - s["transactions_per_s"]) / s["transactions_per_s"]
    d_cs = (rfc["context_switches"] - s["context_switches"]) / s["context_switches"]
    restored = abs(main["transactions_per_s"] - s["transactions_per_s"]) <= 0.02 * s["transactions_per_s"]
    agrees = d_tps < 0 and d_cs > 0 and restored
    return Verdict(
        "no local shortcut: fewer transactions (-17.5%) and more context switches (+66%); the "
        "mainline shortcut restores stock",
        agrees,
        f"RFC transactions {d_tps:+.1%}, context switches {d_cs:+.1%}; mainline transactions "
        f"{_pct(main['transactions_per_s'], s['transactions_per_s'])}; seed 000 "
        f"{_pct(r['backlog_threaded']['transactions_per_s'], s['transactions_per_s'])}")


def judge_rps(r: dict[str, dict]) -> Verdict:
    s, m = r["stock"], r["thread_backlog_napi"]
    close = abs(m["delivered_pps"] - s["delivered_pps"]) <= 0.01 * s["delivered_pps"]
    agrees = close and m["ipis"] == 0 and m["received_rps"] == 0 and s["ipis"] > 0
    return Verdict(
        "remote RPS by thread wake-up performs about like RPS by IPI; no IPIs, received_rps 0",
        agrees,
        f"delivered {_pct(m['delivered_pps'], s['delivered_pps'])}, p50 "
        f"{s['latency_us']['p50']} -> {m['latency_us']['p50']} us; IPIs {s['ipis']} -> "
        f"{m['ipis']}, wake-ups {s['wakeups']} -> {m['wakeups']}")


def judge_lifecycle(r: dict[str, dict]) -> Verdict:
    ok = all(v["conserved"] and v["delivered_after_unregister"] == 0 for v in r.values())
    return Verdict("CPU offline and device unregister lose nothing in any mode", ok,
                   "; ".join(f"{k}: conserved={v['conserved']} dropped={v['dropped']} "
                             f"flush wait={v.get('flush_wait_ms', 0)} ms" for k, v in r.items()))


def judge_openwrt(r: dict[str, dict]) -> Verdict:
    aw, it = r["as-written"], r["intended"]
    agrees = aw["stalls_detected"] > 0 and it["stalls_detected"] == 0 and \
        aw["final_delivered_pps"] < 0.9 * it["final_delivered_pps"]
    return Verdict(
        "as written on >= 6.0 trees, enabling backlog_threaded strands remote backlogs and "
        "writing 0 does not recover; as intended it works",
        agrees,
        f"as-written: {aw['stalls_detected']} stalled backlog(s), delivered after writing 0 "
        f"{aw['final_delivered_pps']:,.0f} pps; intended: {it['stalls_detected']} stalls, "
        f"{it['final_delivered_pps']:,.0f} pps")


EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment(
        "imbalance", "Few flows and a loaded CPU: static RPS vs. unbound backlog threads",
        "Static RPS is too inflexible with few flows or an imbalance in CPU use; threaded backlog "
        "lets the scheduler spread the load to idle CPUs (router: TCP +6%, ping 26 -> 14 ms).",
        "Felix Fietkau, [PATCH net-next v2] net/core: add optional threading for backlog "
        "processing, 2023-03-28 (seed 000); numbers in the RFC v2 thread, 2023-02-17",
        (STOCK, FELIX, MAINLINE), judge_imbalance, extra_metrics=("hog_cpu_share",)),
    Experiment(
        "busy-target", "The RPS target CPUs are fully busy",
        "If the RPS target CPU is fully busy, moving its processing into a thread gives it no "
        "more CPU time; expect measurably higher latency when other work runs.",
        "Paolo Abeni, review of Felix's v2, lore.kernel.org/all/"
        "e9e362e3a571bc32afb344cf35b54395e741de90.camel@redhat.com",
        (STOCK, FELIX, MAINLINE), judge_busy_target),
    Experiment(
        "competing-tasks", "Backlog kthreads vs. user threads",
        "Backlog kthreads are another variant of ksoftirqd, at the mercy of process scheduling "
        "decisions and competing with user threads: look at the latency tail.",
        "Eric Dumazet, reply to Felix's RFC v2, lore.kernel.org/all/"
        "CANn89i+j6==4S4Oyn+NVgm+qRQO_P5dMjxGSEjntPVp=v-HA1A@mail.gmail.com",
        (STOCK, FELIX, MAINLINE), judge_competing),
    Experiment(
        "loopback-rr", "UDP request/response over lo",
        "Moving local backlog work to a thread cost netperf UDP_RR over localhost 17.5% of its "
        "transactions (116234 -> 95851/s) and added 66% context switches; the local-CPU "
        "shortcut restores it.",
        "kernel test robot on the Aug 2023 RFC, lore.kernel.org/oe-lkp/"
        "202308211627.8b869c6e-oliver.sang@intel.com; seed 002 commit message",
        (STOCK, RFC, FELIX, MAINLINE), judge_loopback,
        extra_metrics=("transactions_per_s",)),
    Experiment(
        "rps-ipi-vs-thread", "Remote RPS: IPI vs. thread wake-up",
        "Waking the target CPU's backlog thread performs about the same as raising its softirq "
        "by IPI (\"the performance drops mostly to the same value ... comparing the IPI and the "
        "thread result\").",
        "Sebastian Andrzej Siewior, net: Allow to use SMP threads for backlog NAPI "
        "(dad6b9770263, Linux 6.10; seed 002)",
        (STOCK, MAINLINE), judge_rps),
    Experiment(
        "lifecycle", "CPU offline and device unregister under load",
        "Nothing may be lost in any mode; seed 000 leaves a dead CPU's queues to its unbound "
        "thread and waits in flush_backlog for the thread to drain process_queue.",
        "seeds 000 and 002 (dev_cpu_dead, flush_backlog); kernel-facts sections 6-7",
        (STOCK, FELIX, MAINLINE), judge_lifecycle, timeseries=True),
    Experiment(
        "openwrt-freeze", "The OpenWrt backlog_threaded freeze",
        "Enabling backlog_threaded on 6.1/6.6 froze networking and writing 0 did not bring it "
        "back (high CPU, hangs).",
        "coolsnowwolf/lede issue #11327; kernel-facts section 5.3 (napi_schedule_rps "
        "fall-through on >= 6.0 trees)",
        (FELIX_INTENDED, FELIX_AS_WRITTEN), judge_openwrt, timeseries=True),
)}
