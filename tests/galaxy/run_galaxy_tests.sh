#!/usr/bin/env bash
# The Galaxy wrappers, linted and run for real:
#   1. planemo lint on every wrapper (XSD and best practice): no errors and no warnings;
#      planemo workflow_lint on the workflow;
#   2. a real Galaxy 26.1 server (scripts/setup_galaxy.sh installs it) on 127.0.0.1, fresh database,
#      the genofm tools (this clone's code) on the jobs' PATH, the test genofm_weights data table
#      (real SpliceAI models from the set-up cache, tiny random models of the official layouts);
#   3. a test user; every <test> of every wrapper through galaxy-tool-test, timed per test case;
#   4. the gxformat2 workflow prepare -> embed -> train -> predict -> interpret on the bundled
#      Oct4/MafK peaks through planemo against the same server, and its test AUROC against the
#      Nextflow test profile's kmer run on the same data and split (must be equal);
#   5. the server stopped by its PID, also when anything fails (trap).
# Ends with the plain line `galaxy: N passed, N failed`; exits non-zero when anything failed.
#
# Usage: tests/galaxy/run_galaxy_tests.sh [--lint-only] [--no-workflow] [TOOL_ID...]
# Env:   GENOFM_GALAXY_TEST_DIR  where the server and runs live (default: a fresh temporary
#                                folder, removed on success)
#        GENOFM_GALAXY_PARALLEL  test cases run side by side (default 2)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${GENOFM_CACHE:-$HOME/.cache/genofm}
GALAXY_VENV=$CACHE/galaxy-venv
PLANEMO_VENV=$CACHE/planemo-venv
TOOLS=$ROOT/galaxy/tools/genofm
WORKFLOW=$ROOT/galaxy/workflows/genofm-kmer.gxwf.yml
PARALLEL=${GENOFM_GALAXY_PARALLEL:-2}
LINT_ONLY=false
WITH_WORKFLOW=true
TOOL_IDS=()
for arg in "$@"; do
    case $arg in
        --lint-only) LINT_ONLY=true ;;
        --no-workflow) WITH_WORKFLOW=false ;;
        *) TOOL_IDS+=("$arg") ;;
    esac
