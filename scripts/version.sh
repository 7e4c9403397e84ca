#!/usr/bin/env bash
# Prints genofm's version. It lives in one place, `__version__` in src/genofm/__init__.py: the
# package metadata (pyproject.toml, dynamic) and the container image tags and labels
# (containers/build.sh) read it from there; the pipeline's copies (manifest.version and the
# container_tag default in nextflow.config and nextflow_schema.json) are written by
# `python -m genofm.pipeline_sync`, and tests/unit/test_version.py fails when they drift.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sed -n 's/^__version__ = "\([^"]*\)"$/\1/p' "$ROOT/src/genofm/__init__.py"
