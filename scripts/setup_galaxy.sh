#!/usr/bin/env bash
# Idempotent set-up of what the Galaxy suite (tests/galaxy/run_galaxy_tests.sh) needs, outside the
# clone under $GENOFM_CACHE (default ~/.cache/genofm), each from a committed lock file:
#   planemo-venv  planemo 0.75.47 (galaxy-tool-util 26.1.2): lints the wrappers and runs the
#                 workflow test against the server
#   galaxy-venv   galaxy-web-apps 26.1.2: a real Galaxy server, API only, started by the suite
# Both venvs are rebuilt only when their lock file changes (about 1 and 3 minutes, 0.4 and 1.1 GB).
# Called by scripts/setup.sh; needs PyPI only.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GENOFM_CACHE:-$HOME/.cache/genofm}
mkdir -p "$CACHE"

log() { printf '[genofm setup] %s\n' "$*" >&2; }

# venv_from_lock NAME LOCK: $CACHE/NAME holds exactly the packages of LOCK (pip freeze output).
venv_from_lock() {
    local venv=$CACHE/$1 lock=$2 hash
    hash=$(sha256sum "$lock" | cut -c1-16)
    if [ "$(cat "$venv/.genofm-lock" 2>/dev/null)" = "$hash" ]; then
        return 0
    fi
    log "installing $1 from ${lock#"$ROOT"/} (one time)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check pip==26.3
    # every dependency is in the lock, pinned: --no-deps keeps pip from resolving anything else
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$lock"
    "$venv/bin/pip" check >/dev/null
    echo "$hash" > "$venv/.genofm-lock"
}

venv_from_lock planemo-venv "$ROOT/galaxy/requirements/planemo.lock"
venv_from_lock galaxy-venv "$ROOT/galaxy/requirements/galaxy.lock"
