"""`procnet run` and the built-in experiments, on real mounts."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from procnet.experiments.registry import EXPERIMENTS
from procnet.experiments.report import SCHEMA_KEYS

PROCNET = [sys.executable, "-m", "procnet.cli"]
pytestmark = pytest.mark.usefixtures("fuse_available")


@pytest.fixture
def fuse_available():
    if not os.path.exists("/dev/fuse"):
        if os.environ.get("CI") == "true":
            pytest.fail("/dev/fuse missing in CI")
        pytest.skip("no /dev/fuse")


def procnet_mounts() -> list[str]:
    with open("/proc/mounts") as f:
        return [line.split()[1] for line in f if " fuse.procnet " in line]


def run(args, **kw):
    return subprocess.run(PROCNET + args, capture_output=True, text=True, timeout=120, **kw)


def test_run_exports_procnet_returns_the_scripts_status_and_unmounts(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text('. "$PN_LIB"\n'
                      'pn_expect proc/sys/net/core/netdev_max_backlog 1000\n'
                      'pn_write proc/sys/net/core/netdev_max_backlog 300\n'
                      'pn_expect proc/sys/net/core/netdev_max_backlog 300\n'
                      'pn_advance 5ms\n'
                      'pn_check "clock moved" 5000000 "$(pn_read procnet/clock/now)"\n'
                      'echo "mounted at $PROCNET"\n'
                      'pn_summary || exit 1\n'
                      'exit 3\n')
    r = run(["run", str(script)])
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout.count("[ ok ]") == 4 and "[fail]" not in r.stdout
    mnt = r.stdout.split("mounted at ")[1].split()[0]
    assert mnt not in procnet_mounts() and not os.path.exists(mnt)


def test_a_failing_check_fails_the_script_and_still_unmounts(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text('. "$PN_LIB"\necho "$PROCNET"\npn_expect backlog_threaded 1\npn_summary\n')
    r = run(["run", str(script)])
    assert r.returncode == 1
    assert "[fail] backlog_threaded = 1: expected 1 found 0" in r.stdout
    assert r.stdout.splitlines()[0] not in procnet_mounts()


def test_machine_options_reach_the_mount(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text('cat "$PROCNET/sys/devices/system/cpu/possible" "$PROCNET/proc/cmdline"\n')
    r = run(["run", "--cpus", "8", "--cmdline", "thread_backlog_napi", str(script)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "0-7"
    assert "thread_backlog_napi" in r.stdout.splitlines()[1]


def test_ctrl_c_stops_the_script_and_unmounts(tmp_path):
    script = tmp_path / "s.sh"
    script.write_text('echo "$PROCNET"; sleep 30\n')
    # As from a terminal: SIGINT at its default even if this test runs in a background job
    # (which starts with SIGINT ignored, and the ignored disposition is inherited).
    p = subprocess.Popen(PROCNET + ["run", str(script)], stdout=subprocess.PIPE, text=True,
                         start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    mnt = p.stdout.readline().strip()
    assert mnt in procnet_mounts()
    os.killpg(p.pid, signal.SIGINT)
    assert p.wait(timeout=60) == 130      # generous: the machine may be loaded
    time.sleep(0.2)
    assert mnt not in procnet_mounts()


def test_experiment_list_names_every_builtin():
    r = run(["experiment", "list"])
    assert r.returncode == 0
    assert [line.split()[0] for line in r.stdout.splitlines()] == list(EXPERIMENTS)


def test_unknown_experiment_is_a_usage_error():
    r = run(["experiment", "nope"])
    assert r.returncode == 2 and "no experiment 'nope'" in r.stderr


@pytest.mark.parametrize("name", ["rps-ipi-vs-thread", "loopback-rr"])
def test_experiment_output_contract(tmp_path, name):
    r = run(["experiment", name, "--json", "--out", str(tmp_path)])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc == json.loads((tmp_path / "results.json").read_text())
    assert doc["experiment"] == name and doc["claim"] and doc["source"]
    assert isinstance(doc["model_agrees"], bool)
    exp = EXPERIMENTS[name]
    assert [v["variant"] for v in doc["variants"]] == [v.label for v in exp.variants]
    for v in doc["variants"]:
        for key in SCHEMA_KEYS:
            assert key in v, key
        assert set(v["latency_us"]) >= {"p50", "p99", "p999"}
        assert len(v["cpu_util"]) == exp.cpus and all(0 <= u <= 1 for u in v["cpu_util"])
        assert v["conserved"] is True
    assert (tmp_path / "results.csv").read_text().count("\n") == len(exp.variants) + 1
    assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_experiments_are_deterministic(tmp_path):
    a = run(["experiment", "rps-ipi-vs-thread", "--json", "--out", str(tmp_path / "a")])
    b = run(["experiment", "rps-ipi-vs-thread", "--json", "--out", str(tmp_path / "b")])
    assert a.returncode == b.returncode == 0
    assert json.loads(a.stdout) == json.loads(b.stdout)
