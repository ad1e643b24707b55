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
