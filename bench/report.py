"""Turn a results dict (bench.run) into the goals verdict and the Markdown tables."""
from __future__ import annotations

import statistics

from bench.engine_bench import fmt_range, fmt_rate
from bench.machines import MACHINES, MODES, describe
from bench.mount_bench import FILES, FLOOR_FILE, HOST_FILE, LXCFS_FILE, rate, rates, ratio

# The issue's goals: (key, text, target, comparison)
TARGET_PPS = 10_000_000
TARGET_BASELINE_RATIO = 5.0
TARGET_THREADED_SHARE = 2 / 3
TARGET_LINEAR = 1.2            # wall us/packet at 10 Mpps <= 1.2x the one at 1 Mpps
TARGET_CPU_GROWTH = 1.5
TARGET_MOUNT_VS_LXCFS = 1.5
TARGET_RUNNING_SHARE = 0.5     # of the idle goal: 0.5 * 1.5 = 0.75x LXCFS with R16 running
TARGET_SWITCH_P99_MS = 2.0


def _k(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.3g} M"
    if v >= 1e3:
        return f"{v / 1e3:.3g} k"
    return f"{v:.3g}"


def _goal(text, target, measured, ok, gap, cmd, unit=""):
    return {"goal": text, "target": target, "measured": measured,
            "status": "n/a" if ok is None else ("met" if ok else "MISSED"), "gap": gap,
            "command": cmd}


