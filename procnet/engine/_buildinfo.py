"""What the compiled engine is built from, shared by setup.py and procnet.engine (stdlib only).

`source_hash()` covers each compiled module's .py and .pxd: a compiled module is used only
while its sources still hash to what the build recorded in HASH_FILE.
"""
from __future__ import annotations

import hashlib
import os

# Modules Cython compiles (the hot path and what it calls); config.py stays interpreted.
COMPILED_MODULES = ("events", "stats", "softnet", "sched", "traffic", "netdevice", "dev",
                    "machine")
HASH_FILE = "_build_hash"


def source_hash(engine_dir: str) -> str:
    h = hashlib.sha256()
    for mod in COMPILED_MODULES:
        for ext in (".py", ".pxd"):
            path = os.path.join(engine_dir, mod + ext)
            h.update(f"{mod}{ext}\0".encode())
            if os.path.exists(path):
                with open(path, "rb") as f:
                    h.update(f.read())
            h.update(b"\0")
    return h.hexdigest()
