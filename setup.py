"""Build the compiled engine: Cython compiles procnet/engine's modules as they are.

The engine is written once, in plain Python (`procnet/engine/*.py`). Each hot module has a
`.pxd` beside it that gives its classes C fields and its hot functions C types (Cython's "pure
Python mode"), so the same file runs interpreted or compiled and computes the same numbers
either way. docs/architecture.md §6 says why and how the two are held equal.

The build writes `procnet/engine/_build_hash`, the hash of the sources it compiled;
`procnet/engine/__init__.py` uses the compiled modules only while the sources still hash to it,
and falls back to the plain Python files otherwise (or with PROCNET_ENGINE=python).

Without a C compiler or Cython, or with PROCNET_ENGINE=python at build time, nothing is
compiled and the engine runs as plain Python (about 20x slower, docs/performance.md).

It records the kind of build in `procnet/engine/_build_kind` from CFLAGS: scripts/build_engine.sh
(what bootstrap runs) builds profile-guided with GCC, an instrumented build first, then this
one again with the profile (docs/architecture.md §6).

It also compiles procnet/fs/_hotops.pyx, the mount's C entries for open, read and release
(docs/fuse.md "The hot path"); without it the mount answers them through mfusepy.
"""
import hashlib
import os
import sys

from setuptools import setup

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "procnet", "engine"))
from _buildinfo import (BUILD_KIND_FILE, COMPILED_MODULES, HASH_FILE, build_kind_for,  # noqa: E402
                        defs_pxd, source_hash)

ENGINE_DIR = os.path.join("procnet", "engine")
FS_DIR = os.path.join("procnet", "fs")


def engine_extensions():
    if os.environ.get("PROCNET_ENGINE") == "python":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("setup.py: Cython is not installed; the engine stays plain Python", file=sys.stderr)
        return []
    with open(os.path.join(ENGINE_DIR, "defs.py")) as f:
        pxd = defs_pxd(f.read())
    with open(os.path.join(ENGINE_DIR, "defs.pxd"), "w") as f:
        f.write(pxd)
    # Types come from the .pxd files only; the .py annotations stay documentation. Index
    # checks are off and indexes are never negative in the engine: the plain-Python run of
    # the same code (the tests run both) keeps Python's checks.
    directives = {"annotation_typing": False, "embedsignature": True, "infer_types": True,
                  "boundscheck": False, "initializedcheck": False, "wraparound": False}
    # cythonize() regenerates C only for changed sources: after a change of directives, all.
    stamp = os.path.join("build", "cython-directives")
    force = not os.path.exists(stamp) or open(stamp).read() != repr(sorted(directives.items()))
    exts = cythonize([os.path.join(ENGINE_DIR, f"{m}.py") for m in COMPILED_MODULES],
                     language_level=3, compiler_directives=directives, force=force, quiet=True)
    # No fused multiply-add: the engine's floating point (arrival times) must round as the
    # plain-Python run's does, also where CFLAGS pick a CPU that has FMA (-march=native).
    for ext in exts:
        ext.extra_compile_args = ext.extra_compile_args + ["-ffp-contract=off"]
    os.makedirs("build", exist_ok=True)
    with open(stamp, "w") as f:
        f.write(repr(sorted(directives.items())))
    with open(os.path.join(ENGINE_DIR, HASH_FILE), "w") as f:
        f.write(source_hash(ENGINE_DIR) + "\n")
    with open(os.path.join(ENGINE_DIR, BUILD_KIND_FILE), "w") as f:
        f.write(build_kind_for(os.environ.get("CFLAGS", "")) + "\n")
    return exts


def fs_extensions():
    """procnet/fs/_hotops.pyx: the C entries for open, read and release (procnet/fs/glue.py
    uses them only while the .pyx still hashes to the _hotops_hash written here)."""
    if os.environ.get("PROCNET_ENGINE") == "python":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    source = os.path.join(FS_DIR, "_hotops.pyx")
    exts = cythonize([source], language_level=3, quiet=True)
    with open(source, "rb") as f, open(os.path.join(FS_DIR, "_hotops_hash"), "w") as out:
        out.write(hashlib.sha256(f.read()).hexdigest() + "\n")
    return exts


setup(ext_modules=engine_extensions() + fs_extensions())