def goals(res: dict) -> list[dict]:
    out = []
    eng = res.get("engine", {})
    r16 = eng.get("R16", {})
    if "stock" in r16:
        s = r16["stock"]["summary"]
        v = s["pkts_per_s"]["median"]
        out.append(_goal("R16 stock >= 10 M simulated packets per wall second "
                         "(real-time factor >= 1 at 10 Mpps)",
                         ">= 10 M pkt/s, RTF >= 1",
                         f"{_k(v)}pkt/s, RTF {s['rtf']['median']:.3g} (per CPU s: "
                         f"{_k(s['pkts_per_cpu_s']['median'])}pkt/s)",
                         v >= TARGET_PPS,
                         "" if v >= TARGET_PPS else f"needs {TARGET_PPS / v:.2f}x faster",
                         r16["stock"]["command"]))
    if "baseline" in res:
        b = res["baseline"]
        ok = b["ratio"] >= TARGET_BASELINE_RATIO
        out.append(_goal(">= 5x the per-packet baseline (R4, packets per wall second)", ">= 5x",
                         f"{b['ratio']:.2f}x (per CPU s: {b.get('ratio_cpu', float('nan')):.2f}x)",
                         ok,
                         "" if ok else f"needs {TARGET_BASELINE_RATIO / b['ratio']:.1f}x faster",
                         b["command"]))
    shares = []
    for name in ("R4", "R16", "R64"):
        m = eng.get(name, {})
        if "stock" not in m:
            continue
        for mode in MODES[1:]:
            if mode in m:
                shares.append((name, mode, _vs_stock(m, mode)))
    if shares:
        worst = min(shares, key=lambda x: x[2])
        ok = worst[2] >= TARGET_THREADED_SHARE
        out.append(_goal("threaded modes >= 2/3 of stock speed", ">= 0.67x stock",
                         ", ".join(f"{n} {'bt' if md == 'backlog_threaded' else 'tbn'} "
                                   f"{x:.2f}" for n, md, x in shares), ok,
                         "" if ok else f"worst {worst[0]} {worst[1]} {worst[2]:.2f}x: needs "
                                       f"{TARGET_THREADED_SHARE / worst[2]:.2f}x",
                         "python -m bench --only engine"))
    sc = res.get("scaling", {})
    if "pps" in sc:
        f = sc["pps_fit"]
        ok = f["last_over_first"] <= TARGET_LINEAR
        out.append(_goal("cost linear in packets (R16 at 1, 2, 5, 10 Mpps)",
                         f"us/pkt at 10 Mpps <= {TARGET_LINEAR}x the one at 1 Mpps",
                         f"{f['us_per_pkt_first']:.2f} -> {f['us_per_pkt_last']:.2f} us/pkt "
                         f"({f['last_over_first']:.2f}x), fit R^2 {f['r2']:.4f}", ok,
                         "" if ok else f"{f['last_over_first'] / TARGET_LINEAR:.2f}x over",
                         sc["pps"][0]["command"].split(" --pps")[0] + " (--pps 1e6..1e7)"))
    if "cpus" in sc:
        rows = {r["x"]: r for r in sc["cpus"]}
        if 4 in rows and 64 in rows:
            g = rows[64]["wall_s"] / rows[4]["wall_s"]
            gc = rows[64].get("cpu_s", 0) / rows[4].get("cpu_s", 1) if rows[4].get("cpu_s") else 0
            ok = g <= TARGET_CPU_GROWTH
            idle = {r["x"]: r for r in sc.get("idle_cpus", [])}
            beside = (f"; the same load on 4 queues and 4 CPUs beside idle ones: "
                      f"{idle[64]['wall_s'] / idle[4]['wall_s']:.2f}x"
                      if 4 in idle and 64 in idle else "")
            out.append(_goal("<= 1.5x wall time from 4 to 64 CPUs at fixed load (2 Mpps)",
                             "<= 1.5x", f"{g:.2f}x ({rows[4]['wall_s']:.3f} -> "
                             f"{rows[64]['wall_s']:.3f} s; CPU time {gc:.2f}x; events per "
                             f"packet {rows[4]['events_per_pkt']:.2f} -> "
                             f"{rows[64]['events_per_pkt']:.2f}){beside}", ok,
                             "" if ok else f"{g / TARGET_CPU_GROWTH:.2f}x over",
                             "python -m bench.scaling --sweep cpus"))
    mnt = res.get("mount", {})
    lx_skipped = mnt.get("lxcfs", {}).get("skipped", True)
    lx = None if lx_skipped else rate(mnt, "lxcfs", LXCFS_FILE, 4)
    if "idle" in mnt:
        for f in FILES:
            idle = rate(mnt, "idle", f, 4)
            if lx is None:
                out.append(_goal(f"mount, 4 readers, idle, {f} >= 1.5x LXCFS", ">= 1.5x LXCFS",
                                 f"{idle:.0f} reads/s", None, "LXCFS not measured (skipped)",
                                 mnt["idle"]["command"]))
                continue
            x = ratio(mnt, "idle", f, "lxcfs", LXCFS_FILE)
            ok = x >= TARGET_MOUNT_VS_LXCFS
            out.append(_goal(f"mount, 4 readers, engine idle: {f} >= 1.5x LXCFS proc/uptime",
                             ">= 1.5x LXCFS", f"{idle:.0f} vs {lx:.0f} reads/s = "
                             f"{x:.2f}x{_rounds(mnt, 'idle', f)}", ok,
                             "" if ok else f"needs {TARGET_MOUNT_VS_LXCFS / x:.2f}x",
                             mnt["idle"]["command"] + " --case lxcfs"))
    if "running" in mnt:
        need = TARGET_RUNNING_SHARE * TARGET_MOUNT_VS_LXCFS
        for f in FILES:
            run_ = rate(mnt, "running", f, 4)
            idle = rate(mnt, "idle", f, 4)
            extra = f"; {run_ / idle:.3f}x of idle" if idle else ""
            if lx is None:
                out.append(_goal(f"mount, 4 readers, R16 running: {f} >= 0.75x LXCFS",
                                 ">= 0.75x LXCFS", f"{run_:.0f} reads/s{extra}", None,
                                 "LXCFS not measured (skipped)", mnt["running"]["command"]))
                continue
            x = ratio(mnt, "running", f, "lxcfs", LXCFS_FILE)
            ok = x >= need
            out.append(_goal(f"mount, 4 readers, R16 running: {f} >= half the idle goal "
                             "(0.75x LXCFS)", ">= 0.75x LXCFS",
                             f"{run_:.0f} vs {lx:.0f} reads/s = {x:.2f}x"
                             f"{_rounds(mnt, 'running', f)}{extra}", ok,
                             "" if ok else f"needs {need / max(x, 1e-9):.2f}x",
                             mnt["running"]["command"] + " --case lxcfs"))
        sw = mnt["running"].get("switch")
        if sw:
            p99 = sw.get("p99_round_median_ms", sw["p99_ms"])
            ok = p99 <= TARGET_SWITCH_P99_MS
            out.append(_goal("backlog_threaded switch latency p99 under full load <= 2 ms",
                             "p99 <= 2 ms", _switch_measured(sw)
                             + (f"; through stats.json p50 {sw['stats_json']['p50_ms']:.2f}, p99 "
                                f"{sw['stats_json']['p99_ms']:.2f} ms" if "stats_json" in sw
                                else "") + _wakeup_floor(mnt), ok,
                             "" if ok else f"{p99 / TARGET_SWITCH_P99_MS:.1f}x over",
                             mnt["running"]["command"]))
    return out


