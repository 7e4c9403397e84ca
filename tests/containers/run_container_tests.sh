#!/usr/bin/env bash
# Container tests, run by scripts/test.sh: builds genofm's CPU image with podman on this machine
# and runs the tools and the pipeline inside it.
#   1. set-up (idempotent): podman/runc/debootstrap installed, containers.conf written and used
#      (scripts/container_env.sh), host-side wheels (containers/download_wheels.sh) and a Debian
#      base image made with debootstrap (containers/debian_base.sh; no registry is reachable);
#   2. the CPU image builds (containers/build.sh; cached layers reused), with its OCI labels;
#   3. inside it, with --network none: every tool's --help and `genofm --version`, a non-root
#      user, `ps` for Nextflow, no model weights baked in, no GPU-only packages, and a real
#      genofm-prepare run on the bundled peaks;
#   4. `nextflow run . -profile test,podman --container_registry localhost`: every task runs in the
#      image and publishes the outputs the plain run publishes (the list and file checks come from
#      tests/pipeline/run_pipeline_tests.sh), owned by the user who ran it.
# Prints the time of each phase and the image sizes, then the plain line
# `containers: N passed, N failed`; exits non-zero when anything failed.
#
# Usage: tests/containers/run_container_tests.sh [--cuda] [--no-pipeline]
#   --cuda         also build the CUDA image (+2.5 GB of layers; torch on a GPU is not tested here)
#   --no-pipeline  skip step 4
# Env:   GENOFM_CONTAINER_TEST_DIR  where runs happen (default: a fresh temporary folder, removed
#                                   on success)
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_CUDA=false
RUN_PIPELINE=true
for arg in "$@"; do
    case $arg in
        --cuda) BUILD_CUDA=true ;;
        --no-pipeline) RUN_PIPELINE=false ;;
        *) echo "usage: $0 [--cuda] [--no-pipeline]" >&2; exit 2 ;;
    esac
done

BASE=localhost/debian-base:bookworm
REGISTRY=localhost
VERSION=$(bash "$ROOT/scripts/version.sh")
IMAGE=$REGISTRY/genofm:$VERSION
AUROC_MIN=0.8

# pass/fail tallies and the output checks of the plain pipeline run, so both suites check the same list
# shellcheck source=tests/pipeline/checks.sh
source "$ROOT/tests/pipeline/checks.sh"
finish() {
    finish_suite containers
    exit
}
# timed NAME LOG CMD...: runs CMD with output to LOG, stores the seconds in secs[NAME]
declare -A secs
timed() {
    local name=$1 log=$2 start rc
    shift 2
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    secs[$name]=$(( $(date +%s) - start ))
    return $rc
}
size_of() { podman image inspect --format '{{.Size}}' "$1" 2>/dev/null | awk '{printf "%.2f GB", $1/1e9}'; }

use_test_dir "${GENOFM_CONTAINER_TEST_DIR:-}" container

# ---------------------------------------------------------------------------------------------
echo "== 1. set-up: podman, wheels, base image"
# shellcheck source=/dev/null
source "$ROOT/scripts/env.sh"
# shellcheck source=/dev/null
if source "$ROOT/scripts/container_env.sh" >"$TMP/setup.log" 2>&1 && podman info >>"$TMP/setup.log" 2>&1; then
    pass "podman $(podman version --format '{{.Client.Version}}') with runtime $(podman info --format '{{.Host.OCIRuntime.Name}}'), CONTAINERS_CONF=$CONTAINERS_CONF"
else
    fail "podman set-up (scripts/container_env.sh)" "$TMP/setup.log"
    finish
fi
echo "      disk before the build: $(df -h --output=avail "$GENOFM_CACHE" | tail -n1 | tr -d ' ') free"
if timed wheels "$TMP/wheels.log" bash "$ROOT/containers/download_wheels.sh"; then
    pass "wheels for the image ready in ${secs[wheels]} s ($(tail -n1 "$TMP/wheels.log"))"
else
    fail "wheel download (containers/download_wheels.sh)" "$TMP/wheels.log"
    finish
fi
if timed base "$TMP/base.log" bash "$ROOT/containers/debian_base.sh" "$BASE"; then
    pass "base image $BASE ready in ${secs[base]} s ($(size_of "$BASE"))"
else
    fail "debootstrap base image (containers/debian_base.sh)" "$TMP/base.log"
    finish
fi

