#!/usr/bin/env python3
"""Run the reliability suite (tests/reliability) and report its figures.

    .venv/bin/python -m tools.reliability                 # quick profile (what CI runs)
    .venv/bin/python -m tools.reliability --full          # full counts (PROCNET_FULL=1)
    .venv/bin/python -m tools.reliability --concurrency-s 60
    .venv/bin/python -m tools.reliability --repeat 20     # flakiness: the quick suite 20 times
    .venv/bin/python -m tools.reliability --full --update-doc   # refresh docs/reliability.md

Every figure comes from the test that checks it: the tests record what they measured, the
suite writes it to a JSON file (PROCNET_RELIABILITY_RESULTS), and this tool renders it. With
--update-doc the table between the markers of the profile in docs/reliability.md is replaced.
Extra arguments after "--" go to pytest (e.g. -- -k toggle).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "reliability.md"
PYTHON = REPO / ".venv" / "bin" / "python"


def run_suite(full: bool, concurrency_s: float | None, pytest_args: list[str]) -> tuple[int, dict]:
    env = dict(os.environ)
    env["PROCNET_FULL"] = "1" if full else "0"
    if concurrency_s:
        env["PROCNET_CONCURRENCY_S"] = str(concurrency_s)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    env["PROCNET_RELIABILITY_RESULTS"] = str(out)
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability",
           *pytest_args]
    print("+", " ".join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=REPO, env=env)
    try:
        results = json.loads(out.read_text())
    except (OSError, ValueError):
        results = {}
    out.unlink(missing_ok=True)
    return rc, results


def render(results: dict, extra: dict | None = None) -> str:
    figs = results.get("figures", {})
    lines = [f"Profile **{results.get('profile', '?')}**, recorded {results.get('recorded', '?')} "
             f"UTC, pytest exit status {results.get('exitstatus', '?')}, "
             f"{results.get('seconds', '?')} s.", ""]
    for key, value in (extra or {}).items():
        lines.append(f"{key}: {value}")
    if extra:
        lines.append("")
    lines += ["| section | figure | value |", "|---|---|---|"]
    for section in sorted(figs):
        for key, value in sorted(figs[section].items()):
            lines.append(f"| {section} | {key} | {value} |")
    return "\n".join(lines) + "\n"


def update_doc(profile: str, text: str) -> None:
    begin, end = f"<!-- figures:{profile}:begin -->", f"<!-- figures:{profile}:end -->"
    doc = DOC.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(doc):
        raise SystemExit(f"{DOC} has no {begin} ... {end} block")
    DOC.write_text(pattern.sub(lambda _: f"{begin}\n{text}{end}", doc))
    print(f"updated the {profile} figures in {DOC.relative_to(REPO)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="full counts (PROCNET_FULL=1)")
    ap.add_argument("--concurrency-s", type=float, help="seconds of the 64-client test")
    ap.add_argument("--repeat", type=int, default=1, help="run the suite N times (flakiness)")
    ap.add_argument("--update-doc", action="store_true", help="write the figures into "
                    "docs/reliability.md")
    ap.add_argument("--json", help="also save the figures here")
    ap.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = ap.parse_args(argv)
    runs, last = [], {}
    for i in range(args.repeat):
        t0 = time.time()
        rc, results = run_suite(args.full, args.concurrency_s, args.pytest_args)
        runs.append((rc, round(time.time() - t0)))
        last = results or last
        print(f"run {i + 1}/{args.repeat}: exit {rc} in {runs[-1][1]} s", flush=True)
        if rc != 0 and args.repeat > 1:
            break
    extra = {}
    if args.repeat > 1:
        passed = sum(1 for rc, _ in runs if rc == 0)
        extra["Consecutive runs"] = (f"{passed} of {len(runs)} passed "
                                     f"({', '.join(str(s) for _, s in runs)} s)")
    text = render(last, extra)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(last, indent=1, sort_keys=True))
    if args.update_doc and last:
        update_doc(last.get("profile", "quick"), text)
    return max(rc for rc, _ in runs)


if __name__ == "__main__":
    sys.exit(main())
