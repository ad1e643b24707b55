#!/usr/bin/env bash
# Bootstrap the machine, then run pytest from the repo root; exits with pytest's code.
# "No tests collected" (pytest exit 5) counts as a failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
rc=0
.venv/bin/python -m pytest -q "$@" || rc=$?
if ((rc == 5)); then
    echo "test.sh: ERROR: pytest collected no tests" >&2
fi
exit "$rc"
