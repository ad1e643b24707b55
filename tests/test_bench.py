"""Smoke test of the benchmark harness (bench/): every engine-side part runs end to end on tiny
virtual durations, so the harness cannot rot. No timing is asserted: performance is measured by
`python -m bench`, never tested. The mount part needs FUSE and seconds per case; it is covered
by running `python -m bench --quick` (docs/performance.md), not here, except for its minimal
FUSE server (the floor), which must work on a real mount."""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:              # bench/ is not installed: import it from the checkout
    sys.path.insert(0, str(ROOT))

from bench import baseline, engine_bench, mount_bench, report, run, scaling  # noqa: E402
from bench.machines import MACHINES, MODES, build  # noqa: E402
from procnet.engine import NSEC_PER_USEC  # noqa: E402

TINY = 200 * NSEC_PER_USEC
TINY_CFG = {
    "engine_ms": {"R4": 0.2, "R16": 0.1, "R64": 0.05, "LO": 0.2}, "engine_repeats": 1,
    "baseline_ms": 0.2, "baseline_repeats": 1,
    "scaling_ms": {"pps": 0.1, "cpus": 0.1, "idle_cpus": 0.1, "flows": 0.1}, "scaling_repeats": 1,
}


def test_reference_machines_build_in_every_mode():
    for name in MACHINES:
        for mode in MODES:
            m = build(name, mode)
            assert m.mode_name() == mode
            assert len(m.cpus) == {"R4": 4, "R16": 16, "R64": 64, "LO": 4}[name]
    m = build("R16", "stock")
    assert len(m.netdevs["eth0"].rxqs) == 16
    assert len(m.flows) == 1024
    assert build("R64", "stock", flows=2000).flows.__len__() == 2000


def test_engine_section_tiny(tmp_path):
    cfg = {**run.FULL, **TINY_CFG}
    res = run.run_engine(cfg)
    for name in MACHINES:
        for mode in MODES:
            r = res[name][mode]
            s = r["summary"]
            assert r["repeats"] == 1 and len(r["runs"]) == 1
            assert s["pkts_per_s"]["min"] <= s["pkts_per_s"]["median"] <= s["pkts_per_s"]["max"]
            assert s["packets"] > 0, (name, mode)
            assert s["rtf"]["median"] > 0
            assert r["command"].startswith("python -m bench.engine_bench --machine " + name)
    assert res["LO"]["stock"]["summary"]["transactions"] > 0
    run.write_engine_csv(res, tmp_path / "engine.csv")
    assert len((tmp_path / "engine.csv").read_text().splitlines()) == 1 + 4 * 3


