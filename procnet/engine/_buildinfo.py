"""What the compiled engine is built from, shared by setup.py and procnet.engine (stdlib only).

`source_hash()` covers each compiled module's .py and .pxd: a compiled module is used only
while its sources still hash to what the build recorded in HASH_FILE.
"""
from __future__ import annotations

import hashlib
import os
import re

# Modules Cython compiles (the hot path and what it calls); config.py stays interpreted, and
# defs.py's constants become C enums in defs.pxd, which the build writes (defs_pxd()).
COMPILED_MODULES = ("events", "listhead", "skbuff", "stats", "sched", "softnet", "traffic",
                    "netdevice", "cpu", "dev", "machine")
HASH_FILE = "_build_hash"
BUILD_KIND_FILE = "_build_kind"     # how the C was compiled: see build_kind_for()


def build_kind_for(cflags: str) -> str:
    """What setup.py records of a build from the CFLAGS it ran with (scripts/build_engine.sh
    sets them): "profile-guided", "instrumented" (the training build) or "plain"."""
    if "-fprofile-use" in cflags:
        return "profile-guided"
    if "-fprofile-generate" in cflags:
        return "instrumented"
    return "plain"


def build_kind(engine_dir: str) -> str:
    """The kind the last build recorded, or "unknown" (a build from before it was recorded)."""
    try:
        with open(os.path.join(engine_dir, BUILD_KIND_FILE)) as f:
            return f.read().strip() or "unknown"
    except OSError:
        return "unknown"


def source_hash(engine_dir: str) -> str:
    h = hashlib.sha256()
    for mod in COMPILED_MODULES + ("defs",):
        for ext in (".py", ".pxd"):
            path = os.path.join(engine_dir, mod + ext)
            h.update(f"{mod}{ext}\0".encode())
            if os.path.exists(path):
                with open(path, "rb") as f:
                    h.update(f.read())
            h.update(b"\0")
    return h.hexdigest()


def defs_pxd(defs_source: str) -> str:
    """defs.pxd for defs.py: every `NAME = value` line as a C enum constant, so the compiled
    modules cimport the same numbers plain Python imports."""
    lines = ["# Written by setup.py from defs.py (_buildinfo.defs_pxd); do not edit.", "",
             "cdef enum:"]
    for name, value in re.findall(r"^([A-Z][A-Z0-9_]*) = ([^#\n]+?)\s*(?:#.*)?$", defs_source,
                                  re.M):
        lines.append(f"    {name} = {value}")
    return "\n".join(lines) + "\n"
