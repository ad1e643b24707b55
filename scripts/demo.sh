#!/usr/bin/env bash
# The README's main job: set the machine up (idempotent), then run the imbalance experiment on the
# built-in default machine. Extra arguments go to `procnet experiment imbalance`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec .venv/bin/procnet experiment imbalance "$@"