def test_engine_bench_cli_prints_its_command(capsys):
    assert engine_bench.main(["--machine", "R4", "--virtual-ms", "0.2", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "R4 stock" in out and "command: python -m bench.engine_bench" in out


def test_engine_bench_command_reproduces_its_overrides(capsys):
    """The printed command is the run: its options parse back to the same overrides."""
    argv = ["--machine", "R16", "--cpus", "4", "--pps", "200000", "--rps", "f",
            "--rx-usecs", "50", "--virtual-ms", "0.2", "--repeats", "1"]
    assert engine_bench.main(argv) == 0
    out = capsys.readouterr().out
    cmd = out.split("command: ", 1)[1].split()
    assert cmd[:3] == ["python", "-m", "bench.engine_bench"]
    assert engine_bench.main(cmd[3:]) == 0
    again = capsys.readouterr().out
    assert again.split("command: ", 1)[1].split() == cmd
    assert "per packet" in again
    m = build("R16", "stock", cpus=4, rx_usecs=50)
    assert m.netdevs["eth0"].coalesce_ns == 50_000
    assert build("R16", "stock", cpus=4).netdevs["eth0"].coalesce_ns == 8_000


def test_baseline_does_the_r4_work():
    b = baseline.BaselineR4()
    b.run_for(2_000_000)
    assert b.offered > 1000                      # 1 Mpps for 2 ms
    assert b.delivered + b.dropped + b.queued() <= b.offered
    assert b.offered - (b.delivered + b.dropped + b.queued()) <= 2   # in the NIC's hands
    assert b.eq.events_run >= 3 * b.delivered    # one heap event per packet step
    assert b.processed[0] == 0 and sum(b.processed) == b.delivered   # RPS to CPUs 1-3 only
    res = baseline.compare(TINY, 1)
    assert res["ratio"] > 0 and res["baseline_events_per_pkt"] == pytest.approx(3, abs=0.2)


def test_scaling_sweeps_write_csv_and_png(tmp_path):
    cfg = {**run.FULL, **TINY_CFG}
    small = {"pps": [1_000_000, 2_000_000], "cpus": [4, 8], "idle_cpus": [4, 8],
             "flows": [16, 64]}
    orig = {k: v for k, v in scaling.SWEEPS.items()}
    try:
        for k, xs in small.items():
            scaling.SWEEPS[k] = (orig[k][0], xs)
        res = run.run_scaling(cfg, tmp_path)
    finally:
        scaling.SWEEPS.update(orig)
    for sweep in small:
        assert (tmp_path / f"scaling_{sweep}.png").stat().st_size > 1000
        lines = (tmp_path / f"scaling_{sweep}.csv").read_text().splitlines()
        assert len(lines) == 3 and lines[0].startswith("sweep,x,")
    assert not math.isnan(res["pps_fit"]["us_per_pkt_fit"])
    # CPUs that get no packets add no events: the same traffic, the same work
    a, b = res["idle_cpus"]
    assert a["packets"] == b["packets"] > 0 and a["events_per_pkt"] == b["events_per_pkt"]


def test_report_goals_and_markdown(tmp_path, monkeypatch):
    cfg = {**run.FULL, **TINY_CFG}
    res = {"meta": {"command": "python -m bench --test", "date": "today", "host": "h",
                    "python": "3", "commit": "c", "engine_dirty": False,
                    "engine_fingerprint": "f", "total_s": 1.0, "loadavg_start": (0, 0, 0),
                    "loadavg_end": (0, 0, 0)}}
    res["engine"] = run.run_engine(cfg, machines=("R4", "R16"))
    res["baseline"] = run.run_baseline(cfg)
    res["mount"] = {"seconds": 1, "lxcfs": {"skipped": True, "note": "lxcfs is not installed",
                                            "reads": []},
                    "idle": {"command": "x", "reads": [
                        {"file": f, "readers": n, "rate": 100.0 * n}
                        for f in mount_bench.FILES for n in (1, 4)]}}
    res["goals"] = report.goals(res)
    status = {g["goal"].split(" ")[0]: g["status"] for g in res["goals"]}
    assert status["R16"] in ("met", "MISSED")
    assert any(g["status"] == "n/a" and "LXCFS" in g["gap"] for g in res["goals"])
    md = report.markdown(res, img_prefix="img/")
    assert "### Goals" in md and "### Engine speed" in md and "skipped" in md
    doc = tmp_path / "performance.md"
    doc.write_text(f"# P\n\nprose\n\n{run.BEGIN}\nold\n{run.END}\n\ntail\n")
    monkeypatch.setattr(run, "DOC", doc)
    monkeypatch.setattr(run, "DOC_IMG", tmp_path / "img")
    run.update_docs(md, tmp_path)
    text = doc.read_text()
    assert "prose" in text and "tail" in text and "old" not in text and "### Goals" in text


def test_reader_loop_counts_reads(tmp_path):
    from bench import reader
    f = tmp_path / "f"
    f.write_text("x" * 100)
    import time
    r = reader.loop(str(f), time.time(), 0.05)
    assert r["reads"] > 0 and r["errors"] == 0
    assert mount_bench._pct([1, 2, 3, 4], 50) == 2 and mount_bench._pct(list(range(200)), 99) == 197


def test_minimal_fuse_floor_serves_through_a_real_mount(fuse_env):
    """The mount section's floor (bench/minimal_fs.py) is a real FUSE server: 16 rows, a new
    snapshot per open, and it is gone after the case."""
    with mount_bench.MinimalFs() as fs:
        a = mount_bench._read(fs.mnt / mount_bench.FLOOR_FILE).decode().splitlines()
        b = mount_bench._read(fs.mnt / mount_bench.FLOOR_FILE).decode().splitlines()
        assert len(a) == 16 and all(len(row.split()) == 15 for row in a) and a != b
        mnt = fs.mnt
    assert not mount_bench.is_mounted(mnt) and not mnt.exists()
    res = mount_bench.floor_case(0.2, progress=lambda s: None)
    assert [r["readers"] for r in res["reads"]] == [1, 4]
    assert all(r["reads"] > 0 and r["errors"] == 0 for r in res["reads"])


def test_memory_child_reports_rss():
    r = subprocess.run([sys.executable, "-m", "bench.memory", "--child", "--flows", "5000",
                        "--virtual-ms", "0.05"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["flows"] == 5000 and d["rss_peak_mib"] >= d["rss_import_mib"] > 0


def test_mount_rounds_keep_every_rate_and_ratios_pair_by_round():
    res = mount_bench.run(0.05, 0, cases=("host",), progress=lambda s: None, rounds=2)
    assert res["rounds"] == 2 and "--rounds 2" in res["host"]["command"]
    for r in res["host"]["reads"]:
        assert len(r["rates"]) == 2 and r["rate"] == statistics.median(r["rates"]) > 0
    fake = {"idle": {"reads": [{"file": "f", "readers": 4, "rate": 20, "rates": [10, 30, 20]}]},
            "lxcfs": {"reads": [{"file": "u", "readers": 4, "rate": 10, "rates": [10, 10, 40]}]}}
    # rounds: 1.0, 3.0, 0.5 -> median 1.0 (the ratio of the medians would say 2.0)
    assert mount_bench.ratio(fake, "idle", "f", "lxcfs", "u") == 1.0


def test_rates_print_in_the_unit_of_their_median():
    assert engine_bench.fmt_rate({"median": 2.93e6, "min": 2.73e6, "max": 3.25e6}) \
        == "2.93 (2.73-3.25) M"
    assert engine_bench.fmt_rate({"median": 654e3, "min": 518e3, "max": 1.2e6}) \
        == "654 (518-1.2e+03) k"
    assert engine_bench.fmt_rate({"median": 12.0, "min": 11.0, "max": 13.0}) == "12 (11-13)"


def test_wakeup_floor_measures_real_round_trips_and_restores_affinity():
    before = os.sched_getaffinity(0)
    res = mount_bench.wakeup_case(progress=lambda s: None)
    assert os.sched_getaffinity(0) == before
    if len(before) < 2:
        assert res["skipped"] and "2 CPUs" in res["note"]
        return
    for policy in ("normal", "idle"):
        f = res[policy]
        assert 0 < f["p50_ms"] <= f["p99_ms"] <= f["max_ms"] and 0 <= f["over_2ms"] <= 1
    md = report.md_mount({"mount": {"seconds": 1, "wakeup": res}})
    assert f"shares CPU {res['cpu']} with a busy loop" in md and "SCHED_IDLE" in md


def _running_mount(switch: dict) -> dict:
    """The mount section of a results.json whose running case timed `switch`."""
    return {"running": {"command": "c", "engine_rtf_under_reads": 0.1, "lag_ns": [1, 2],
                        "behind": True, "reads": [{"file": f, "readers": n, "rate": 10.0}
                                                  for f in mount_bench.FILES for n in (1, 4)],
                        "switch": switch},
            "wakeup": {"skipped": False, "trips": 4, "cpu": 1,
                       "normal": {"p50_ms": 0.1, "p99_ms": 2.9, "max_ms": 3.0},
                       "idle": {"p50_ms": 0.1, "p99_ms": 2.8, "max_ms": 3.0}},
            "lxcfs": {"skipped": True, "note": "lxcfs is not installed", "reads": []}}


def _switch_goal(mnt: dict) -> dict:
    return [g for g in report.goals({"mount": mnt}) if "switch" in g["goal"]][0]


def test_switch_latency_reports_both_observers():
    fig = {"n": 3, "p50_ms": 0.5, "p99_ms": 3.0, "max_ms": 4.0, "over_2ms": 0.012,
           "write_p50_ms": 0.3,
           "write_p99_ms": 1.0, "extra_polls_max": 0, "extra_polls_total": 0}
    mnt = _running_mount({**fig, "disagreed": 0, "stats_json": {**fig, "p99_ms": 5.0}})
    goal = _switch_goal(mnt)
    assert goal["status"] == "MISSED" and goal["gap"] == "1.5x over"
    assert "through stats.json p50 0.50, p99 5.00 ms" in goal["measured"]
    assert "host floor" in goal["measured"] and "p99 2.90 ms" in goal["measured"]
    md = report.md_mount({"mount": {"seconds": 1, **mnt}})
    assert "reads back 1" in md and "disagreed with the read-back 0 times" in md
    assert "max 4.00 ms, 1.2% over 2 ms;" in md


def test_switch_goal_is_the_median_of_rounds_and_pools_every_write():
    def one_round(lats):
        runs = [(0.1, x, 0) for x in lats]
        fig = mount_bench._latency_figures(runs)
        return {**fig, "disagreed": 1, "stats_json": mount_bench._latency_figures(runs)}
    # 100 writes a round: p99 is the 99th value. One round with a burst of stalls.
    quiet = [0.5] * 98 + [1.0, 1.2]
    burst = [0.5] * 90 + [6.0] * 10
    sw = mount_bench.pool_switch([one_round(quiet), one_round(burst), one_round(quiet)])
    assert sw["n"] == 300 and sw["disagreed"] == 3
    assert sw["round_p99_ms"] == [1.0, 6.0, 1.0] and sw["p99_round_median_ms"] == 1.0
    assert sw["p99_ms"] == 6.0 and sw["max_ms"] == 6.0     # all 300 writes together
    assert sw["stats_json"]["p99_round_median_ms"] == 1.0
    mnt = _running_mount(sw)
    goal = _switch_goal(mnt)
    assert goal["status"] == "met"
    assert "p99 1.00 ms, the median of 3 rounds' p99 (1.00-6.00, 100 writes each" in goal["measured"]
    assert "all 300 writes: p50 0.50, p99 6.00 ms" in goal["measured"]
    two_bursts = mount_bench.pool_switch([one_round(burst), one_round(burst), one_round(quiet)])
    goal = _switch_goal(_running_mount(two_bursts))
    assert goal["status"] == "MISSED" and goal["gap"] == "3.0x over"
    md = report.md_mount({"mount": {"seconds": 1, **mnt}})
    assert "Each round's p99: 1.00, 6.00, 1.00 ms (median 1.00 ms: the goal's figure)" in md


def test_modes_take_turns_and_ratios_pair_by_round(monkeypatch):
    calls = []
    speeds = {"stock": [10.0, 20.0, 40.0], "backlog_threaded": [5.0, 20.0, 30.0]}

    def fake_run(name, mode, virtual_ns):
        calls.append(mode)
        run = {k: 1.0 for k in engine_bench.FIGURES}
        run.update(packets=1, delivered=1, events=1, transactions=0,
                   pkts_per_s=speeds[mode][calls.count(mode) - 1])
        return run

    monkeypatch.setattr(engine_bench, "one_run", fake_run)
    res = engine_bench.measure_modes("R4", ("stock", "backlog_threaded"), 1000, 3)
    assert calls == ["stock", "backlog_threaded"] * 3
    # rounds: 0.5, 1.0, 0.75 -> 0.75 (the medians' ratio would say 20/20 = 1.0)
    assert res["backlog_threaded"]["vs_stock"] == {"median": 0.75, "min": 0.5, "max": 1.0}
    assert res["stock"]["vs_stock"]["median"] == 1.0
    assert report._vs_stock(res, "backlog_threaded") == 0.75
    assert "--repeats 3" in res["backlog_threaded"]["command"]


def test_profile_takes_a_machine_and_mode(capsys):
    """bench.profile's child builds the machine and mode it is given and counts its packets;
    the reproducing command names them unless they are the default R16 stock; LO is refused."""
    from bench import profile
    r = subprocess.run([sys.executable, "-c", profile._CHILD, "0.05", "R64", "thread_backlog_napi"],
                       cwd=ROOT, env=profile._env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    engine, packets = r.stdout.split()[-2:]
    assert engine in ("compiled", "python") and int(packets) > 0
    assert profile.command(20, 25) == "python -m bench.profile --virtual-ms 20 --top 25"
    assert profile.command(5, 10, "R64", "thread_backlog_napi") == (
        "python -m bench.profile --machine R64 --mode thread_backlog_napi --virtual-ms 5 --top 10")
    with pytest.raises(SystemExit):
        profile.main(["--machine", "LO"])
    assert "LO has no packets" in capsys.readouterr().err
