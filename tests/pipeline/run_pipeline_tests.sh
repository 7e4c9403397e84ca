#!/usr/bin/env bash
# End-to-end tests of the Nextflow pipeline with the Nextflow on PATH (scripts/install_nextflow.sh):
#   1. bad parameters and bad samplesheets are rejected with a clear message, a non-zero exit and
#      no task started;
#   2. a -stub run of the test profile wires every step and publishes the expected file names;
#   3. the real test profile (bundled Oct4 vs MafK peaks, kmer + SpliceAI) finishes, publishes
#      every expected file, and the k-mer model separates the two factors (test AUROC > 0.8);
#      --stack kmer,spliceai adds the stacked kmer+spliceai row beside them, --select_ensemble the
#      ensemble of the three selected on validation;
#   4. a -resume re-run executes nothing (every task comes from the cache); 4b. the tracks
#      ablation; 4c. (region, cell type) rows (samplesheet cell_type) with --split_mode cell: the
#      held-out cell type is the test split and is predicted from its own tracks;
#   5. the fine-tuning branch runs end to end with a tiny random DNABERT-6, and Sei is staged from
#      --sei_dir (tiny random release folders from genofm.testing).
# Wall times of the real run and of the -resume run are printed. Ends with the plain line
# `pipeline: N passed, N failed`; exits non-zero when anything failed.
#
# Usage: tests/pipeline/run_pipeline_tests.sh [--quick]   (--quick: steps 1-2 only)
# Env:   GENOFM_PIPELINE_TEST_DIR  where runs happen (default: a fresh temporary folder, removed
#                                  on success)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QUICK=false
[ "${1:-}" = "--quick" ] && QUICK=true
CACHE=${GENOFM_CACHE:-$HOME/.cache/genofm}
JANGGU=$CACHE/resources/janggu
AUROC_MIN=0.8

if ! command -v nextflow >/dev/null 2>&1; then
    echo "run_pipeline_tests: nextflow not on PATH; run scripts/setup.sh and source scripts/env.sh" >&2
    echo "pipeline: 0 passed, 1 failed"
    exit 1
fi
# pass/fail tallies, the runs' folder and output checks, shared with the container and SLURM suites
# shellcheck source=tests/pipeline/checks.sh
source "$ROOT/tests/pipeline/checks.sh"
use_test_dir "${GENOFM_PIPELINE_TEST_DIR:-}" pipeline
export NXF_ANSI_LOG=false

# Runs the pipeline in its own launch folder (own .nextflow/, work/, log) and records the wall time.
# nf DIR ARGS...  -> exit status of nextflow; output in DIR/run.log; seconds in DIR/wall_s
nf() {
    local dir=$1
    shift
    mkdir -p "$dir"
    local start end rc
    start=$(date +%s.%N)
    (cd "$dir" && nextflow run "$ROOT" -ansi-log false "$@" > run.log 2>&1)
    rc=$?
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", e - s }' > "$dir/wall_s"
    return $rc
}

# No task may have started: no work folder content and no submission in the log.
no_task_started() {
    local dir=$1
    [ -z "$(ls -A "$dir/work" 2>/dev/null)" ] && ! grep -q "Submitted process" "$dir/.nextflow.log" 2>/dev/null
}

# expect_rejected NAME REGEX ARGS...: non-zero exit, REGEX in the output, no task started.
expect_rejected() {
    local name=$1 regex=$2
    shift 2
    local dir=$TMP/rejected/$name
    if nf "$dir" "$@"; then
        fail "rejects $name (exit 0)" "$dir/run.log"
    elif ! grep -Eq -e "$regex" "$dir/run.log"; then
        fail "rejects $name (message /$regex/ missing)" "$dir/run.log"
    elif ! no_task_started "$dir"; then
        fail "rejects $name (a task started before the check)" "$dir/run.log"
    else
        pass "rejects $name: $(grep -E -e "$regex" "$dir/run.log" | head -n1 | sed 's/^ *\* *//')"
    fi
}