def _switch_measured(sw: dict) -> str:
    """The goal's figure: the median of the rounds' p99 with their range, then all writes
    together (results of one round only have the latter)."""
    rounds = sw.get("round_p99_ms")
    if not rounds:
        return (f"p50 {sw['p50_ms']:.2f} ms, p99 {sw['p99_ms']:.2f} ms (n={sw['n']}, read back "
                "from backlog_threaded)")
    return (f"p99 {sw['p99_round_median_ms']:.2f} ms, the median of {len(rounds)} rounds' p99 "
            f"({min(rounds):.2f}-{max(rounds):.2f}, {sw['n'] // len(rounds)} writes each, read "
            f"back from backlog_threaded); all {sw['n']} writes: p50 {sw['p50_ms']:.2f}, p99 "
            f"{sw['p99_ms']:.2f} ms")


def _over(fig: dict) -> str:
    """", 1.2% over 2 ms" when the figure has that share (older results do not)."""
    return f", {fig['over_2ms']:.1%} over 2 ms" if "over_2ms" in fig else ""


def _wakeup_floor(mnt: dict) -> str:
    w = mnt.get("wakeup", {})
    if w.get("skipped", True):
        return ""
    return (f"; host floor (a pipe round trip beside a busy loop, no FUSE): p99 "
            f"{w['normal']['p99_ms']:.2f} ms")


def _vs_stock(m: dict, mode: str) -> float:
    """mode's speed over stock's: the median of round-by-round ratios when the modes took
    turns (engine_bench.measure_modes), else the ratio of the two medians (older results)."""
    if "vs_stock" in m[mode]:
        return m[mode]["vs_stock"]["median"]
    return (m[mode]["summary"]["pkts_per_s"]["median"]
            / m["stock"]["summary"]["pkts_per_s"]["median"])


# ------------------------------------------------------------------------------ Markdown
def md_engine(res: dict) -> str:
    eng = res["engine"]
    lines = ["| machine | mode | simulated pkt / wall s | real-time factor | events / wall s "
             "| pkt / CPU s | vs stock | command |", "|---|---|---|---|---|---|---|---|"]
    for name in MACHINES:
        if name not in eng:
            continue
        has_stock = "stock" in eng[name]
        for mode in MODES:
            if mode not in eng[name]:
                continue
            r = eng[name][mode]
            s = r["summary"]
            pk = fmt_rate(s["pkts_per_s"])
            if name == "LO":
                pk += f"<br>UDP_RR: {fmt_rate(s['tps'])} trans / wall s"
            rel = ""
            if has_stock:
                rel = f"{_vs_stock(eng[name], mode):.2f}x"
                if mode != "stock" and "vs_stock" in r:
                    rel += f" ({r['vs_stock']['min']:.2f}-{r['vs_stock']['max']:.2f})"
            lines.append(f"| {name} | {mode} | {pk} | {fmt_range(s['rtf'])} | "
                         f"{fmt_rate(s['events_per_s'])} | "
                         f"{fmt_rate(s['pkts_per_cpu_s'])} | {rel} | `{r['command']}` |")
    desc = "\n".join(f"- **{n}**: {describe(n)}" for n in MACHINES if n in eng)
    turns = any("vs_stock" in r for m in eng.values() for r in m.values())
    note = ("\n\nA machine's three modes take turns, repeat by repeat; \"vs stock\" is the median "
            "(min-max) of the ratios taken in the same round." if turns else "")
    return desc + note + "\n\n" + "\n".join(lines)


