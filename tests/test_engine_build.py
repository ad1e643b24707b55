"""The compiled engine is the plain-Python engine, only faster (setup.py, docs/architecture.md §6).

  * In CI the compiled modules must be in use: a build that silently fell back to plain Python
    would pass every other test and miss every speed figure.
  * Every scenario of engine_scenarios.py gives the same observation compiled and plain
    (the plain side runs in a subprocess with PROCNET_ENGINE=python), and the same as when it
    was recorded in tests/data/engine_golden.json.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import engine_scenarios as sc
import procnet.engine as engine


def test_compiled_engine_in_use_in_ci():
    if os.environ.get("CI") != "true" or os.environ.get("PROCNET_ENGINE") == "python":
        pytest.skip("only required in CI (CI=true)")
    assert engine.ENGINE == "compiled", engine.ENGINE_REASON
    import procnet.engine.machine as machine
    assert machine.__file__.endswith(".so"), machine.__file__


def test_plain_python_is_chosen_when_asked():
    code = ("import procnet.engine as e, procnet.engine.dev as d; "
            "print(e.ENGINE, d.__file__.endswith('.py'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PROCNET_ENGINE="python"), timeout=60, check=True)
    assert out.stdout.split() == ["python", "True"]


@pytest.fixture(scope="module")
def plain_python_observations() -> dict:
    if engine.ENGINE != "compiled":
        pytest.skip(f"the engine is not compiled here ({engine.ENGINE_REASON})")
    out = subprocess.run([sys.executable, str(sc.HERE / "engine_scenarios.py")],
                         capture_output=True, text=True, timeout=600, check=True,
                         env=dict(os.environ, PROCNET_ENGINE="python"))
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", sorted(sc.SCENARIOS))
def test_compiled_equals_plain_python(name, plain_python_observations):
    assert sc.run(name) == plain_python_observations[name]


@pytest.mark.parametrize("name", sorted(sc.SCENARIOS))
def test_engine_computes_what_was_recorded(name):
    golden = json.loads(sc.GOLDEN.read_text())
    got = sc.run(name)
    want = golden[name]
    for key in want:     # the first differing part first: easier to read than one big diff
        assert got[key] == want[key], f"{name}: {key} differs from {sc.GOLDEN.name}"
    assert got == want