# ---------------------------------------------------------------------------------------------
echo "== 1. parameter and samplesheet checks (must fail before any task starts)"
SHEETS=$TMP/sheets
mkdir -p "$SHEETS"
printf 'dataset,label,genome\nds,Oct4,\n' > "$SHEETS/no_file_column.csv"
printf 'dataset,label,file,genome\nds,Oct4,%s/sample.fa,\nds,MafK,%s/absent.fa,\n' "$JANGGU" "$JANGGU" > "$SHEETS/missing_file.csv"
printf 'dataset,label,file,genome\nds,Oct 4,%s/sample.fa,\nds,MafK,%s/sample2.fa,\n' "$JANGGU" "$JANGGU" > "$SHEETS/bad_label.csv"
printf 'dataset,label,file,genome\nds,Oct4,%s/sample.fa,\nds,Oct4,%s/sample2.fa,\n' "$JANGGU" "$JANGGU" > "$SHEETS/one_class.csv"
printf 'dataset,label,file,genome\nds,Oct4,%s/sample.fa,\nds,MafK,%s/peaks.bed,\n' "$JANGGU" "$SHEETS" > "$SHEETS/bed_without_genome.csv"
touch "$SHEETS/peaks.bed"
# (region, cell type) rows: the Oct4 peaks bound in K562 and unbound in HepG2, the MafK peaks the
# other way round, so sequence alone cannot carry over from one cell type to the other
printf 'dataset,label,file,genome,cell_type\ncells,bound,%s/sample.fa,,K562\ncells,unbound,%s/sample2.fa,,K562\ncells,bound,%s/sample2.fa,,HepG2\ncells,unbound,%s/sample.fa,,HepG2\n' \
    "$JANGGU" "$JANGGU" "$JANGGU" "$JANGGU" > "$SHEETS/cells.csv"

expect_rejected unknown_backbone "--backbones: 'kmer,foo' is not valid" -profile test --backbones kmer,foo
expect_rejected missing_input "--input: required" --outdir "$TMP/never"
expect_rejected integer_type "--max_per_class: must be an integer, got 'many'" -profile test --max_per_class many
expect_rejected enum_value "--precision: 'fp8' is not one of" -profile test --precision fp8
expect_rejected weights_needed "spliceai needs --spliceai_dir" --input "$ROOT/assets/samplesheet_test.csv" --input_base_dir "$JANGGU" --backbones spliceai
expect_rejected missing_column "missing column\(s\) file" --input "$SHEETS/no_file_column.csv"
expect_rejected missing_file "line 3, column 'file': '.*absent.fa' does not exist" --input "$SHEETS/missing_file.csv"
expect_rejected bad_label "line 2, column 'label': 'Oct 4' is not valid" --input "$SHEETS/bad_label.csv"
expect_rejected one_class "only one class \(Oct4\)" --input "$SHEETS/one_class.csv"
expect_rejected interval_without_genome "peaks.bed holds intervals; fill the genome column" --input "$SHEETS/bed_without_genome.csv"
expect_rejected split_cell_without_cell_types "--split_mode cell: no row of samplesheet_test.csv has a cell_type" -profile test --split_mode cell --test_cells HepG2
expect_rejected unknown_test_cell "--test_cells: GM12878 is not a cell_type of cells.csv \(have HepG2, K562\)" --input "$SHEETS/cells.csv" --split_mode cell --test_cells GM12878
expect_rejected stack_of_one "--stack: 'kmer' is not valid \(--stack must name two or more of" -profile test --stack kmer
expect_rejected stack_unknown_backbone "--stack: 'kmer,foo' is not valid" -profile test --stack kmer,foo

