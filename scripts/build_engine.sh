#!/usr/bin/env bash
# Compile the engine and the FUSE hot path in place (setup.py), profile-guided where the
# compiler is GCC: an instrumented build runs scripts/pgo_train.py (the benchmark's reference
# machines), then the final build uses the profile it wrote. docs/architecture.md §6 says why.
#
# PROCNET_PGO=0 builds without a profile. If any profile step fails, the build falls back to
# the plain one (with a warning); only a failing plain build fails this script.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$REPO/.venv/bin/python}"
cd "$REPO"

build() {   # build [CFLAGS [LDFLAGS]]: every extension, from scratch
    CFLAGS="${1:-}" LDFLAGS="${2:-}" "$PY" setup.py -q build_ext --inplace --force --parallel 2
}

plain() {
    find build -name '*.gcda' -delete 2>/dev/null || true
    build
}

compiler="$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("CC") or "cc")')"
if [[ "${PROCNET_PGO:-1}" == 0 ]]; then
    plain
    exit
fi
if ! $compiler -v 2>&1 | grep -q '^gcc version'; then
    echo "build_engine: $compiler is not GCC; building without a profile" >&2
    plain
    exit
fi

find build -name '*.gcda' -delete 2>/dev/null || true      # counts of an older build would mix in
if build "-fprofile-generate -fprofile-update=single" "-fprofile-generate" \
        && "$PY" scripts/pgo_train.py \
        && build "-fprofile-use -fprofile-partial-training -Wno-missing-profile"; then
    find build -name '*.gcda' -delete
    exit
fi
echo "build_engine: WARNING: the profile-guided build failed; building without a profile" >&2
plain
