"""A procnet daemon whose every handler can be made to fail (section 6 of docs/reliability.md).

    python tests/reliability/fault_daemon.py MOUNTPOINT SWITCH_FILE LOG_FILE READY_FILE

Serves the real file table through procnet.fs.serve (foreground) with a factory, like
`procnet mount`, except that every show, store and read_call of every Entry is wrapped: while
SWITCH_FILE holds a fault name, each call fails that way instead of running.

  raise       RuntimeError("injected fault")             -> the glue answers EIO, logs it
  oserror     OSError("injected fault") (no errno)        -> EIO, logged
  badtype     show returns bytes, read_call returns str,  -> EIO, logged
              store returns 0 (a tree bug: a writer would retry forever)
  (empty)     no fault

No hook in procnet itself is needed: KernelFS takes the table as an argument.
"""
from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path


def main() -> int:
    mountpoint, switch, log_file, ready = sys.argv[1:5]
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from procnet.engine.config import MachineConfig
    from procnet.fs import serve
    from procnet.kernelfs.table import TABLE
    from procnet.kernelfs.tree import KernelFS
    from procnet.runtime import Runtime

    def fault() -> str:
        try:
            with open(switch) as f:
                return f.read().strip()
        except OSError:
            return ""

    def wrap(fn, kind: str):
        if fn is None:
            return None

        def wrapped(*args):
            mode = fault()
            if mode == "raise":
                raise RuntimeError(f"injected fault in {kind}")
            if mode == "oserror":
                raise OSError(f"injected fault in {kind} (no errno)")
            if mode == "badtype":
                return {"show": b"bytes, not str", "store": 0, "read_call": "str, not bytes"}[kind]
            return fn(*args)
        return wrapped

    table = [replace(e, show=wrap(e.show, "show"), store=wrap(e.store, "store"),
                     read_call=wrap(e.read_call, "read_call")) for e in TABLE]

    def factory():
        rt = Runtime(MachineConfig(cpus=2), clock="manual")
        rt.start()
        return KernelFS(rt, table=table)

    return serve(factory, mountpoint, foreground=True, log_file=log_file,
                 on_ready=lambda: Path(ready).write_text(str(os.getpid())))


if __name__ == "__main__":
    sys.exit(main())