def md_baseline(res: dict) -> str:
    b = res["baseline"]
    bs, es = b["baseline"]["summary"], b["engine"]["summary"]
    return "\n".join([
        "| R4, stock work | simulated pkt / wall s | real-time factor | pkt / CPU s "
        "| events / packet |",
        "|---|---|---|---|---|",
        f"| engine (procnet.engine) | {fmt_rate(es['pkts_per_s'])} | "
        f"{fmt_range(es['rtf'])} | {fmt_rate(es['pkts_per_cpu_s'])} | "
        f"{es['events'] / max(es['packets'], 1):.2f} |",
        f"| per-packet baseline (bench/baseline.py) | {fmt_rate(bs['pkts_per_s'])} | "
        f"{fmt_range(bs['rtf'])} | {fmt_rate(bs['pkts_per_cpu_s'])} | "
        f"{b['baseline_events_per_pkt']:.2f} |",
        "",
        f"Engine / baseline = **{b['ratio']:.2f}x** (pairwise {b['ratio_min']:.2f}-"
        f"{b['ratio_max']:.2f}; per CPU second {b.get('ratio_cpu', float('nan')):.2f}x), "
        f"{b['repeats']} interleaved pairs of "
        f"{b['virtual_ns'] / 1e6:g} ms virtual. Command: `{b['command']}`"])


def md_scaling(res: dict, img_prefix: str) -> str:
    sc = res["scaling"]
    parts = []
    titles = {"pps": "offered load (R16, stock)", "cpus": "CPU count (one rx queue per CPU, "
              "1024 flows, fixed 2 Mpps, stock)", "idle_cpus": "CPU count, the work of 4 CPUs "
              "(4 rx queues, RPS to CPUs 0-3, 1024 flows, fixed 2 Mpps, stock; the other CPUs "
              "get no packets)", "flows": "flow count (R16, 10 Mpps, stock)"}
    for sweep in ("pps", "cpus", "idle_cpus", "flows"):
        if sweep not in sc:
            continue
        rows = sc[sweep]
        xl = {"pps": "Mpps", "cpus": "CPUs", "idle_cpus": "CPUs", "flows": "flows"}[sweep]
        t = [f"**Wall time vs {titles[sweep]}**, {rows[0]['virtual_ms']:g} ms virtual per "
             f"point, median (min-max) of {rows[0]['repeats']}. Command: `python -m "
             f"bench.scaling --sweep {sweep} --virtual-ms {rows[0]['virtual_ms']:g} --repeats "
             f"{rows[0]['repeats']}`; data `scaling_{sweep}.csv`.", "",
             f"![scaling {sweep}]({img_prefix}scaling_{sweep}.png)", "",
             f"| {xl} | packets | wall s | CPU s | wall us / packet | events / packet "
             "| wall ns / event | real-time factor |", "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            x = f"{r['x'] / 1e6:g}" if sweep == "pps" else str(r["x"])
            t.append(f"| {x} | {r['packets']:.0f} | {r['wall_s']:.3f} ({r['wall_min']:.3f}-"
                     f"{r['wall_max']:.3f}) | {r.get('cpu_s', float('nan')):.3f} | "
                     f"{r['us_per_pkt']:.2f} | {r['events_per_pkt']:.2f} "
                     f"| {r['ns_per_event']:.0f} | {r['rtf']:.3g} |")
        parts.append("\n".join(t))
    if "pps_fit" in sc:
        f = sc["pps_fit"]
        parts.append(f"Linear fit over the load sweep: wall = {f['intercept_s'] * 1e3:.1f} ms + "
                     f"{f['us_per_pkt_fit']:.2f} us x packets, R^2 = {f['r2']:.4f}.")
    return "\n\n".join(parts)


def _rounds(mnt: dict, case: str, f: str) -> str:
    """' (rounds 1.1-1.6x)': the per-round ratios to LXCFS behind a median, if several."""
    xs = [a / b for a, b in zip(rates(mnt, case, f, 4), rates(mnt, "lxcfs", LXCFS_FILE, 4))]
    return f" (rounds {min(xs):.2f}-{max(xs):.2f}x)" if len(xs) > 1 else ""


def _spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.0f} ({min(xs):.0f}-{max(xs):.0f})" if len(xs) > 1 \
        else f"{xs[0]:.0f}"


