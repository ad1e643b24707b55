"""`procnet sweep`: spec validation, the point function, the local pool and dask executors,
resume, error rows, crossovers and the CLI. Tiny grids and millisecond durations throughout."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from procnet.cli import main as cli
from procnet.experiments.report import load_snapshots, variant_metrics
from procnet.sweep import SpecError, SweepError, load_spec, parse_spec, run_sweep, summarize
from procnet.sweep.points import METRIC_COLUMNS, imbalance, run_point
from procnet.sweep.run import columns_for
from procnet.sweep.summary import _sign_changes, build_grid, crossovers

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "sweeps" / "imbalance-crossover.toml"


def tiny(**over) -> dict:
    """imbalance, flows x hog_util = 2 x 2, stock and backlog_threaded, one seed: 8 runs."""
    doc = {"sweep": {"name": "tiny", "scenario": "imbalance", "modes": ["stock",
                                                                        "backlog_threaded"],
                     "seeds": [1], "metric": ["p99_us", "hog_cpu_share"],
                     "fixed": {"duration": "4ms", "pps": 300_000},
                     "params": {"flows": [1, 8], "hog_util": [0, 100]}}}
    doc["sweep"].update(over)
    return doc


def csv_rows(path: Path) -> list[dict]:
    with (path / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The tiny sweep on the local process pool, once for the module."""
    out = tmp_path_factory.mktemp("local")
    spec = parse_spec(tiny())
    return spec, out, run_sweep(spec, out, workers=2)


# ---------------------------------------------------------------- the local path
def test_local_pool_writes_one_row_per_point_mode_and_seed(local_run):
    spec, out, res = local_run
    assert res.total == 8 and len(res.ran) == 8 and res.skipped == 0 and res.complete
    assert [r["status"] for r in res.rows] == ["ok"] * 8
    assert len({r["key"] for r in res.rows}) == 8
    assert [(r["flows"], r["hog_util"], r["mode"]) for r in res.rows][:4] == [
        (1, 0, "stock"), (1, 0, "backlog_threaded"), (1, 100, "stock"),
        (1, 100, "backlog_threaded")]
    for r in res.rows:
        assert set(METRIC_COLUMNS) <= set(r)
        assert r["offered_pps"] > 0 and r["delivered_pps"] > 0 and r["conserved"] is True
        assert r["dropped_total"] == sum(r[f"dropped_{x}"] for x in
                                         ("ring_full", "backlog", "flow_limit", "device_gone"))
        assert 0 <= r["cpu_util_mean"] <= r["cpu_util_max"] <= 1
        assert r["p50_us"] <= r["p99_us"] <= r["p999_us"]
        assert r["hog_cpu_share"] == 0.0 if r["hog_util"] == 0 else r["hog_cpu_share"] > 0
    # the files hold the same rows, typed
    assert [r["key"] for r in csv_rows(out)] == [r["key"] for r in res.rows]
    table = pq.read_table(out / "results.parquet").to_pylist()
    assert table == res.rows
    assert list(pq.read_schema(out / "results.parquet").names) == columns_for(spec)


def test_a_point_is_a_pure_function_of_config_mode_and_seed(local_run):
    spec, _, res = local_run
    task = spec.points()[3].task()
    assert run_point(task) == run_point(task) == res.rows[3]
    other = dict(task, seed=2)
    assert run_point(other)["p99_us"] is not None


