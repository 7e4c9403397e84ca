#!/usr/bin/env bash
# Builds genofm's container images from containers/Containerfile, offline from host-side wheels.
#
#   containers/build.sh [--target cpu|cuda|all] [--registry REGISTRY] [--name NAME] [--tag TAG]
#                       [--base BASE_IMAGE] [--engine podman|docker] [--no-cache] [--push]
#
# Tags follow the pipeline's params: ${registry}/${name}:${tag} (CPU) and ${registry}/${name}:${tag}-cuda
# (GPU). Defaults: --target cpu, --registry localhost, --name genofm, --tag the package version,
# --base docker.io/library/debian:bookworm-slim, --engine podman when installed, else docker.
# --no-cache rebuilds every layer (e.g. to pick up Debian security updates).
# Examples:
#   containers/build.sh --target all                                   # localhost/genofm:0.1.0{,-cuda}
#   containers/build.sh --target all --registry ghcr.io/genofm --push  # publish
#   containers/build.sh --base localhost/debian-base:bookworm          # no registry reachable
# The wheels come from containers/download_wheels.sh (cached in $GENOFM_CACHE); layers are cached,
# so a rebuild after a source change only re-installs genofm's own wheel. Prints, per image, the
# seconds the build took and the image size.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-2}"; }
log() { printf '[genofm build] %s\n' "$*" >&2; }

version=$(bash "$ROOT/scripts/version.sh")
target=cpu registry=localhost name=genofm tag=$version push=false
nocache=()
base=docker.io/library/debian:bookworm-slim
engine=$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)
while [ $# -gt 0 ]; do
    case $1 in
        --target) target=$2; shift 2 ;;
        --registry) registry=${2%/}; shift 2 ;;
        --name) name=$2; shift 2 ;;
        --tag) tag=$2; shift 2 ;;
        --base) base=$2; shift 2 ;;
        --engine) engine=$2; shift 2 ;;
        --push) push=true; shift ;;
        --no-cache) nocache=(--no-cache); shift ;;
        -h|--help) usage 0 ;;
        *) log "error: unknown option $1"; usage ;;
    esac
done
case $target in
    cpu) targets=(cpu) ;;
    cuda) targets=(cuda) ;;
    all) targets=(cpu cuda) ;;
    *) log "error: --target must be cpu, cuda or all (got $target)"; exit 2 ;;
esac
command -v "$engine" >/dev/null 2>&1 || { log "error: $engine not found; install podman or docker"; exit 2; }

avail_gb=$(df -Pk "${GENOFM_CACHE:-$HOME}" | awk 'NR==2 {printf "%d", $4/1048576}')
if [ "$avail_gb" -lt 20 ]; then
    log "warning: only ${avail_gb} GB free; a first build needs ~20 GB (wheels, layers, images)"
fi

wheels=$(bash "$ROOT/containers/download_wheels.sh")
revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
source_url=$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)
case $source_url in https://*) ;; *) source_url=https://github.com/genofm/genofm ;; esac

common=(-f "$ROOT/containers/Containerfile"
        --build-arg "BASE_IMAGE=$base"
        --build-arg "GENOFM_VERSION=$version"
        --build-arg "VCS_REF=$revision"
        --build-arg "SOURCE_URL=$source_url"
        --build-context "wheels=$wheels"
        "${nocache[@]}")
if [ "$engine" = podman ]; then
    # --network host: apt-get inside the build reaches Debian's mirror the way the host does
    build=(podman build --layers --network host --ignorefile "$ROOT/containers/Containerfile.dockerignore")
else
    build=(docker buildx build --load)
fi

for t in "${targets[@]}"; do
    image=$registry/$name:$tag
    [ "$t" = cuda ] && image=$image-cuda
    log "building $image (target $t, base $base)"
    start=$(date +%s)
    "${build[@]}" "${common[@]}" --target "$t" -t "$image" "$ROOT" >&2
    seconds=$(( $(date +%s) - start ))
    size=$("$engine" image inspect --format '{{.Size}}' "$image" | awk '{printf "%.2f GB", $1/1e9}')
    log "built $image in ${seconds}s, $size"
    echo "$image build_seconds=$seconds size=\"$size\""
    if [ "$push" = true ]; then
        log "pushing $image"
        "$engine" push "$image" >&2
    fi
done
