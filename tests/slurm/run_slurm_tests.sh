#!/usr/bin/env bash
# The pipeline on a real SLURM cluster: a single-node cluster (Debian's slurm-wlm + munge) is started
# on this machine, everything it needs (munge key and socket, slurm.conf, state, spool, logs) in one
# temporary folder, and the test profile runs on it with `-profile test,slurm`:
#   1. the cluster answers (node idle, a batch job runs);
#   2. the same reduced data run locally and under SLURM (timed, both printed);
#   3. from the SLURM run's trace: every task ran as a SLURM job (its own job id, COMPLETED), and
#      the embedding shards were separate jobs;
#   4. the SLURM run's test metrics equal the local run's;
#   5. a SLURM run killed while embedding leaves no job behind, and `-resume` finishes it from the
#      cached tasks with the same metrics.
# Daemons (munged, slurmctld, slurmd) and Nextflow are stopped by their PIDs when the script exits,
# also on failure or interruption. Ends with the plain line `slurm: N passed, N failed`; exits
# non-zero when anything failed.
#
# Needs root to install the packages when they are missing (apt-get; ~20 s) and to run the daemons.
# Env: GENOFM_SLURM_TEST_DIR   where everything happens (default: a fresh temporary folder, removed
#                              on success)
#      GENOFM_SLURM_MAX_PER_CLASS  peaks per class of the test data (default 150: the test profile's
#                              code paths, at a size two CPU cores embed with SpliceAI in seconds)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MAX_PER_CLASS=${GENOFM_SLURM_MAX_PER_CLASS:-150}
SHARD_SIZE=100   # several shards per backbone, hence several embedding jobs
NF_TIMEOUT=1800  # seconds a pipeline run may take before it is stopped (a job PENDING forever)
export NXF_ANSI_LOG=false

# shellcheck source=tests/pipeline/checks.sh
source "$ROOT/tests/pipeline/checks.sh"
use_test_dir "${GENOFM_SLURM_TEST_DIR:-}" slurm
chmod 755 "$TMP"   # munged runs as the munge user and must reach its folder inside

MUNGED_PID=
SLURMCTLD_PID=
SLURMD_PID=
NF_PID=