def test_the_imbalance_point_mirrors_imbalance_sh(tmp_path):
    """The scenario function against the shell script on a real mount: the same numbers."""
    if not os.path.exists("/dev/fuse"):
        if os.environ.get("CI") == "true":
            pytest.fail("/dev/fuse missing in CI")
        pytest.skip("no /dev/fuse")
    script = ROOT / "procnet" / "experiments" / "scripts" / "imbalance.sh"
    params = {"cpus": 4, "rps_mask": 0xF, "flows": 2, "pps": 1_000_000, "pattern": "poisson",
              "hog_util": 100, "hog_cpu": 0, "duration": 5_000_000}
    for mode in ("stock", "backlog_threaded"):
        env = {**os.environ, "PN_OUT": str(tmp_path), "PN_VARIANT": mode}
        r = subprocess.run([sys.executable, "-m", "procnet.cli", "run", str(script), "--seed",
                            "3", "--cpus", "4", "5ms"], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        v = variant_metrics(load_snapshots(tmp_path / f"{mode}.snapshots"), mode)
        p = imbalance(params, mode, 3)
        assert (p["delivered_pps"], p["p99_us"], p["context_switches"], p["hog_cpu_share"]) == \
            (v["delivered_pps"], v["latency_us"]["p99"], v["context_switches"],
             v["hog_cpu_share"])


# ---------------------------------------------------------------- dask
def test_dask_local_cluster_gives_the_same_rows(local_run, tmp_path):
    from distributed import LocalCluster
    spec, _, res = local_run
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        dres = run_sweep(spec, tmp_path, scheduler=cluster.scheduler_address)
    assert dres.rows == res.rows
    assert (tmp_path / "results.csv").read_text() == (local_run[1] / "results.csv").read_text()


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    with pytest.raises(SweepError, match="^cannot connect to the dask scheduler at tcp://"):
        run_sweep(parse_spec(tiny()), tmp_path, scheduler="tcp://127.0.0.1:1",
                  connect_timeout_s=0.5)
    assert csv_rows(tmp_path) == []


# ---------------------------------------------------------------- resume
def test_resume_runs_only_the_missing_points(local_run, tmp_path):
    spec, _, full = local_run
    first = run_sweep(spec, tmp_path, workers=2, limit=3)          # an interrupted run
    assert len(first.ran) == 3 and not first.complete
    assert len(csv_rows(tmp_path)) == 3
    again = run_sweep(spec, tmp_path, workers=2)
    assert again.skipped == 3 and len(again.ran) == 5
    assert not set(again.ran) & set(first.ran)
    assert again.rows == full.rows
    # lose half the rows (and the parquet file): exactly those run again
    rows = csv_rows(tmp_path)
    with (tmp_path / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows[::2])
    (tmp_path / "results.parquet").unlink()
    third = run_sweep(spec, tmp_path, workers=1)
    assert sorted(third.ran) == sorted(r["key"] for r in rows[1::2])
    assert third.rows == full.rows
    assert pq.read_table(tmp_path / "results.parquet").to_pylist() == full.rows
    assert run_sweep(spec, tmp_path).ran == []


def test_an_interrupted_run_keeps_what_finished(local_run, tmp_path):
    spec, _, full = local_run
    seen = []

    def stop_after_two(row, done, todo):
        seen.append(row["key"])
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path, workers=2, on_row=stop_after_two)
    assert [r["key"] for r in csv_rows(tmp_path)] == sorted(
        seen, key=[r["key"] for r in full.rows].index)
    # a torn last line, as a killed process leaves it, is ignored
    with (tmp_path / "results.csv").open("a") as f:
        f.write(full.rows[7]["key"] + ",ok,,imbal")
    res = run_sweep(spec, tmp_path, workers=2)
    assert res.skipped == 2 and len(res.ran) == 6 and res.rows == full.rows


def test_a_changed_fixed_value_is_a_new_point(local_run, tmp_path):
    spec, _, _ = local_run
    run_sweep(spec, tmp_path, workers=2)
    doc = tiny()
    doc["sweep"]["fixed"]["pps"] = 200_000
    res = run_sweep(parse_spec(doc), tmp_path, workers=2)
    assert res.skipped == 0 and len(res.ran) == 8
    assert len(csv_rows(tmp_path)) == 16                 # the other sweep's rows are kept


