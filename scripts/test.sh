#!/usr/bin/env bash
# `make test` and CI: the unit tests, the strict-syntax check of the pipeline, the pipeline tests,
# the SLURM tests, the Galaxy tests, then the container tests.
# Every suite runs even when an earlier one failed; the exit status is non-zero if any failed.
# Each suite prints its own closing line (pytest's summary; `nextflow lint: ...`;
# `pipeline: N passed, N failed`; `slurm: N passed, N failed`).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=/dev/null
source scripts/env.sh
status=0

echo "== unit tests"
# tests that need the bundled resources (make setup) fail here instead of skipping
GENOFM_REQUIRE_RESOURCES=1 python -m pytest -q tests/unit || status=1

echo "== Nextflow strict syntax (nextflow lint 25.04.0)"
bash scripts/nextflow_lint.sh || status=1

echo "== pipeline tests"
bash tests/pipeline/run_pipeline_tests.sh || status=1

echo "== SLURM tests (a single-node cluster on this machine)"
bash tests/slurm/run_slurm_tests.sh || status=1

echo "== galaxy tests"
bash tests/galaxy/run_galaxy_tests.sh || status=1

# ---- container tests (owned by the containers/ developer): add their script call below ------
echo "== container tests"
bash tests/containers/run_container_tests.sh || status=1

# ---- end of container tests ---------------------------------------------------------------

exit $status
