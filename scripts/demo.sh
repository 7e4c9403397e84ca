#!/usr/bin/env bash
# `make demo`: the pipeline's test profile on the bundled data (Oct4 vs MafK ChIP-seq peaks,
# k-mer and SpliceAI backbones), CPU only, results in ./results. Extra arguments go to
# `nextflow run` (e.g. -resume, or -profile test,podman --container_registry localhost).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=/dev/null
source scripts/env.sh
profile=test
args=()
while [ $# -gt 0 ]; do
    case $1 in
        -profile) profile=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
nextflow run . -profile "$profile" --outdir results "${args[@]}"
echo
echo "Comparison of all models : $ROOT/results/comparison/comparison.html (table: comparison.tsv)"
echo "Per-model reports        : $ROOT/results/oct4_mafk/interpret/*/report.html"
echo "Run report and timeline  : $ROOT/results/pipeline_info/"
