#!/usr/bin/env bash
# `nf-core pipelines lint` on this repository, offline.
# nf-core/tools has heavy dependencies that conflict with genofm's, so it lives in its own
# virtual environment ($GENOFM_CACHE/nf-core-venv, created on first use from PyPI) and is not in
# requirements.txt. .nf-core.yml switches off the checks that need the network or do not apply
# (each with its reason). Extra arguments go to the linter (e.g. --show-passed, --markdown F).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GENOFM_CACHE:-$HOME/.cache/genofm}
VENV=$CACHE/nf-core-venv
NF_CORE_VERSION=4.2.1

if ! "$VENV/bin/nf-core" --version 2>/dev/null | grep -q "$NF_CORE_VERSION"; then
    echo "[genofm lint] installing nf-core $NF_CORE_VERSION into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "nf-core==$NF_CORE_VERSION"
fi
# shellcheck source=/dev/null
source "$ROOT/scripts/env.sh"   # nextflow on PATH: the linter runs `nextflow config`
export NXF_OFFLINE=true HIDE_PROGRESS=1
exec "$VENV/bin/nf-core" pipelines lint --dir "$ROOT" --plain-text "$@"
