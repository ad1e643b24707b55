"""The reliability suite's figures: printed at the end of the session and, when
$PROCNET_RELIABILITY_RESULTS is set (python -m tools.reliability sets it), written there as JSON.
"""
from __future__ import annotations

import json
import os
import time

from rel_common import FIGURES, PROFILE

_T0 = time.time()


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("PROCNET_RELIABILITY_RESULTS")
    if not out or not FIGURES:
        return
    doc = {"profile": PROFILE, "exitstatus": int(exitstatus),
           "seconds": round(time.time() - _T0, 1),
           "recorded": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
           "figures": FIGURES}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True, default=str)


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    tr = terminalreporter
    tr.section(f"reliability figures ({PROFILE} profile)")
    for section in sorted(FIGURES):
        for key, value in sorted(FIGURES[section].items()):
            tr.write_line(f"{section:14s} {key}: {value}")