def md_mount(res: dict) -> str:
    m = res["mount"]
    lx_sk = m.get("lxcfs", {}).get("skipped", True)
    lx4 = None if lx_sk else rate(m, "lxcfs", LXCFS_FILE, 4)
    lines = ["| file | server | 1 reader | 4 readers | 4 readers vs LXCFS |", "|---|---|---|---|---|"]

    def row(label, case, f):
        r1, r4 = rates(m, case, f, 1), rates(m, case, f, 4)
        if not r1:
            return
        vs = f"{ratio(m, case, f, 'lxcfs', LXCFS_FILE):.3g}x" if lx4 else "-"
        lines.append(f"| `{f}` | {label} | {_spread(r1)} | {_spread(r4)} | {vs} |")

    for f in FILES:
        row("procnet, engine idle (manual clock)", "idle", f)
        row("procnet, R16 running flat out (realtime clock)", "running", f)
    row("host kernel procfs", "host", HOST_FILE)
    row("minimal mfusepy filesystem (bench/minimal_fs.py): the binding's floor", "floor",
        FLOOR_FILE)
    if lx_sk:
        lines.append(f"| `{LXCFS_FILE}` | LXCFS | skipped | skipped | - |")
    else:
        row("LXCFS " + m["lxcfs"]["note"].split(" (")[0].replace("lxcfs ", ""), "lxcfs",
            LXCFS_FILE)
    n = m.get("rounds", 1)
    how = (f"median (min-max) of {n} rounds of {m['seconds']:g} s, the cases taking turns; the "
           "ratio is the median of the rounds' own ratios" if n > 1 else f"{m['seconds']:g} s each")
    out = ["Reads per second (open + one read + close, all readers together, "
           f"{how}):", "", *lines, ""]
    if lx_sk:
        out.append(f"LXCFS: {m.get('lxcfs', {}).get('note', 'not measured')}.")
    if "running" in m:
        r = m["running"]
        out.append(f"While readers ran against the running mount the engine advanced at "
                   f"real-time factor {r['engine_rtf_under_reads']:.3g}; clock/lag_ns went "
                   f"{r['lag_ns'][0] / 1e9:.2f} s -> {r['lag_ns'][1] / 1e9:.2f} s "
                   f"({'behind: flat out' if r['behind'] else 'NOT behind'}).")
        sw = r.get("switch")
        if sw:
            out.append("")
            sj = sw.get("stats_json")
            out.append(f"`backlog_threaded` switch under that load ({sw['n']} writes, time from "
                       f"the write until `backlog_threaded` reads back 1): **p50 "
                       f"{sw['p50_ms']:.2f} ms, p99 {sw['p99_ms']:.2f} ms**, max "
                       f"{sw['max_ms']:.2f} ms{_over(sw)}; the write() alone: p50 "
                       f"{sw['write_p50_ms']:.2f} ms, p99 {sw['write_p99_ms']:.2f} ms; extra "
                       "polls needed: "
                       f"{sw['extra_polls_total']} in total; stats.json disagreed with the "
                       f"read-back {sw.get('disagreed', 0)} times."
                       + (f" Each round's p99: {', '.join(f'{x:.2f}' for x in sw['round_p99_ms'])}"
                          f" ms (median {sw['p99_round_median_ms']:.2f} ms: the goal's figure)."
                          if sw.get("round_p99_ms") else "")
                       + (f" Observed through stats.json's \"mode\" instead ({sj['n']} more "
                          f"writes; each poll renders 10 KB): p50 {sj['p50_ms']:.2f} ms, p99 "
                          f"{sj['p99_ms']:.2f} ms, max {sj['max_ms']:.2f} ms{_over(sj)}."
                          if sj else ""))
    w = m.get("wakeup")
    if w and not w.get("skipped"):
        out.append("")
        out.append(f"The host's own floor for that latency, without FUSE or procnet: a pipe round "
                   f"trip to a process that shares CPU {w['cpu']} with a busy loop ({w['trips']} "
                   f"trips, 1 ms apart): p50 {w['normal']['p50_ms']:.3f} ms, **p99 "
                   f"{w['normal']['p99_ms']:.2f} ms**, max {w['normal']['max_ms']:.2f} ms"
                   f"{_over(w['normal'])}; with the busy loop at SCHED_IDLE: p50 "
                   f"{w['idle']['p50_ms']:.3f} ms, p99 {w['idle']['p99_ms']:.2f} ms, max "
                   f"{w['idle']['max_ms']:.2f} ms{_over(w['idle'])}.")
    elif w:
        out.append("")
        out.append(f"Host wake-up floor: {w['note']}.")
    out.append("")
    out.append("Commands: " + ", ".join(f"`{m[c]['command']}`" for c in
                                         ("idle", "running", "host", "floor", "lxcfs", "wakeup")
                                         if m.get(c, {}).get("command")))
    mc = m.get("idle", m.get("running", {})).get("mount_command")
    if mc:
        out.append(f"(mount: `procnet {mc.split(' ', 1)[1] if mc.startswith('procnet') else mc}`"
                   " + rps_cpus ffff on rx-0..15 + `procnet/traffic/ctl`)")
    return "\n".join(out)


