"""The engine: a deterministic discrete-event model of the Linux receive backlog.

No FUSE, no click, no threads, no wall clock. Start with `Machine(MachineConfig())`.

The modules are plain Python. When the build compiled them (setup.py, Cython's pure Python
mode with the .pxd files beside them) the compiled modules are imported instead, as long as
their sources have not changed since; otherwise, or with PROCNET_ENGINE=python, the .py files
are. `ENGINE` says which ("compiled" or "python") and `ENGINE_REASON` why.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

from ._buildinfo import COMPILED_MODULES, HASH_FILE, source_hash

_HERE = os.path.dirname(os.path.abspath(__file__))


def _choose_engine() -> tuple[str, str]:
    if os.environ.get("PROCNET_ENGINE") == "python":
        return "python", "PROCNET_ENGINE=python"
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    missing = [m for m in COMPILED_MODULES
               if not os.path.exists(os.path.join(_HERE, m + suffix))]
    if missing:
        return "python", f"not compiled for this Python ({', '.join(missing)}{suffix} missing)"
    try:
        with open(os.path.join(_HERE, HASH_FILE)) as f:
            built = f.read().strip()
    except OSError:
        return "python", f"{HASH_FILE} missing"
    if built != source_hash(_HERE):
        return "python", "sources changed since the build (run: bash scripts/bootstrap.sh)"
    return "compiled", "built from these sources"


class _PlainPythonEngine:
    """Meta-path finder that loads the engine's .py files even where a compiled module of
    the same name lies beside them (a compiled module would otherwise win)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        pkg, _, mod = name.rpartition(".")
        if pkg == __name__ and mod in COMPILED_MODULES:
            return importlib.util.spec_from_file_location(name, os.path.join(_HERE, mod + ".py"))
        return None


ENGINE, ENGINE_REASON = _choose_engine()
if ENGINE == "python":
    sys.meta_path.insert(0, _PlainPythonEngine)

from .config import (NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC, CostModel,  # noqa: E402
                     MachineConfig, NetDeviceConfig, SchedConfig, TaskConfig, TrafficConfig,
                     UdpRRConfig)
from .machine import Machine  # noqa: E402

__all__ = ["Machine", "MachineConfig", "CostModel", "SchedConfig", "NetDeviceConfig",
           "TrafficConfig", "TaskConfig", "UdpRRConfig", "NSEC_PER_SEC", "NSEC_PER_MSEC",
           "NSEC_PER_USEC", "ENGINE", "ENGINE_REASON"]