# ---------------------------------------------------------------- failing points
def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    doc = tiny(params={"cpus": [4, 8]}, modes=["stock"])
    doc["sweep"]["fixed"]["hog_cpu"] = 5                 # no CPU 5 on a 4-CPU machine
    spec = parse_spec(doc)
    res = run_sweep(spec, tmp_path, workers=2)
    assert [(r["cpus"], r["status"]) for r in res.rows] == [(4, "error"), (8, "ok")]
    err = res.rows[0]
    assert err["error"].startswith("ValueError: ") and "0..3" in err["error"]
    assert all(err[m] is None for m in METRIC_COLUMNS)
    assert csv_rows(tmp_path)[0]["status"] == "error"
    assert "0..3" in csv_rows(tmp_path)[0]["error"]
    assert run_sweep(spec, tmp_path).ran == []                        # finished: not re-run
    assert run_sweep(spec, tmp_path, retry_errors=True).ran == [err["key"]]
    summ = summarize(spec, res.rows, tmp_path)
    assert summ.doc["errors"] == 1


# ---------------------------------------------------------------- templates
def test_a_template_sweep_substitutes_parameters(tmp_path):
    doc = {"sweep": {"name": "tpl", "modes": ["stock", "thread_backlog_napi"], "seeds": [7],
                     "metric": "delivered_pps",
                     "params": {"backlog": [50, 1000], "cpu": ["1", [0, 1]]},
                     "template": {
                         "cpus": 2, "duration": "3ms",
                         "sysctl": {"netdev_max_backlog": "${backlog}"},
                         "devices": [{"name": "eth0", "irq": [0], "rps_cpus": "2"}],
                         "traffic": [{"flows": 2, "pps": 400_000}],
                         "tasks": [{"name": "hog", "cpus": "${cpu}", "util": 50}]}}}
    spec = parse_spec(doc)
    assert spec.params == {"backlog": [50, 1000], "cpu": [[1], [0, 1]]}
    res = run_sweep(spec, tmp_path, workers=2)
    assert len(res.rows) == 8 and all(r["status"] == "ok" for r in res.rows)
    assert {r["cpu"] for r in res.rows} == {"[1]", "[0,1]"}
    small = [r for r in res.rows if r["backlog"] == 50]
    assert all(r["hog_cpu_share"] > 0 for r in res.rows)
    assert sum(r["dropped_backlog"] for r in small) > 0
    assert pq.read_table(tmp_path / "results.parquet").to_pylist() == res.rows


# ---------------------------------------------------------------- bad specs
def write_spec(tmp_path: Path, doc: dict, name: str = "s.toml") -> Path:
    lines = []

    def emit(prefix, d):
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        lines.append(f"[{prefix}]")
        lines.extend(f"{json.dumps(k)} = {toml_value(v)}" for k, v in scalars.items())
        for k, v in d.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{json.dumps(k)}", v)

    emit("sweep", doc["sweep"])
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(v)