done
[ ${#TOOL_IDS[@]} -eq 0 ] && TOOL_IDS=(genofm_prepare genofm_embed genofm_train genofm_predict genofm_interpret genofm_compare)

if [ -n "${GENOFM_GALAXY_TEST_DIR:-}" ]; then
    TMP=$GENOFM_GALAXY_TEST_DIR
    rm -rf "$TMP"
    mkdir -p "$TMP"
    KEEP=true
else
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/genofm-galaxy-tests.XXXXXX")
    KEEP=false
fi

# pass/fail tallies shared with the pipeline and container suites
# shellcheck source=tests/pipeline/checks.sh
source "$ROOT/tests/pipeline/checks.sh"

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 30); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 1; done
        kill -9 "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        echo "galaxy server (pid $SERVER_PID) stopped"
    fi
    SERVER_PID=
}
finish() {
    local rc=$?
    stop_server
    echo "galaxy: $passed passed, $failed failed"
    if [ "$failed" -eq 0 ] && [ "$KEEP" = false ]; then
        rm -rf "$TMP"
    elif [ "$failed" -ne 0 ]; then
        echo "galaxy test files kept in $TMP"
    fi
    [ "$failed" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
    exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM

seconds_since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }'; }

for venv in "$GALAXY_VENV" "$PLANEMO_VENV"; do
    if [ ! -x "$venv/bin/python" ]; then
        fail "$venv missing: run scripts/setup_galaxy.sh (make setup)"
        exit 1
    fi
done

# ---- 1. lint -------------------------------------------------------------------------------
lint_log=$TMP/lint.log
"$PLANEMO_VENV/bin/planemo" lint --fail_level warn "$TOOLS"/genofm_*.xml > "$lint_log" 2>&1
lint_rc=$?
n_tools=$(grep -c '^Linting tool' "$lint_log")
n_err=$(grep -c '\.\. ERROR' "$lint_log")
n_warn=$(grep -c '\.\. WARNING' "$lint_log")
if [ "$lint_rc" -eq 0 ] && [ "$n_err" -eq 0 ] && [ "$n_warn" -eq 0 ] && [ "$n_tools" -eq 6 ]; then
    pass "planemo lint: $n_tools wrappers, $n_err errors, $n_warn warnings"
else
    grep -E '\.\. (ERROR|WARNING)|Failed' "$lint_log" > "$TMP/lint_problems.log"
    fail "planemo lint: $n_tools wrappers, $n_err errors, $n_warn warnings (exit $lint_rc)" "$TMP/lint_problems.log"
fi

# ---- 2. test data, configuration, server ---------------------------------------------------
GENOFM_PY=$(command -v python)
if ! "$GENOFM_PY" -c 'import genofm' 2>/dev/null; then
    fail "genofm is not importable by $GENOFM_PY: source scripts/env.sh first"
    exit 1
fi
start=$(date +%s.%N)
if OMP_NUM_THREADS=1 "$GENOFM_PY" "$ROOT/galaxy/make_test_data.py" --loc "$TMP/tool-data/genofm_weights.loc" \
        --weights-dir "$TMP/weights" > "$TMP/test_data.log" 2>&1; then
    pass "test data made by galaxy/make_test_data.py ($(seconds_since "$start") s)"
else
    fail "galaxy/make_test_data.py" "$TMP/test_data.log"
    exit 1
fi
# the workflow's tests name the files make_test_data.py writes, so its lint comes after them
wf_log=$TMP/workflow_lint.log
"$PLANEMO_VENV/bin/planemo" workflow_lint --fail_level warn "$WORKFLOW" > "$wf_log" 2>&1
wf_rc=$?
if [ "$wf_rc" -eq 0 ] && ! grep -q 'WARNING\|ERROR' "$wf_log"; then
    pass "planemo workflow_lint: $(basename "$WORKFLOW") and its tests"
else
    fail "planemo workflow_lint (exit $wf_rc)" "$wf_log"
fi
$LINT_ONLY && exit 0

# The jobs see only the genofm commands of this clone's environment (not its python), so Galaxy's
# own metadata scripts keep Galaxy's python.
mkdir -p "$TMP/bin" "$TMP/data"
for tool in genofm genofm-prepare genofm-embed genofm-train genofm-predict genofm-interpret; do
    ln -sf "$(dirname "$GENOFM_PY")/$tool" "$TMP/bin/$tool"
done
PORT=$("$GALAXY_VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
ADMIN_KEY=$("$GALAXY_VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))')
{
    echo '<?xml version="1.0"?>'
    echo '<toolbox monitor="false">'
    echo '  <section id="genofm" name="genofm">'
    for xml in "$TOOLS"/genofm_*.xml; do echo "    <tool file=\"$xml\"/>"; done
    echo '  </section>'
    echo '</toolbox>'
} > "$TMP/tool_conf.xml"
sed "s|tool-data/genofm_weights.loc|$TMP/tool-data/genofm_weights.loc|" "$TOOLS/tool_data_table_conf.xml.sample" > "$TMP/tool_data_table_conf.xml"
# the self-contained HTML reports are served as they are (what docs/galaxy.md asks admins to allow)
printf 'genofm_interpret\ngenofm_compare\n' > "$TMP/sanitize_allowlist.txt"
cat > "$TMP/job_conf.yml" <<EOF
runners:
  local:
    load: galaxy.jobs.runners.local:LocalJobRunner
    workers: $PARALLEL
execution:
  default: local
  environments:
    local:
      runner: local
      env:
        - execute: export PATH="$TMP/bin:\$PATH"
        - name: PYTHONPATH
          value: $ROOT/src
        - name: OMP_NUM_THREADS
          value: "1"
        - name: PYTHONNOUSERSITE
          value: "1"
EOF
cat > "$TMP/galaxy.yml" <<EOF
galaxy:
  data_dir: $TMP/data
  database_connection: sqlite:///$TMP/data/universe.sqlite?isolation_level=IMMEDIATE
  tool_config_file: $TMP/tool_conf.xml
  tool_data_table_config_path: $TMP/tool_data_table_conf.xml
  tool_data_path: $TMP/tool-data
  job_config_file: $TMP/job_conf.yml
  sanitize_allowlist_file: $TMP/sanitize_allowlist.txt
  admin_users: admin@genofm.test
  bootstrap_admin_api_key: $ADMIN_KEY
  id_secret: $("$GALAXY_VENV/bin/python" -c 'import secrets; print(secrets.token_hex(16))')
  conda_auto_init: false
  conda_auto_install: false
  dependency_resolvers:
    - type: galaxy_packages
  enable_celery_tasks: false
  watch_tools: false
  check_migrate_tools: false
  allow_user_creation: true
  cleanup_job: onsuccess
EOF
start=$(date +%s.%N)
(
    cd "$TMP" || exit 1
    exec "$GALAXY_VENV/bin/galaxy-web" -c "$TMP/galaxy.yml" -b "127.0.0.1:$PORT"
) > "$TMP/server.log" 2>&1 &
SERVER_PID=$!
up=false
# about 70 s on an idle 2-core machine, several minutes on a busy one
for _ in $(seq 1 900); do
    if curl -sf "$URL/api/version" > "$TMP/version.json" 2>/dev/null; then up=true; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 1
done
if $up; then
    pass "galaxy $(sed -n 's/.*"version_major": *"\([^"]*\)".*"version_minor": *"\([^"]*\)".*/\1.\2/p' "$TMP/version.json") up on $URL, pid $SERVER_PID ($(seconds_since "$start") s)"
else
    fail "galaxy server did not answer on $URL" "$TMP/server.log"
    exit 1
fi

api() {  # api METHOD PATH [JSON]: with the bootstrap admin key
    curl -sf -X "$1" -H "x-api-key: $ADMIN_KEY" -H 'Content-Type: application/json' ${3:+-d "$3"} "$URL$2"
}
user_id=$(api POST /api/users '{"username": "tester", "email": "tester@genofm.test", "password": "genofm-tester-1"}' \
    | "$GALAXY_VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
USER_KEY=$(api POST "/api/users/$user_id/api_key" | tr -d '"')
if [ -n "$user_id" ] && [ -n "$USER_KEY" ]; then
    pass "test user created ($user_id)"
else
    fail "creating the test user"
    exit 1
fi

# ---- 3. every wrapper's tests -------------------------------------------------------------
# report_cases JSON: one PASS/FAIL line per test case with its time (galaxy-tool-test's record)
report_cases() {
    "$GALAXY_VENV/bin/python" - "$1" <<'EOF'
import json, sys
record = json.load(open(sys.argv[1]))
for test in record.get("tests", []):
    data = test.get("data", {})
    status = data.get("status")
    name = f"{test.get('id', '?')}"
    seconds = data.get("time_seconds")
    timing = f"{seconds:.0f} s" if isinstance(seconds, (int, float)) else "? s"
    stderr = (data.get("job") or {}).get("stderr", "") if status != "success" else ""
    # anything but success (failure, error, skip) counts as a failure: every case must run
    print(f"{'PASS' if status == 'success' else 'FAIL'}\t{name} ({timing})")
    if status != "success":
        notes = [str(p) for p in (data.get("output_problems") or [])[:5]]
        if data.get("execution_problem"):
            notes.append(str(data["execution_problem"]))
        if stderr:
            notes.append("stderr: " + stderr.strip()[-600:])
        for note in notes:
            print("NOTE\t" + " | ".join(note.splitlines())[:700])
EOF
}
for tool in "${TOOL_IDS[@]}"; do
    start=$(date +%s.%N)
    "$GALAXY_VENV/bin/galaxy-tool-test" -u "$URL" -k "$USER_KEY" -a "$ADMIN_KEY" -t "$tool" \
        --parallel-tests "$PARALLEL" --history-per-test-case --no-history-cleanup --with-reference-data \
        -j "$TMP/$tool.json" -o "$TMP/outputs/$tool" > "$TMP/$tool.log" 2>&1
    rc=$?
    elapsed=$(seconds_since "$start")
    if [ ! -s "$TMP/$tool.json" ]; then
        fail "$tool: galaxy-tool-test wrote no record (exit $rc, $elapsed s)" "$TMP/$tool.log"
        continue
    fi
    n_cases=0
    while IFS=$'\t' read -r verdict detail; do
        case $verdict in
            PASS) pass "$detail"; n_cases=$((n_cases + 1)) ;;
            FAIL) fail "$detail"; n_cases=$((n_cases + 1)) ;;
            NOTE) printf '      %s\n' "$detail" ;;
        esac
    done < <(report_cases "$TMP/$tool.json")
    if [ "$n_cases" -lt 2 ]; then
        fail "$tool: $n_cases test cases ran (every wrapper has at least 2)" "$TMP/$tool.log"
    else
        printf '      (%s: %d test cases in %s s, galaxy-tool-test exit %s)\n' "$tool" "$n_cases" "$elapsed" "$rc"
    fi
done

# ---- 4. the workflow, and its AUROC against the Nextflow test profile's -------------------
if $WITH_WORKFLOW; then
    start=$(date +%s.%N)
    (cd "$(dirname "$WORKFLOW")" && "$PLANEMO_VENV/bin/planemo" test --engine external_galaxy \
        --galaxy_url "$URL" --galaxy_admin_key "$ADMIN_KEY" --galaxy_user_key "$USER_KEY" \
        --no_shed_install --test_output_json "$TMP/workflow.json" --test_output "$TMP/workflow.html" \
        "$WORKFLOW") > "$TMP/workflow.log" 2>&1
    rc=$?
    elapsed=$(seconds_since "$start")
    if [ "$rc" -eq 0 ]; then
        pass "workflow $(basename "$WORKFLOW"): prepare -> embed -> train -> predict -> interpret ($elapsed s)"
    else
        fail "workflow $(basename "$WORKFLOW") (exit $rc, $elapsed s)" "$TMP/workflow.log"
    fi
    # the workflow's metrics, fetched from its history: the newest dataset called "metrics"
    "$GALAXY_VENV/bin/python" "$ROOT/tests/galaxy/fetch_output.py" "$URL" "$USER_KEY" metrics "$TMP/workflow_metrics.json" \
        > "$TMP/fetch.log" 2>&1 || fail "fetching the workflow's metrics" "$TMP/fetch.log"
    if command -v nextflow > /dev/null 2>&1 && [ -s "$TMP/workflow_metrics.json" ]; then
        start=$(date +%s.%N)
        mkdir -p "$TMP/nextflow"
        (cd "$TMP/nextflow" && NXF_ANSI_LOG=false nextflow run "$ROOT" -profile test --backbones kmer \
            --skip_interpret --outdir "$TMP/nextflow/results" > run.log 2>&1)
        nf_rc=$?
        nf_metrics=$TMP/nextflow/results/oct4_mafk/train/oct4_mafk.kmer.logreg/metrics.json
        if [ "$nf_rc" -eq 0 ] && [ -s "$nf_metrics" ]; then
            if "$GALAXY_VENV/bin/python" "$ROOT/tests/galaxy/same_metrics.py" "$TMP/workflow_metrics.json" "$nf_metrics" > "$TMP/metrics.txt" 2>&1; then
                pass "workflow metrics equal the Nextflow test profile's kmer run ($(seconds_since "$start") s): $(head -n1 "$TMP/metrics.txt")"
            else
                fail "workflow metrics differ from the Nextflow test profile's kmer run" "$TMP/metrics.txt"
            fi
            sed -n '2,$p' "$TMP/metrics.txt" | sed 's/^/      /'
        else
            fail "Nextflow test profile, kmer backbone (exit $nf_rc)" "$TMP/nextflow/run.log"
        fi
    else
        fail "no Nextflow on PATH or no workflow metrics: cannot compare with the Nextflow test profile"
    fi
fi
exit 0
