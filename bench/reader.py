"""One reader process: open/read/close PATH in a loop, then print how many reads it did.

    python -m bench.reader PATH START_AT SECONDS

START_AT is a time.time() value: every reader of a measurement waits for the same instant, so
N processes overlap for the whole window. Each iteration is os.open + one os.read(64 KiB) +
os.close (every file measured is far below 64 KiB, so one read returns all of it). Prints a
JSON object: reads, errors, seconds.
"""
from __future__ import annotations

import json
import os
import sys
import time


def loop(path: str, start_at: float, seconds: float) -> dict:
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    end = start_at + seconds
    reads = errors = 0
    o_rdonly, op, rd, cl, now = os.O_RDONLY, os.open, os.read, os.close, time.time
    while now() < end:
        try:
            fd = op(path, o_rdonly)
            try:
                rd(fd, 65536)
            finally:
                cl(fd)
            reads += 1
        except OSError:
            errors += 1
    return {"reads": reads, "errors": errors, "seconds": now() - start_at}


if __name__ == "__main__":
    print(json.dumps(loop(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))))