BAD = [
    ({"params": {"flows": [1, 2, "x"]}},
     "sweep.params.flows[2]: expected an integer >= 1 (got 'x')"),
    ({"params": {"flows": []}}, "sweep.params.flows: expected a non-empty list"),
    ({"params": {"flow": [1]}}, "sweep.params.flow: unknown parameter of scenario 'imbalance'"),
    ({"params": {"hog_util": [0, 101]}},
     "sweep.params.hog_util[1]: expected an integer in 0..100 (got 101)"),
    ({"params": {"flows": {"from": 1, "to": 8}}}, "sweep.params.flows: a range needs exactly one"),
    ({"params": {"flows": {"from": 1, "to": 8, "step": 0}}},
     "sweep.params.flows.step: expected a number > 0 (got 0)"),
    ({"params": {"flows": [2, 2]}}, "sweep.params.flows[1]: duplicate value 2"),
    ({"params": {"mode": [1]}}, "sweep.params.mode: 'mode' is a column of the results"),
    ({"modes": ["stock", "threaded"]}, "sweep.modes[1]: expected one of 'stock'"),
    ({"modes": []}, "sweep.modes: expected a non-empty list of modes (got a list)"),
    ({"seeds": [1, "2"]}, "sweep.seeds[1]: expected an integer >= 0 (got '2')"),
    ({"metric": "p98_us"}, "sweep.metric: expected one of 'offered_pps'"),
    ({"bogus": 1}, "sweep.bogus: unknown key"),
    ({"fixed": {"duration": "10 parsecs"}}, "sweep.fixed.duration: expected a duration > 0"),
    ({"fixed": {"rps_mask": "xyz"}}, "sweep.fixed.rps_mask: expected a CPU mask"),
    ({"fixed": {"flows": 2}, "params": {"flows": [1, 2]}},
     "sweep.params.flows: also given in sweep.fixed"),
    ({"plot": {"x": "pps"}}, "sweep.plot.x: expected a swept parameter"),
    ({"tolerance": -1}, "sweep.tolerance: expected a number in [0, 1)"),
    ({"template": {"cpus": 2}}, "sweep: give exactly one of scenario"),
]
BAD_TEMPLATES = [
    ({"cpus": 2, "cores": 4}, {}, "sweep.template.cores: unknown key"),
    ({"traffic": [{"flows": "${n}"}]}, {"n": [1, 0]},
     "sweep.params.n[1]: expected an integer >= 1 (got 0) (for sweep.template.traffic[0].flows)"),
    ({"traffic": [{"flows": "${m}"}]}, {"n": [1]},
     "sweep.template.traffic[0].flows: unknown parameter 'm'"),
    ({"traffic": [{"flows": 1}]}, {"n": [1]}, "sweep.params.n: not used in sweep.template"),
    ({"tasks": [{"cpus": [0]}]}, {}, "sweep.template.tasks[0].name: missing (required)"),
    ({"sysctl": {"netdev_max_backlogg": 5}}, {}, "sweep.template.sysctl.netdev_max_backlogg"),
    ({"model": {"protocol_ns": -1}}, {},
     "sweep.template.model.protocol_ns: expected an integer >= 0 (got -1)"),
    ({"devices": [{"name": "eth0", "irq": "0-1,1"}]}, {},
     "sweep.template.devices[0].irq: CPU listed twice"),
    ({"traffic": "eth0"}, {}, "sweep.template.traffic: expected a list of tables (got 'eth0')"),
]