# ---------------------------------------------------------------------------------------------
echo "== 2. build"
targets=(cpu)
[ "$BUILD_CUDA" = true ] && targets+=(cuda)
for target in "${targets[@]}"; do
    image=$IMAGE
    [ "$target" = cuda ] && image=$IMAGE-cuda
    previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    if timed "build_$target" "$TMP/build-$target.log" \
        bash "$ROOT/containers/build.sh" --target "$target" --registry "$REGISTRY" --base "$BASE"; then
        pass "$image built in ${secs[build_$target]} s, $(size_of "$image")"
        # the image this build replaced: drop it unless a container still uses it (its layers
        # shared with the new image stay; the build cache of the dependency stages is untouched)
        current=$(podman image inspect --format '{{.Id}}' "$image")
        if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
            podman rmi "$previous" >/dev/null 2>&1 || true
        fi
    else
        fail "podman build of $image (containers/build.sh --target $target)" "$TMP/build-$target.log"
        finish
    fi
done
labels=$(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}} {{index .Labels "org.opencontainers.image.licenses"}} {{index .Labels "org.opencontainers.image.source"}}' "$IMAGE")
if [ "$(echo "$labels" | cut -d' ' -f1)" = "$VERSION" ] && [ "$(echo "$labels" | wc -w)" = 3 ]; then
    pass "OCI labels version, licenses, source: $labels"
else
    fail "OCI labels (got '$labels')"
fi

# ---------------------------------------------------------------------------------------------
echo "== 3. the tools inside the image (--network none)"
in_image() { podman run --rm --network none "$@"; }
start=$(date +%s)
if in_image "$IMAGE" genofm --version >"$TMP/version.log" 2>&1 && grep -qx "genofm $VERSION" "$TMP/version.log"; then
    pass "genofm --version: $(cat "$TMP/version.log")"
else
    fail "genofm --version prints 'genofm $VERSION'" "$TMP/version.log"
fi
# the image must hold the working tree's genofm, not a stale cached layer
digest_py='import hashlib, pathlib, sys
root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__import__("genofm").__file__).parent
h = hashlib.sha256()
for f in sorted(root.rglob("*.py")):
    h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
print(h.hexdigest()[:16])'
here=$(python3 -c "$digest_py" "$ROOT/src/genofm")
inside=$(printf '%s\n' "$digest_py" | in_image -i "$IMAGE" python - 2>&1)
if [ "$here" = "$inside" ]; then
    pass "the image's genofm is this working tree's src/genofm (sha256 of the .py files $here)"
else
    fail "the image's genofm differs from src/genofm (here $here, in the image: $inside)"
fi
helps_ok=true
for tool in genofm genofm-prepare genofm-embed genofm-train genofm-predict genofm-interpret; do
    if ! in_image "$IMAGE" "$tool" --help >"$TMP/help-$tool.log" 2>&1 || ! grep -q "Usage: $tool" "$TMP/help-$tool.log"; then
        fail "$tool --help" "$TMP/help-$tool.log"
        helps_ok=false
    fi
done
[ "$helps_ok" = true ] && pass "--help of genofm, genofm-prepare, -embed, -train, -predict, -interpret"
who=$(in_image "$IMAGE" sh -c 'echo "$(id -u) $(id -un) $(command -v ps) $(command -v bash)"' 2>&1)
if [ "$(echo "$who" | cut -d' ' -f1)" != 0 ] && [ "$(echo "$who" | wc -w)" = 4 ]; then
    pass "runs as a non-root user with ps and bash for Nextflow (uid, user, ps, bash: $who)"
else
    fail "non-root user, ps and bash (got: $who)"
fi
# model weights are staged by the pipeline, never baked in; GPU-only packages stay out of the CPU image
in_image -i "$IMAGE" python - >"$TMP/contents.log" 2>&1 <<'EOF'
import importlib.util, pathlib, sys
weights = {".h5", ".hdf5", ".safetensors", ".pt", ".pth", ".ckpt", ".onnx", ".keras", ".pb"}
found = [str(p) for top in ("/opt", "/home", "/usr/local", "/root") if pathlib.Path(top).exists()
         for p in pathlib.Path(top).rglob("*")
         if p.suffix in weights and p.is_file() and p.stat().st_size > 1_000_000]
gpu_only = [m for m in ("triton", "cuda.bindings") if importlib.util.find_spec(m.split(".")[0]) is not None]
print("weights:", found or "none", "| GPU-only packages:", gpu_only or "none")
sys.exit(1 if found or gpu_only else 0)
EOF
if [ $? = 0 ]; then
    pass "no model weights, no triton/cuda-bindings in the CPU image ($(tail -n1 "$TMP/contents.log"))"
else
    fail "image contents" "$TMP/contents.log"
