"""`procnet run`: mount a fresh machine in a temporary directory, run a script, always unmount.

The script runs under bash with PROCNET=<mountpoint> (and PN_OUT / PN_VARIANT when an experiment
drives it). Its exit status is returned. Ctrl-C stops the script, unmounts, and returns 130.
"""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

LIB = Path(__file__).resolve().parent / "lib" / "procnet.sh"


def run_script(script: str | os.PathLike, opts, args: tuple[str, ...] = (),
               env: dict[str, str] | None = None, log_file: str | None = None,
               capture: bool = False) -> tuple[int, str]:
    """Run `script` against a fresh mount of `opts`. Returns (exit status, captured stdout)."""
    from procnet.fs import serve, umount
    from procnet.runtime import make_tree
    mnt = tempfile.mkdtemp(prefix="procnet.")
    os.chmod(mnt, 0o755)
    full_env = {**os.environ, "PROCNET": mnt, "PN_LIB": str(LIB), **(env or {})}
    try:
        serve(functools.partial(make_tree, opts), mnt, foreground=False, log_file=log_file)
        try:
            proc = subprocess.Popen(["bash", str(script), *args], env=full_env,
                                    stdout=subprocess.PIPE if capture else None, text=True)
            try:
                out, _ = proc.communicate()
            except KeyboardInterrupt:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                return 130, ""
            if proc.returncode == -signal.SIGINT:    # Ctrl-C reached the script first
                return 130, out or ""
            return proc.returncode, out or ""
        finally:
            umount(mnt)
    finally:
        shutil.rmtree(mnt, ignore_errors=True)