def md_memory(res: dict) -> str:
    r = res["memory"]
    return (f"R64 (64 CPUs, 64 rx queues) with {r['flows']:,} flows, {r['virtual_ns'] / 1e6:g} ms "
            f"virtual: **peak RSS {r['rss_peak_mib']:.0f} MiB** (interpreter + imports "
            f"{r['rss_import_mib']:.0f} MiB; {r['bytes_per_flow']:.0f} bytes per flow); building "
            f"the machine took {r['build_s']:.1f} s. Command: `{r['command']}`")


def md_profile(res: dict) -> str:
    p = res["profile"]
    if "instr_per_packet" not in p:
        lines = [f"{p['target']}, {p['tool']}. Command: `{p['command']}`", "",
                 "| # | self % | function |", "|---|---|---|"]
        lines += [f"| {i} | {r['self_pct']:.1f} | `{r['function']}` |"
                  for i, r in enumerate(p["rows"], 1)]
        return "\n".join(lines)
    lines = [f"{p['target']} ({p['engine']} engine), {p['tool']}: **{p['instr_per_packet']:.0f} "
             f"instructions per simulated packet** over {p['packets']} packets. "
             f"Command: `{p['command']}`", "",
             "| # | instructions / packet | self % | function |", "|---|---|---|---|"]
    for i, r in enumerate(p["rows"], 1):
        lines.append(f"| {i} | {r['instr_per_packet']:.1f} | {r['self_pct']:.1f} | "
                     f"`{r['function']}` |")
    return "\n".join(lines)


def md_goals(res: dict) -> str:
    lines = ["| goal (from the issue) | target | measured | status | gap |",
             "|---|---|---|---|---|"]
    for g in res["goals"]:
        lines.append(f"| {g['goal']} | {g['target']} | {g['measured']} | **{g['status']}** | "
                     f"{g['gap']} |")
    return "\n".join(lines)


def markdown(res: dict, img_prefix: str = "") -> str:
    meta = res["meta"]
    head = [f"Run: `{meta['command']}` on {meta['date']}, {meta['host']}, Python "
            f"{meta['python']}, commit {meta['commit']}{' (engine tree dirty)' if meta['engine_dirty'] else ''}"
            f", engine fingerprint {meta['engine_fingerprint']}"
            f" ({meta.get('engine', 'python')}"
            f"{', ' + meta['engine_build'] if meta.get('engine_build', '-') != '-' else ''});"
            f" took {meta['total_s']:.0f} s; "
            f"host load average (1 min) {meta['loadavg_start'][0]:.1f} at the start, "
            f"{meta['loadavg_end'][0]:.1f} at the end."]
    if meta.get("engine_changed"):
        head.append("**Warning: procnet/engine/ changed during the run; figures mix versions.**")
    sections = [("Goals", md_goals), ("Engine speed", md_engine),
                ("Per-packet baseline", md_baseline), ("Scaling", None),
                ("Mount", md_mount), ("Memory", md_memory), ("Profile", md_profile)]
    out = ["\n".join(head)]
    for title, fn in sections:
        key = {"Goals": "goals", "Engine speed": "engine", "Per-packet baseline": "baseline",
               "Scaling": "scaling", "Mount": "mount", "Memory": "memory",
               "Profile": "profile"}[title]
        if key not in res or (key == "goals" and not res["goals"]):
            continue
        body = md_scaling(res, img_prefix) if key == "scaling" else fn(res)
        out.append(f"### {title}\n\n{body}")
    return "\n\n".join(out) + "\n"