# expect_task_fails NAME REGEX ARGS...: non-zero exit inside a task, the tool's one error line
# (REGEX) in the output, and nothing published.
expect_task_fails() {
    local name=$1 regex=$2
    shift 2
    local dir=$TMP/task_fails/$name
    if nf "$dir" "$@" --outdir out; then
        fail "task fails $name (exit 0)" "$dir/run.log"
    elif ! grep -Eq -e "$regex" "$dir/run.log"; then
        fail "task fails $name (message /$regex/ missing)" "$dir/run.log"
    elif [ -n "$(find "$dir/out" -name '*.parquet' 2>/dev/null)" ]; then
        fail "task fails $name (a dataset was published)" "$dir/run.log"
    else
        pass "task fails $name: $(grep -E -o -e "genofm-[a-z]+: error: .{0,160}" "$dir/run.log" | head -n1)"
    fi
}
python3 -c "print('>chr1:0-200\n' + 'N' * 200 + '\n>chr8:0-200\n' + 'N' * 190 + 'ACGTACGTAC')" > "$SHEETS/all_n.fa"
printf 'dataset,label,file,genome\nds,Oct4,%s/sample.fa,\nds,Empty,%s/all_n.fa,\n' "$JANGGU" "$SHEETS" > "$SHEETS/all_n_class.csv"
expect_task_fails split_one_class "genofm-prepare: error: the test split holds only class .*--max-per-class \(pipeline: --max_per_class\)" \
    -profile test --backbones kmer --max_per_class 20
expect_task_fails class_filtered_away "genofm-prepare: error: only class \['Oct4'\] is left after filtering; nothing is left of 'Empty' \(2 read: too_many_n 2\)" \
    -profile test --backbones kmer --input "$SHEETS/all_n_class.csv"

# ---------------------------------------------------------------------------------------------
echo "== 2. -stub run of the test profile"
STUB_DIR=$TMP/stub
if nf "$STUB_DIR" -profile test -stub --outdir out; then
    pass "stub run completes ($(cat "$STUB_DIR/wall_s") s)"
    # shards: 1000 rows (500 per class) would make 4 shards of 250, but stub summaries have no
    # row counts, so a fixed --shard_count is what a stub run can check
    STUB=1 expect_files "$STUB_DIR/out" "stub run" $(test_profile_outputs)
else
    fail "stub run" "$STUB_DIR/run.log"
fi
STUB_SHARDS=$TMP/stub_shards
if nf "$STUB_SHARDS" -profile test -stub --outdir out --shard_count 3 --head logreg,mlp &&
    [ "$(grep -c 'Submitted process > .*GENOFM_EMBED (oct4_mafk\.[a-z]*\.shard[123]of3)' "$STUB_SHARDS/run.log")" = 6 ] &&
    [ "$(grep -c 'Submitted process > .*GENOFM_TRAIN' "$STUB_SHARDS/run.log")" = 4 ]; then
    pass "stub run with --shard_count 3 --head logreg,mlp: 6 embedding shards, 4 models"
else
    fail "stub run with --shard_count 3 --head logreg,mlp" "$STUB_SHARDS/run.log"
fi

# synthetic epigenomic tracks over the bundled peaks (DNase high at Oct4 peaks, H3K4me3 noise)
TRACKS=$TMP/tracks_sheet
python -m genofm.testing.tiny_tracks --out "$TRACKS" Oct4="$JANGGU/sample.fa" MafK="$JANGGU/sample2.fa" \
    --signal-class Oct4 > "$TMP/tiny_tracks.log" 2>&1 || fail "genofm.testing.tiny_tracks" "$TMP/tiny_tracks.log"
