#!/usr/bin/env bash
# Idempotent setup for a fresh Debian bookworm machine (run as root):
# system packages (FUSE 3, procps, util-linux, node_exporter) and the repo's .venv.
# Re-running it does nothing unless a package is missing or setup.cfg changed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$REPO/.venv"
STAMP="$VENV/.procnet-install-stamp"
APT_PACKAGES=(fuse3 procps util-linux prometheus-node-exporter)

die() { echo "bootstrap: ERROR: $*" >&2; exit 1; }
trap 'echo "bootstrap: ERROR: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

# Run a noisy command with its output kept in a log; show the log only if it fails.
quietly() {
    local log rc=0
    log="$(mktemp)"
    "$@" >"$log" 2>&1 || rc=$?
    ((rc == 0)) || cat "$log" >&2
    rm -f "$log"
    return "$rc"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
    || die "$PYTHON >= 3.11 is required (found: $("$PYTHON" --version 2>&1 || echo none))"

# python3-venv only when this interpreter cannot make a venv with pip (Debian strips ensurepip).
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || APT_PACKAGES+=(python3-venv)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do installed "$pkg" || missing+=("$pkg"); done

if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "need root to install: ${missing[*]} (run: sudo $0)"
    command -v apt-get >/dev/null || die "apt-get not found; install by hand: ${missing[*]}"
    echo "bootstrap: installing ${missing[*]}"
    # Keep dpkg from starting services (node_exporter) on this machine; undo only our own file.
    created_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    cleanup_policy() { [[ -z "$created_policy" ]] || rm -f /usr/sbin/policy-rc.d; }
    trap cleanup_policy EXIT
    export DEBIAN_FRONTEND=noninteractive
    quietly apt-get update -qq || die "apt-get update failed"
    quietly apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
    cleanup_policy
    trap - EXIT
    for pkg in "${missing[@]}"; do installed "$pkg" || die "$pkg did not install"; done
fi

# The Python environment.
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "bootstrap: creating $VENV"
    quietly "$PYTHON" -m venv --clear "$VENV" || die "could not create $VENV with $PYTHON"
    rm -f "$STAMP"
fi

want="$(cat "$REPO/setup.cfg" "$REPO/pyproject.toml" "$REPO/setup.py" | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "bootstrap: pip install -e .[test,plots]"
    # PROCNET_ENGINE=python: pip installs the package without compiling it; the engine is
    # compiled below, profile-guided (scripts/build_engine.sh).
    PROCNET_ENGINE=python quietly "$VENV/bin/python" -m pip install -q \
        --disable-pip-version-check -e "$REPO[test,plots]" \
        || die "pip install -e .[test,plots] failed"
    echo "$want" > "$STAMP"
fi

# The compiled engine and the FUSE hot path (setup.py): rebuilt in place whenever their sources
# changed since the last build, which procnet.engine and procnet.fs.glue check themselves (they
# would fall back to the plain Python files and to mfusepy's callbacks).
engine_compiled() {
    (cd "$REPO" && "$VENV/bin/python" -c 'import sys, procnet.engine as e, procnet.fs.glue as g
sys.exit(e.ENGINE != "compiled" or not g.hot_ops_in_use()[0])' 2>/dev/null)
}
if [[ "${PROCNET_ENGINE:-}" != python ]] && ! engine_compiled; then
    echo "bootstrap: compiling the engine (Cython, profile-guided: about three minutes)"
    quietly bash "$REPO/scripts/build_engine.sh" \
        || die "compiling the engine failed (PROCNET_ENGINE=python runs it uncompiled)"
    engine_compiled || die "the build ran but is not in use: $(cd "$REPO" && "$VENV/bin/python" -c \
        'import procnet.engine as e, procnet.fs.glue as g; print(e.ENGINE_REASON, g.hot_ops_in_use())')"
    echo "bootstrap: engine compiled ($(cat "$REPO/procnet/engine/_build_kind"))"
fi
