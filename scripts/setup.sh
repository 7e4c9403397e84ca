#!/usr/bin/env bash
# Idempotent set-up of everything genofm needs on a fresh machine:
#   - a Python virtual environment with pinned dependencies (outside the clone, reused across clones)
#   - the bundled default data (Oct4/MafK ChIP-seq peaks from the janggu wheel) and the official
#     SpliceAI weights (from the spliceai wheel), extracted from PyPI wheels into the cache
#   - a Nextflow launcher when none is on PATH (scripts/install_nextflow.sh)
# Everything lands under $GENOFM_CACHE (default ~/.cache/genofm). Re-running is cheap.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GENOFM_CACHE:-$HOME/.cache/genofm}
VENV=$CACHE/venv
mkdir -p "$CACHE"

log() { printf '[genofm setup] %s\n' "$*" >&2; }

# --- Python environment ---------------------------------------------------------------------
req_hash=$(cat "$ROOT/requirements.txt" | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment in $VENV"
    python3 -m venv "$VENV"
fi
if [ "$(cat "$VENV/.genofm-requirements" 2>/dev/null)" != "$req_hash" ]; then
    log "installing pinned dependencies (first run downloads torch, several GB)"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -r "$ROOT/requirements.txt"
    echo "$req_hash" > "$VENV/.genofm-requirements"
fi
# the package itself: editable, pointed at this clone (cheap; repeated when the clone moves)
if [ "$(cat "$VENV/.genofm-source" 2>/dev/null)" != "$ROOT" ]; then
    log "installing genofm from $ROOT"
    "$VENV/bin/pip" install --quiet --no-deps --no-build-isolation -e "$ROOT"
    echo "$ROOT" > "$VENV/.genofm-source"
fi

# --- bundled data and weights from PyPI wheels ----------------------------------------------
"$VENV/bin/python" "$ROOT/scripts/fetch_resources.py" --cache "$CACHE"

# --- Galaxy and planemo for the Galaxy suite (pinned venvs in the cache) -------------------------
bash "$ROOT/scripts/setup_galaxy.sh"

# --- Nextflow -------------------------------------------------------------------------------
bash "$ROOT/scripts/install_nextflow.sh"
log "ready: source scripts/env.sh to put genofm and nextflow on PATH"