fi
if [ "$BUILD_CUDA" = true ]; then
    # no GPU here: only that the CUDA image starts and carries the GPU stack (torch on a GPU is
    # checked by hand, see docs/containers.md)
    if in_image "$IMAGE-cuda" sh -c 'genofm --version && python -c "import torch, triton, cuda.bindings; print(\"torch\", torch.__version__, \"CUDA\", torch.version.cuda, \"triton\", triton.__version__)"' \
        >"$TMP/cuda.log" 2>&1; then
        pass "$IMAGE-cuda: $(tr '\n' ' ' <"$TMP/cuda.log")"
    else
        fail "$IMAGE-cuda starts with torch, triton and cuda-bindings" "$TMP/cuda.log"
    fi
fi
janggu=$GENOFM_CACHE/resources/janggu
if in_image -v "$janggu:/data:ro" "$IMAGE" sh -c \
    'cd /tmp && genofm-prepare Oct4=/data/sample.fa MafK=/data/sample2.fa --output ds.parquet --summary summary.json && python -c "import json; s = json.load(open(\"summary.json\")); print(json.dumps(s)[:200])"' \
    >"$TMP/prepare.log" 2>&1; then
    pass "genofm-prepare on the bundled Oct4/MafK peaks inside the image ($(tail -n1 "$TMP/prepare.log" | cut -c1-80)...)"
else
    fail "genofm-prepare inside the image" "$TMP/prepare.log"
fi
secs[tools]=$(( $(date +%s) - start ))

# ---------------------------------------------------------------------------------------------
if [ "$RUN_PIPELINE" = true ]; then
    echo "== 4. nextflow run . -profile test,podman --container_registry localhost"
    RUN=$TMP/podman-run
    rm -rf "$RUN"
    mkdir -p "$RUN"
    # exactly the documented command: the podman profile itself must make the non-root image
    # write the work folder (podman.runOptions, docs/containers.md)
    cd "$RUN" || finish
    timed pipeline "$RUN/run.log" env NXF_ANSI_LOG=false \
        nextflow run "$ROOT" -profile test,podman --container_registry "$REGISTRY" --outdir out
    rc=$?
    cd "$ROOT" || finish
    if [ "$rc" = 0 ]; then
        pass "pipeline test profile in podman completes in ${secs[pipeline]} s"
        expect_files "$RUN/out" "podman run" $(test_profile_outputs)
        n_tasks=$(grep -c 'Submitted process' "$RUN/run.log")
        n_podman=$(grep -l "podman run .* $IMAGE " "$RUN"/work/*/*/.command.run 2>/dev/null | wc -l)
        if [ "$n_tasks" -gt 0 ] && [ "$n_podman" = "$n_tasks" ]; then
            pass "all $n_tasks tasks ran in $IMAGE"
        else
            fail "tasks run in $IMAGE ($n_podman of $n_tasks .command.run files start it)" "$RUN/run.log"
        fi
        foreign=$(find "$RUN/out" "$RUN/work" ! -uid "$(id -u)" 2>/dev/null | head -n 3)
        if [ -z "$foreign" ]; then
            pass "every output and work file is owned by uid $(id -u), who launched Nextflow"
        else
            fail "files owned by another uid: $foreign"
        fi
        auroc=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
                            $col["backbone"] == "kmer" && $col["head"] == "logreg" { print $col["auroc"] }' \
                    "$RUN/out/comparison/comparison.tsv" 2>/dev/null)
        if [ -n "$auroc" ] && awk -v a="$auroc" -v m="$AUROC_MIN" 'BEGIN { exit !(a > m) }'; then
            pass "kmer logreg in the container separates Oct4 from MafK: test AUROC $auroc > $AUROC_MIN"
        else
            fail "kmer logreg test AUROC '${auroc:-none}' > $AUROC_MIN in the container run" "$RUN/out/comparison/comparison.tsv"
        fi
    else
        fail "pipeline test profile in podman" "$RUN/run.log"
    fi
fi

# ---------------------------------------------------------------------------------------------
echo
echo "times (s): wheels ${secs[wheels]:-}, base image ${secs[base]:-}, CPU build ${secs[build_cpu]:-}${secs[build_cuda]:+, CUDA build ${secs[build_cuda]}}, tools ${secs[tools]:-}, podman pipeline run ${secs[pipeline]:-n/a}"
echo "sizes: $IMAGE $(size_of "$IMAGE")$([ "$BUILD_CUDA" = true ] && echo ", $IMAGE-cuda $(size_of "$IMAGE-cuda")"), $BASE $(size_of "$BASE")"
echo "disk after the build: $(df -h --output=avail "$GENOFM_CACHE" | tail -n1 | tr -d ' ') free"
finish
