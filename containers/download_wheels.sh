#!/usr/bin/env bash
# Downloads, on the host, every wheel the images install, so that the image build itself never
# talks to PyPI (pip inside a build cannot verify TLS through an inspecting proxy, and air-gapped
# sites build the same way). Prints the wheel folder on stdout.
#
#   containers/download_wheels.sh            -> $GENOFM_CACHE/containers/wheels-cp311
#
# The wheels are for the image's Python (Debian 12: CPython 3.11, glibc 2.36, x86_64), not the
# host's, so any host with pip can prepare them. GENOFM_IMAGE_PYTHON=3.12 (for a base image with
# another Python) changes the target. Re-runs are free while requirements.txt and
# containers/requirements-build.txt are unchanged; after a change only new wheels are fetched and
# the folder is replaced as a whole, so a failed download never leaves a half-updated folder.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GENOFM_CACHE:-$HOME/.cache/genofm}
PYVER=${GENOFM_IMAGE_PYTHON:-3.11}
ABI=cp${PYVER/./}
DEST=$CACHE/containers/wheels-$ABI
PYTHON=${PYTHON:-python3}

log() { printf '[genofm wheels] %s\n' "$*" >&2; }

stamp=$(cat "$ROOT/requirements.txt" "$ROOT/containers/requirements-build.txt" | sha256sum | cut -c1-16)
if [ -f "$DEST/.stamp" ] && [ "$(cat "$DEST/.stamp")" = "$stamp-$ABI" ]; then
    log "wheels up to date in $DEST"
    echo "$DEST"
    exit 0
fi

# pip only takes the exact platform tags it is given: list every manylinux level up to glibc 2.36.
platforms=(--platform manylinux2014_x86_64)
for minor in $(seq 17 36); do
    platforms+=(--platform "manylinux_2_${minor}_x86_64")
done

mkdir -p "$CACHE/containers"
tmp=$(mktemp -d "$CACHE/containers/wheels.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# wheels already downloaded for an earlier lock are copied from the old folder, not fetched again
find_links=()
[ -d "$DEST" ] && find_links=(--find-links "$DEST")
log "downloading wheels for CPython $PYVER into $DEST (first run: ~3 GB, torch and CUDA libraries)"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --dest "$tmp" \
    --only-binary=:all: --implementation cp --python-version "$PYVER" --abi "$ABI" "${platforms[@]}" \
    "${find_links[@]}" \
    -r "$ROOT/requirements.txt" -r "$ROOT/containers/requirements-build.txt" >&2
echo "$stamp-$ABI" >"$tmp/.stamp"
rm -rf "$DEST"
mv "$tmp" "$DEST"
trap - EXIT
log "$(find "$DEST" -name '*.whl' | wc -l) wheels, $(du -sh "$DEST" | cut -f1) in $DEST"
echo "$DEST"