# --stack kmer,spliceai with --backbones kmer: spliceai is embedded too; the tracks join and the
# stack share one channel operation, so one run checks both
STUB_TRACKS=$TMP/stub_tracks
trained() { sed -n 's/.*Submitted process > .*GENOFM_TRAIN (oct4_mafk\.\(.*\)\.logreg)$/\1/p' "$1" | sort | tr '\n' ' '; }
if nf "$STUB_TRACKS" -profile test -stub --outdir out --backbones kmer --stack kmer,spliceai --tracks "$TRACKS/tracks.tsv" &&
    [ "$(trained "$STUB_TRACKS/run.log")" = "kmer kmer+spliceai kmer+tracks spliceai spliceai+tracks tracks " ]; then
    pass "stub run with --tracks and --stack kmer,spliceai: models $(trained "$STUB_TRACKS/run.log")"
    # the task folder from its '[ab/cdef12] Submitted process > ...' line
    stacked_hash=$(sed -n 's/^\[\([0-9a-f]*\/[0-9a-f]*\)\] Submitted process > .*GENOFM_TRAIN (oct4_mafk\.kmer+spliceai\.logreg)$/\1/p' "$STUB_TRACKS/run.log")
    stacked_dir=$(ls -d "$STUB_TRACKS/work/${stacked_hash:-none}"* 2>/dev/null | head -n1)
    if [ -n "$stacked_dir" ] && [ "$(ls "$stacked_dir/embeddings" | tr '\n' ' ')" = "oct4_mafk.kmer.h5 oct4_mafk.spliceai.h5 " ]; then
        pass "the stacked head's task stages both backbones' embeddings"
    else
        fail "the stacked head's task stages both backbones' embeddings (${stacked_dir:-no task})" "$STUB_TRACKS/run.log"
    fi
else
    fail "stub run with --tracks and --stack kmer,spliceai (trained: $(trained "$STUB_TRACKS/run.log"))" "$STUB_TRACKS/run.log"
fi

if [ "$QUICK" = true ]; then
    echo "(--quick: skipping the real test-profile run and -resume)"
