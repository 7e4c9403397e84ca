# Tallying, the runs' folder and output checks shared by the pipeline, container and SLURM suites,
# so all of them count and check the same way. Sourced; call use_test_dir before the checks.

# use_test_dir DIR NAME: runs happen in DIR when it is given (and it is kept), else in a fresh
# temporary folder genofm-NAME-tests.XXXXXX that the suite removes when everything passed.
# Sets TMP and KEEP.
use_test_dir() {
    if [ -n "$1" ]; then
        TMP=$1
        mkdir -p "$TMP"
        KEEP=true
    else
        TMP=$(mktemp -d "${TMPDIR:-/tmp}/genofm-$2-tests.XXXXXX")
        KEEP=false
    fi
}

passed=0
failed=0
# finish_suite NAME: the suite's time, TMP removed when everything passed (unless kept), then the
# closing line `NAME: N passed, N failed`; returns non-zero when anything failed
finish_suite() {
    echo
    echo "$1 tests took ${SECONDS} s"
    if [ "$failed" = 0 ] && [ "$KEEP" = false ]; then
        rm -rf "$TMP"
    else
        echo "runs and logs kept in $TMP"
    fi
    echo "$1: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}

pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$1"; }
# fail MESSAGE [LOG]: counts a failure and shows the end of LOG when it exists
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; [ -n "${2:-}" ] && [ -f "$2" ] && tail -n 25 "$2" | sed 's/^/      /'; }

# expect_files OUTDIR LABEL PATH...: every PATH exists (and is non-empty unless STUB=1)
expect_files() {
    local outdir=$1 label=$2
    shift 2
    local missing=()
    for f in "$@"; do
        if [ ! -e "$outdir/$f" ]; then
            missing+=("$f")
        elif [ "${STUB:-0}" != 1 ] && [ -f "$outdir/$f" ] && [ ! -s "$outdir/$f" ]; then
            missing+=("$f (empty)")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        pass "$label: $# expected outputs present"
    else
        printf '%s\n' "${missing[@]}" > "$TMP/missing.txt"
        fail "$label: missing ${missing[*]}" "$TMP/missing.txt"
    fi
}

# every file a test-profile run publishes (dataset oct4_mafk; kmer and spliceai; logreg)
test_profile_outputs() {
    local d=oct4_mafk
    echo "$d/prepare/$d.parquet $d/prepare/$d.summary.json"
    for bb in kmer spliceai; do
        echo "$d/train/$d.$bb.logreg/model.json $d/train/$d.$bb.logreg/model.safetensors"
        echo "$d/train/$d.$bb.logreg/metrics.json $d/train/$d.$bb.logreg/test_predictions.tsv"
        echo "$d/train/$d.$bb.logreg/roc_curve.png $d/train/$d.$bb.logreg/pr_curve.png"
        echo "$d/predict/$d.$bb.logreg.predictions.tsv"
        echo "$d/interpret/$d.$bb.logreg/report.html $d/interpret/$d.$bb.logreg/features.tsv"
    done
    echo "comparison/comparison.tsv comparison/comparison.html"
    echo "pipeline_info/genofm_software_versions.yml pipeline_info/params_summary.json"
}