@pytest.mark.parametrize("over,message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_specs_name_the_offending_key(over, message):
    doc = tiny(**over)
    if "template" in over:
        doc["sweep"].pop("fixed")
    with pytest.raises(SpecError) as e:
        parse_spec(doc)
    assert str(e.value).startswith(message), str(e.value)


@pytest.mark.parametrize("template,params,message", BAD_TEMPLATES,
                         ids=[m.split(":")[0] for *_, m in BAD_TEMPLATES])
def test_bad_templates_name_the_offending_key(template, params, message):
    doc = {"sweep": {"template": template, "params": params}}
    with pytest.raises(SpecError) as e:
        parse_spec(doc)
    assert str(e.value).startswith(message), str(e.value)


def test_the_cli_reports_a_bad_spec_with_exit_2_and_no_traceback(tmp_path):
    path = write_spec(tmp_path, tiny(params={"flows": [1, 2, "x"]}))
    r = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert r.output.strip() == (f"procnet sweep: {path}: sweep.params.flows[2]: expected an "
                                "integer >= 1 (got 'x')")
    assert not (tmp_path / "o").exists()
    (tmp_path / "broken.toml").write_text("[sweep\n")
    r = CliRunner().invoke(cli, ["sweep", str(tmp_path / "broken.toml")])
    assert r.exit_code == 2 and "not valid TOML" in r.output and "Traceback" not in r.output


def test_yaml_specs_read_like_toml(tmp_path):
    pytest.importorskip("yaml")
    (tmp_path / "s.yaml").write_text(
        "sweep:\n  scenario: imbalance\n  params:\n    flows: [1, 2]\n    hog_util: [0, 'x']\n")
    with pytest.raises(SpecError, match=r"^sweep\.params\.hog_util\[1\]: expected an integer"):
        load_spec(tmp_path / "s.yaml")


def test_ranges_expand_inclusively():
    spec = parse_spec(tiny(params={"flows": {"from": 1, "to": 16, "factor": 2},
                                   "hog_util": {"from": 0, "to": 100, "step": 25}}))
    assert spec.params == {"flows": [1, 2, 4, 8, 16], "hog_util": [0, 25, 50, 75, 100]}
    assert len(spec.points()) == 50


# ---------------------------------------------------------------- crossovers and the summary
def test_sign_changes_are_interpolated_linearly():
    pos = [1.0, 2.0, 4.0, 8.0]
    assert _sign_changes([-2.0, 2.0, 3.0, 4.0], pos) == [(0, 1, 1.5)]
    assert _sign_changes([-1.0, -1.0, 3.0, -1.0], pos) == [(1, 2, 2.5), (2, 3, 7.0)]
    assert _sign_changes([-1.0, 0.0, 1.0, 1.0], pos) == [(0, 2, 2.0)]      # a tie at 2
    assert _sign_changes([-1.0, None, 1.0, 1.0], pos) == []                  # a hole
    assert _sign_changes([0.0, 0.0, 1.0, -1.0], pos) == [(2, 3, 6.0)]


def synthetic_rows(spec, f):
    """Rows whose metric is f(flows, hog_util, mode)."""
    rows = []
    for p in spec.points():
        rows.append({"key": p.key, "status": "ok", "mode": p.mode, "seed": p.seed,
                     **p.params, "p99_us": f(p.params["flows"], p.params["hog_util"], p.mode),
                     "hog_cpu_share": 0.5})
    return rows


def test_crossovers_along_both_axes_and_plots(tmp_path):
    spec = parse_spec(tiny(params={"flows": [1, 2, 4, 8], "hog_util": [0, 50, 100]},
                           tolerance=0))
    # threaded - stock = flows - 3 - hog/50: + for many flows, - for few flows and a hog
    rows = synthetic_rows(spec, lambda fl, h, m: 100.0 + (fl - 3 - h / 50 if m != "stock"
                                                          else 0))
    grid = build_grid(spec, rows, "p99_us")
    cross = crossovers(spec, grid, "p99_us")
    along_flows = {c["where"]["hog_util"]: c["at"] for c in cross if c["along"] == "flows"}
    assert along_flows == {0: 3.0, 50: 4.0, 100: 5.0}
    along_hog = {c["where"]["flows"]: c["at"] for c in cross if c["along"] == "hog_util"}
    assert along_hog == {4: 50.0}                        # a tie at the grid point
    summ = summarize(spec, rows, tmp_path)
    assert [p.name for p in summ.plots] == ["p99_us.png", "hog_cpu_share.png"]
    assert all(p.stat().st_size > 10_000 for p in summ.plots)
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert doc["crossovers"] == cross and doc["ok"] == len(rows)
    assert (tmp_path / "crossovers.csv").read_text().count("\n") == len(cross) + 1
    assert "backlog_threaded-stock" in summ.text


def test_one_swept_parameter_gives_a_line_plot(tmp_path):
    spec = parse_spec(tiny(params={"flows": [1, 2, 4, 8]}, seeds=[1, 2], tolerance=0))
    rows = synthetic_rows(spec, lambda fl, h, m: float(fl if m == "stock" else 4))
    summ = summarize(spec, rows, tmp_path)
    assert [(c["between"], c["at"]) for c in summ.crossovers] == [([2, 8], 4.0)]
    assert summ.plots[0].stat().st_size > 10_000


def test_the_cli_prints_the_table_and_the_crossovers(tmp_path):
    path = write_spec(tmp_path, tiny())
    out = tmp_path / "o"
    r = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(out), "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert "sweep tiny: 8 runs (4 points x 2 modes x 1 seeds): 8 run now" in r.output
    assert "crossovers (mode - stock changes sign" in r.output
    assert (out / "p99_us.png").exists() and (out / "spec.toml").read_text() == path.read_text()
    r = CliRunner().invoke(cli, ["sweep", str(path), "--out", str(out)])
    assert r.exit_code == 0 and "0 run now" in r.output and "8 found in" in r.output


def test_the_example_spec_is_valid():
    spec = load_spec(EXAMPLE)
    assert spec.params == {"flows": [1, 2, 4, 8, 16], "hog_util": [0, 25, 50, 75, 100]}
    assert spec.modes == ["stock", "backlog_threaded"] and "p99_us" in spec.metrics