else
    # -----------------------------------------------------------------------------------------
    echo "== 3. the test profile, end to end"
    REAL=$TMP/real
    # --stack kmer,spliceai: one more head on the joined embeddings of the two backbones
    if nf "$REAL" -profile test --outdir out --stack kmer,spliceai --select_ensemble --trace_report_suffix first; then
        real_wall=$(cat "$REAL/wall_s")
        pass "test profile completes"
        expect_files "$REAL/out" "test profile" $(test_profile_outputs)
        n_shards=$(ls "$REAL/out/oct4_mafk/embed/spliceai/"*.h5 2>/dev/null | wc -l)
        if [ "$n_shards" -ge 2 ]; then
            pass "spliceai embeddings sharded and published ($n_shards shards)"
        else
            fail "spliceai embeddings sharded ($n_shards shard files)" "$REAL/run.log"
        fi
        # test AUROC of the k-mer logistic regression, read from comparison.tsv by column name
        auroc=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                            $col["backbone"] == "kmer" && $col["head"] == "logreg" { print $col["auroc"] }' \
                    "$REAL/out/comparison/comparison.tsv" 2>/dev/null)
        if [ -n "$auroc" ] && awk -v a="$auroc" -v m="$AUROC_MIN" 'BEGIN { exit !(a > m) }'; then
            pass "kmer logreg separates Oct4 from MafK: test AUROC $auroc > $AUROC_MIN"
        else
            cp "$REAL/out/comparison/comparison.tsv" "$TMP/comparison.tsv" 2>/dev/null || echo "no comparison.tsv" > "$TMP/comparison.tsv"
            fail "kmer logreg test AUROC '${auroc:-none}' > $AUROC_MIN" "$TMP/comparison.tsv"
        fi
        sai=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                          $col["backbone"] == "spliceai" { print $col["auroc"] }' "$REAL/out/comparison/comparison.tsv" 2>/dev/null)
        echo "      (spliceai logreg test AUROC: ${sai:-none})"
        stacked=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                              $col["backbone"] == "kmer+spliceai" && $col["head"] == "logreg" { print $col["auroc"] }' "$REAL/out/comparison/comparison.tsv" 2>/dev/null)
        if [ -n "$stacked" ] && [ -s "$REAL/out/oct4_mafk/train/oct4_mafk.kmer+spliceai.logreg/model.json" ]; then
            pass "--stack kmer,spliceai: the kmer+spliceai row sits beside the single backbones in comparison.tsv (test AUROC $stacked)"
        else
            fail "--stack kmer,spliceai row in comparison.tsv" "$REAL/out/comparison/comparison.tsv"
        fi
        selected=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                               $col["kind"] == "selected" { print $col["members"] }' "$REAL/out/comparison/comparison.tsv" 2>/dev/null)
        if [ -n "$selected" ]; then
            pass "--select_ensemble: comparison.tsv has the ensemble selected on validation ($selected)"
        else
            fail "--select_ensemble: no selected row in comparison.tsv" "$REAL/out/comparison/comparison.tsv"
        fi
        # every model folder and report named in comparison.tsv resolves from the comparison folder
        unresolved=$(cd "$REAL/out/comparison" 2>/dev/null && awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                     $col["kind"] == "model" { print $col["model_dir"]; if ($col["report"] != "") print $col["report"] }' comparison.tsv |
                     while read -r p; do [ -e "$p" ] || echo "$p"; done)
        if [ -z "$unresolved" ] && [ -s "$REAL/out/comparison/comparison.tsv" ]; then
            pass "comparison.tsv model folders and reports resolve under the published results"
        else
            fail "comparison.tsv paths that do not resolve: ${unresolved:-no comparison.tsv}" "$REAL/run.log"
        fi

        # -------------------------------------------------------------------------------------
        echo "== 4. -resume re-executes nothing"
        if nf "$REAL" -profile test --outdir out --stack kmer,spliceai --select_ensemble --trace_report_suffix resume -resume; then
            resume_wall=$(cat "$REAL/wall_s")
            trace=$REAL/out/pipeline_info/execution_trace_resume.txt
            total=$(awk -F'\t' 'NR > 1' "$trace" | wc -l)
            cached=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } $col["status"] == "CACHED"' "$trace" | wc -l)
            if [ "$total" -gt 0 ] && [ "$total" = "$cached" ] && ! grep -q "Submitted process" "$REAL/run.log"; then
                pass "-resume: all $total tasks cached, none submitted"
            else
                fail "-resume: $cached of $total tasks cached" "$trace"
            fi
        else
            fail "-resume run" "$REAL/run.log"
        fi
        echo "wall time: test profile ${real_wall} s; -resume ${resume_wall:-n/a} s"
    else
        fail "test profile run" "$REAL/run.log"
    fi

    # -----------------------------------------------------------------------------------------
    echo "== 4b. epigenomic tracks: the ablation (sequence only, tracks only, both) in the comparison"
    TR=$TMP/tracks_run
    if nf "$TR" -profile test --outdir out --backbones kmer --max_per_class 300 --tracks "$TRACKS/tracks.tsv" --track_bins 2; then
        rows=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } { print $col["backbone"] }' \
               "$TR/out/comparison/comparison.tsv" 2>/dev/null | sort | tr '\n' ' ')
        if [ "$rows" = "kmer kmer+tracks tracks " ] && [ -s "$TR/out/oct4_mafk/prepare/oct4_mafk.tracks.h5" ]; then
            pass "tracks ablation rows in comparison.tsv: $rows($(cat "$TR/wall_s") s)"
            awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } { printf "      %-12s test AUROC %s\n", $col["backbone"], $col["auroc"] }' \
                "$TR/out/comparison/comparison.tsv"
        else
            fail "tracks ablation rows (got: ${rows:-none})" "$TR/out/comparison/comparison.tsv"
        fi
    else
        fail "test profile with --tracks" "$TR/run.log"
    fi

    # -----------------------------------------------------------------------------------------
    echo "== 4c. (region, cell type) examples from the samplesheet's cell_type, HepG2 held out (--split_mode cell)"
    # per cell type its own DNase: high where the regions are bound in that cell type (the Oct4
    # peaks in K562, the MafK peaks in HepG2); the sheet names both cell types' files
    CELL_TRACKS=$TMP/cell_tracks
    if python -m genofm.testing.tiny_tracks --out "$CELL_TRACKS/k562" bound="$JANGGU/sample.fa" unbound="$JANGGU/sample2.fa" \
            --signal-class bound --cells K562 --seed 1 > "$TMP/cell_tracks.log" 2>&1 &&
        python -m genofm.testing.tiny_tracks --out "$CELL_TRACKS/hepg2" bound="$JANGGU/sample2.fa" unbound="$JANGGU/sample.fa" \
            --signal-class bound --cells HepG2 --seed 2 >> "$TMP/cell_tracks.log" 2>&1; then
        { head -n1 "$CELL_TRACKS/k562/tracks.tsv"
          for cell in k562 hepg2; do tail -n +2 "$CELL_TRACKS/$cell/tracks.tsv" | awk -F'\t' -v OFS='\t' -v d="$cell" '{ $4 = d "/" $4; print }'; done
        } > "$CELL_TRACKS/tracks.tsv"
    else
        fail "genofm.testing.tiny_tracks for two cell types" "$TMP/cell_tracks.log"
    fi
    CELLS=$TMP/cells_run
    if nf "$CELLS" -profile test --outdir out --input "$SHEETS/cells.csv" --backbones kmer --max_per_class 800 --shard_size 2000 --skip_interpret \
        --tracks "$CELL_TRACKS/tracks.tsv" --track_bins 2 --split_mode cell --test_cells HepG2; then
        pass "--split_mode cell run completes ($(cat "$CELLS/wall_s") s)"
        # the test split is HepG2 and only HepG2; train and valid hold K562 only
        if python - "$CELLS/out/cells/prepare/cells.summary.json" <<'PY'