# stop_pid PID NAME: TERM, then KILL after 20 s; waits so that nothing is left behind
stop_pid() {
    local pid=$1 name=$2 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "      ($name $pid ignored TERM; killing it)"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# every job of this cluster cancelled and gone (linuxproc does not contain job processes, so the
# daemons must outlive them)
cancel_jobs() {
    local i
    [ -n "$SLURMCTLD_PID" ] && kill -0 "$SLURMCTLD_PID" 2>/dev/null || return 0
    scancel --full --quiet --user="$(id -un)" 2>/dev/null
    for i in $(seq 1 60); do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    echo "      (jobs still listed after scancel: $(squeue -h -o '%i %T' | tr '\n' ' '))"
}

cleanup() {
    local rc=$?
    stop_pid "$NF_PID" nextflow
    cancel_jobs
    stop_pid "$SLURMD_PID" slurmd
    stop_pid "$SLURMCTLD_PID" slurmctld
    stop_pid "$MUNGED_PID" munged
    if [ "$failed" = 0 ] && [ "$KEEP" = false ] && [ "$rc" = 0 ]; then
        rm -rf "$TMP"
    else
        echo "runs and daemon logs kept in $TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

finish() {
    echo
    echo "slurm tests took ${SECONDS} s"
    echo "slurm: $passed passed, $failed failed"
    [ "$failed" = 0 ]
    exit $?
}

# ---------------------------------------------------------------------------------------------
echo "== 0. SLURM and munge packages"
missing=()
for cmd in slurmctld slurmd sbatch squeue scancel sinfo munged munge unmunge; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing slurmctld slurmd slurm-client munge with apt-get (missing: ${missing[*]})"
        apt-get update -qq > "$TMP/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            slurmctld slurmd slurm-client munge >> "$TMP/apt.log" 2>&1
    fi
fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1 || ! command -v nextflow >/dev/null 2>&1; then
    fail "slurm-wlm, munge and nextflow available (as root: apt-get install slurmctld slurmd slurm-client munge; source scripts/env.sh)" "$TMP/apt.log"
    finish
fi
if [ "$(id -u)" != 0 ]; then
    fail "the single-node cluster needs root (slurmd runs jobs as their users)"
    finish
fi
pass "packages present: $(slurmctld -V 2>&1), munge $(munged -V 2>&1 | awk '{print $1}')"

# ---------------------------------------------------------------------------------------------
echo "== 1. a single-node cluster in $TMP"
MUNGE=$TMP/munge
mkdir -p "$MUNGE" "$TMP/slurm/state" "$TMP/slurm/spool" "$TMP/slurm/log"
dd if=/dev/urandom of="$MUNGE/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$MUNGE"
chmod 700 "$MUNGE"
chmod 600 "$MUNGE/munge.key"
chmod 711 "$MUNGE"   # slurm and the clients (root) reach the socket inside
# foreground munged as the munge user, so that $! is munged's own PID
setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F \
    --key-file="$MUNGE/munge.key" --socket="$MUNGE/munge.socket" --pid-file="$MUNGE/munged.pid" \
    --log-file="$MUNGE/munged.log" --seed-file="$MUNGE/munged.seed" > "$MUNGE/stdout.log" 2>&1 &
MUNGED_PID=$!
for _ in $(seq 1 40); do
    munge -n -S "$MUNGE/munge.socket" 2>/dev/null | unmunge -S "$MUNGE/munge.socket" >/dev/null 2>&1 && break
    sleep 0.25
done

HOST=$(hostname -s)
CPUS=$(getconf _NPROCESSORS_ONLN)   # not nproc: it follows OMP_NUM_THREADS
MEM_MB=$(awk '/MemTotal/ { printf "%d", $2 / 1024 - 512 }' /proc/meminfo)
# free ports for the two daemons (another cluster on this machine keeps its own)
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
export SLURM_CONF=$TMP/slurm/slurm.conf
cat > "$SLURM_CONF" <<CONF
# single-node test cluster written by tests/slurm/run_slurm_tests.sh
ClusterName=genofm-ci
SlurmctldHost=${HOST}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${MUNGE}/munge.socket
StateSaveLocation=${TMP}/slurm/state
SlurmdSpoolDir=${TMP}/slurm/spool
SlurmctldPidFile=${TMP}/slurm/slurmctld.pid
SlurmdPidFile=${TMP}/slurm/slurmd.pid
SlurmctldLogFile=${TMP}/slurm/log/slurmctld.log
SlurmdLogFile=${TMP}/slurm/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=genofm Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -i -f "$SLURM_CONF" > "$TMP/slurm/log/slurmctld.stdout" 2>&1 &
SLURMCTLD_PID=$!
slurmd -D -f "$SLURM_CONF" > "$TMP/slurm/log/slurmd.stdout" 2>&1 &
SLURMD_PID=$!
state=
for _ in $(seq 1 60); do
    state=$(sinfo -h -o %T 2>/dev/null | head -n1)
    [ "$state" = idle ] && break
    sleep 0.5
done
if [ "$state" = idle ] && job_out=$(sbatch --parsable --wait -o "$TMP/slurm/hello.out" --wrap 'echo "job $SLURM_JOB_ID on $(hostname -s)"' 2>&1) &&
    grep -q "^job [0-9]" "$TMP/slurm/hello.out"; then
    pass "cluster up: node $HOST idle ($CPUS CPUs, $MEM_MB MB), a batch job ran ($(cat "$TMP/slurm/hello.out"))"
else
    cat "$TMP/slurm/log/slurmctld.log" "$TMP/slurm/log/slurmd.log" "$MUNGE/munged.log" > "$TMP/daemons.log" 2>/dev/null
    echo "sinfo state: '${state}'; sbatch: ${job_out:-}" >> "$TMP/daemons.log"
    fail "single-node SLURM cluster starts and runs a job" "$TMP/daemons.log"
    finish
fi

# ---------------------------------------------------------------------------------------------
# run_nf DIR ARGS...: the pipeline in its own launch folder; output in DIR/run.log, seconds in DIR/wall_s
run_nf() {
    local dir=$1
    shift
    mkdir -p "$dir"
    local start rc
    start=$(date +%s.%N)
    # in the background, so that a signal to this script is handled at once (the trap stops it)
    (cd "$dir" && exec timeout "$NF_TIMEOUT" nextflow run "$ROOT" -ansi-log false "$@" > run.log 2>&1) &
    NF_PID=$!
    wait "$NF_PID"
    rc=$?
    NF_PID=
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", e - s }' > "$dir/wall_s"
    return $rc
}

# polling as fast as a test cluster allows (the slurm profile polls every 30 s, for real queues)
cat > "$TMP/fast_polling.config" <<'CONFIG'
executor {
    pollInterval      = '1 sec'
    queueStatInterval = '2 sec'
    submitRateLimit   = '100/1s'
}
CONFIG
DATA_ARGS=(--max_per_class "$MAX_PER_CLASS" --shard_size "$SHARD_SIZE" --outdir out)
SLURM_ARGS=(-profile test,slurm -c "$TMP/fast_polling.config" "${DATA_ARGS[@]}")

# column -> value of a trace (TSV with header) as "process<TAB>native_id<TAB>status" lines
trace_rows() {
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                { print $col["process"] "\t" $col["native_id"] "\t" $col["status"] }' "$1"
}

# metrics_equal A.tsv B.tsv: every metric of every model equal (printed difference otherwise)
metrics_equal() {
    python3 - "$1" "$2" <<'PY'
import csv
import sys

def read(path):
    with open(path) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {r["name"]: r for r in rows}

a, b = read(sys.argv[1]), read(sys.argv[2])
if not a or a.keys() != b.keys():
    print(f"models differ: {sorted(a)} vs {sorted(b)}")
    sys.exit(1)
differences = []
for key, row in a.items():
    for column, value in row.items():
        if column in ("model", "path", "model_dir"):
            continue
        if b[key].get(column) != value:
            differences.append(f"{key} {column}: {value} vs {b[key].get(column)}")
print("\n".join(differences) or f"{len(a)} models, all columns equal")
sys.exit(1 if differences else 0)
PY
}

echo "== 2. the test profile (${MAX_PER_CLASS} peaks per class, shards of ${SHARD_SIZE}) locally, then under SLURM"
LOCAL=$TMP/local
SLURM=$TMP/slurm_run
if run_nf "$LOCAL" -profile test "${DATA_ARGS[@]}"; then
    pass "local run completes ($(cat "$LOCAL/wall_s") s)"
else
    fail "local run" "$LOCAL/run.log"
fi
if run_nf "$SLURM" "${SLURM_ARGS[@]}"; then
    pass "SLURM run completes ($(cat "$SLURM/wall_s") s)"
    slurm_ok=true
else
    fail "SLURM run" "$SLURM/run.log"
    slurm_ok=false
fi
echo "wall time: local $(cat "$LOCAL/wall_s") s; SLURM $(cat "$SLURM/wall_s") s (same data and settings)"

# ---------------------------------------------------------------------------------------------
echo "== 3. every task of the SLURM run was a SLURM job"
trace=$SLURM/out/pipeline_info/execution_trace_$(ls "$SLURM/out/pipeline_info" 2>/dev/null | sed -n 's/^execution_trace_\(.*\)\.txt$/\1/p' | head -n1).txt
if [ "$slurm_ok" = true ] && [ -f "$trace" ]; then
    trace_rows "$trace" > "$TMP/slurm_trace.tsv"
    n_tasks=$(wc -l < "$TMP/slurm_trace.tsv")
    n_jobs=$(awk -F'\t' '$2 ~ /^[0-9]+$/ && $3 == "COMPLETED"' "$TMP/slurm_trace.tsv" | wc -l)
    n_distinct=$(cut -f2 "$TMP/slurm_trace.tsv" | sort -u | wc -l)
    n_submitted=$(grep -c '\[SLURM\] submitted process' "$SLURM/.nextflow.log")
    if [ "$n_tasks" -gt 0 ] && [ "$n_jobs" = "$n_tasks" ] && [ "$n_distinct" = "$n_tasks" ] && [ "$n_submitted" = "$n_tasks" ]; then
        pass "all $n_tasks tasks COMPLETED as SLURM jobs, each with its own job id ($n_submitted sbatch submissions in .nextflow.log)"
    else
        fail "tasks as SLURM jobs: $n_jobs of $n_tasks completed with a job id, $n_distinct distinct ids, $n_submitted submissions" "$TMP/slurm_trace.tsv"
    fi
    shard_jobs=$(awk -F'\t' '$1 ~ /GENOFM_EMBED$/ && $2 ~ /^[0-9]+$/' "$TMP/slurm_trace.tsv" | cut -f2 | sort -u | wc -l)
    expected_shards=$(( 2 * ( (2 * MAX_PER_CLASS + SHARD_SIZE - 1) / SHARD_SIZE ) ))
    if [ "$shard_jobs" -ge 4 ]; then
        pass "embedding shards ran as $shard_jobs separate SLURM jobs (kmer and spliceai; up to $expected_shards for $((2 * MAX_PER_CLASS)) rows)"
    else
        fail "embedding shards as separate SLURM jobs: $shard_jobs" "$TMP/slurm_trace.tsv"
    fi
else
    fail "SLURM run trace ($trace)" "$SLURM/run.log"
fi

# ---------------------------------------------------------------------------------------------
echo "== 4. SLURM metrics equal the local run's"
if metrics_equal "$LOCAL/out/comparison/comparison.tsv" "$SLURM/out/comparison/comparison.tsv" > "$TMP/metrics_diff.txt" 2>&1; then
    pass "comparison.tsv: $(cat "$TMP/metrics_diff.txt")"
else
    fail "SLURM metrics equal the local run's" "$TMP/metrics_diff.txt"
fi

# ---------------------------------------------------------------------------------------------
echo "== 5. a SLURM run killed while embedding, then -resume"
KILLED=$TMP/killed
mkdir -p "$KILLED"
(cd "$KILLED" && exec timeout "$NF_TIMEOUT" nextflow run "$ROOT" -ansi-log false "${SLURM_ARGS[@]}" > run.log 2>&1) &
NF_PID=$!
# kill once an embedding shard has finished and others are still to come
embedded=0
for _ in $(seq 1 600); do
    embedded=$(grep -c 'Task completed > .*name: GENOFM:EMBED_SHARDED:GENOFM_EMBED' "$KILLED/.nextflow.log" 2>/dev/null)
    [ "${embedded:-0}" -ge 1 ] && break
    kill -0 "$NF_PID" 2>/dev/null || break
    sleep 1
done
if kill -0 "$NF_PID" 2>/dev/null && [ "${embedded:-0}" -ge 1 ]; then
    stop_pid "$NF_PID" nextflow
    NF_PID=
    left=
    for _ in $(seq 1 60); do
        left=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
        [ -z "$left" ] && break
        sleep 0.5
    done
    if [ -z "$left" ]; then
        pass "killed after $embedded embedding shard(s): Nextflow cancelled its SLURM jobs (queue empty)"
    else
        fail "killed run left SLURM jobs behind: $left" "$KILLED/run.log"
    fi
    if run_nf "$KILLED" "${SLURM_ARGS[@]}" -resume; then
        rtrace=$(ls -t "$KILLED"/out/pipeline_info/execution_trace_*.txt | head -n1)
        trace_rows "$rtrace" > "$TMP/resume_trace.tsv"
        cached=$(awk -F'\t' '$3 == "CACHED"' "$TMP/resume_trace.tsv" | wc -l)
        ran=$(awk -F'\t' '$3 == "COMPLETED" && $2 ~ /^[0-9]+$/' "$TMP/resume_trace.tsv" | wc -l)
        total=$(wc -l < "$TMP/resume_trace.tsv")
        if [ "$cached" -ge 2 ] && [ "$ran" -ge 1 ] && [ $((cached + ran)) = "$total" ]; then
            pass "-resume finishes it ($(cat "$KILLED/wall_s") s): $cached tasks from the cache, $ran new SLURM jobs"
        else
            fail "-resume: $cached cached, $ran new SLURM jobs, $total tasks" "$TMP/resume_trace.tsv"
        fi
        if metrics_equal "$LOCAL/out/comparison/comparison.tsv" "$KILLED/out/comparison/comparison.tsv" > "$TMP/resume_diff.txt" 2>&1; then
            pass "resumed run's metrics equal the local run's"
        else
            fail "resumed run's metrics equal the local run's" "$TMP/resume_diff.txt"
        fi
    else
        fail "-resume of the killed run" "$KILLED/run.log"
    fi
else
    fail "SLURM run to kill (no embedding shard finished, or it ended first)" "$KILLED/run.log"
fi

finish
