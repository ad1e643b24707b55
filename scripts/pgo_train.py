"""The workload the profile-guided build of the engine trains on (scripts/build_engine.sh).

The benchmark's reference machines (bench/machines.py) in each of the three modes, a few
virtual milliseconds each: the receive path, the softirq and kthread loops, RPS and the
UDP_RR pair over lo. Code it does not reach is compiled as without a profile
(-fprofile-partial-training), so a rare path is never made slower than the plain build.
It must run the instrumented build: it exits non-zero otherwise.
"""
from __future__ import annotations

import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.machines import build  # noqa: E402
from procnet.engine import ENGINE, ENGINE_REASON, NSEC_PER_MSEC  # noqa: E402

MODES = ("stock", "backlog_threaded", "thread_backlog_napi")
WORKLOAD = (("R4", 10), ("R16", 10), ("R64", 2), ("LO", 10))    # (machine, virtual ms)


def main() -> int:
    if ENGINE != "compiled":
        print(f"pgo_train: the engine is not compiled ({ENGINE_REASON})", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    for name, ms in WORKLOAD:
        for mode in MODES:
            build(name, mode).run_for(ms * NSEC_PER_MSEC)
    print(f"pgo_train: {len(WORKLOAD) * len(MODES)} runs in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