import json, sys
cells = json.load(open(sys.argv[1]))["cell_types"]
sys.exit(not (list(cells["test"]) == ["HepG2"] and cells["test"]["HepG2"] > 0 and set(cells["train"]) | set(cells["valid"]) == {"K562"}))
PY
        then
            pass "test split = held-out HepG2 only, train/valid = K562 ($(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["cell_types"])' "$CELLS/out/cells/prepare/cells.summary.json"))"
        else
            fail "test split = held-out HepG2 only" "$CELLS/out/cells/prepare/cells.summary.json"
        fi
        # test AUROC per model, read from each model's metrics.json
        cell_auroc() { python -c 'import json, sys; print(json.load(open(sys.argv[1]))["metrics"]["auroc"]["value"])' "$CELLS/out/cells/train/cells.$1.logreg/metrics.json" 2>/dev/null; }
        tr_auroc=$(cell_auroc tracks)
        seq_auroc=$(cell_auroc kmer)
        both_auroc=$(cell_auroc kmer+tracks)
        echo "      held-out HepG2 test AUROC: tracks ${tr_auroc:-none}, kmer ${seq_auroc:-none}, kmer+tracks ${both_auroc:-none}"
        if [ -n "$tr_auroc" ] && [ -n "$seq_auroc" ] && awk -v t="$tr_auroc" -v s="$seq_auroc" -v m="$AUROC_MIN" 'BEGIN { exit !(t > m && s < 0.5) }'; then
            pass "HepG2 predicted from its own tracks (tracks AUROC $tr_auroc > $AUROC_MIN); sequence alone does not carry over (kmer AUROC $seq_auroc < 0.5)"
        else
            fail "held-out HepG2: tracks AUROC '${tr_auroc:-none}' > $AUROC_MIN and kmer AUROC '${seq_auroc:-none}' < 0.5" "$CELLS/out/comparison/comparison.tsv"
        fi
    else
        fail "--split_mode cell run" "$CELLS/run.log"
    fi

    # -----------------------------------------------------------------------------------------
    echo "== 5. fine-tuning branch with a tiny random DNABERT-6, the cnn from scratch, and Sei from --sei_dir (structure, not accuracy)"
    FT=$TMP/finetune
    mkdir -p "$FT"
    if python -m genofm.testing.tiny_lm --model dnabert6 --out "$FT/tiny_dnabert6" > "$FT/tiny.log" 2>&1 &&
        python -m genofm.testing.tiny_sei --out "$FT/tiny_sei" >> "$FT/tiny.log" 2>&1; then
        # a site config overriding tool arguments, as docs/usage.md describes
        cat > "$FT/quick.config" <<'CONFIG'
process {
    withName: 'GENOFM_FINETUNE' { ext.args = '--epochs 1 --max-steps 4 --batch-size 8 --bootstrap 50' }
    withName: 'GENOFM_TRAIN'    { ext.args = '--bootstrap 50' }
}
CONFIG
        if nf "$FT" -profile test -c "$FT/quick.config" --outdir out --max_per_class 60 \
            --backbones kmer,dnabert6,sei --dnabert6_dir "$FT/tiny_dnabert6" --sei_dir "$FT/tiny_sei" \
            --finetune_backbones dnabert6,cnn; then
            pass "fine-tuning run completes ($(cat "$FT/wall_s") s)"
            d=oct4_mafk
            expect_files "$FT/out" "fine-tuning run" \
                $d/train/$d.dnabert6.finetune/model.json $d/train/$d.dnabert6.finetune/metrics.json \
                $d/predict/$d.dnabert6.finetune.predictions.tsv $d/interpret/$d.dnabert6.finetune/report.html \
                $d/train/$d.dnabert6.logreg/model.json $d/embed/dnabert6/$d.dnabert6.h5 \
                $d/train/$d.sei.logreg/model.json $d/interpret/$d.sei.logreg/sei_assay_aggregate.tsv \
                $d/train/$d.cnn.finetune/cnn.safetensors $d/predict/$d.cnn.finetune.predictions.tsv \
                $d/interpret/$d.cnn.finetune/cnn_sites.tsv
            rows=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next } { print $col["backbone"] "/" $col["head"] }' \
                       "$FT/out/comparison/comparison.tsv" 2>/dev/null | sort | tr '\n' ' ')
            if [ "$rows" = "cnn/finetuned dnabert6/finetuned dnabert6/logreg kmer/logreg sei/logreg " ]; then
                pass "comparison lists the fine-tuned model beside the heads ($rows)"
            else
                fail "comparison rows: '$rows'" "$FT/out/comparison/comparison.tsv"
            fi
            if grep -q -e "--max-steps 4" "$FT"/work/*/*/.command.sh; then
                pass "ext.args from a -c config reach genofm-train --finetune"
            else
                fail "ext.args from a -c config reach genofm-train --finetune" "$FT/run.log"
            fi
            cnn_cmds=$(grep -l -e "--finetune cnn" "$FT"/work/*/*/.command.sh)
            train_cmds=$(grep -l -e "genofm-train" "$FT"/work/*/*/.command.sh)
            if [ -n "$cnn_cmds" ] && ! grep -q -e "--weights" $cnn_cmds && [ -z "$(grep -L -e "--threads" $train_cmds)" ]; then
                pass "cnn trained from scratch (no --weights); every genofm-train task given --threads task.cpus"
            else
                fail "cnn without --weights, --threads on every genofm-train task" "$FT/run.log"
            fi
        else
            fail "fine-tuning run" "$FT/run.log"
        fi
    else
        fail "tiny DNABERT-6 and Sei for the fine-tuning run" "$FT/tiny.log"
    fi
fi

finish_suite pipeline
