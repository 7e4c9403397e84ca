#!/usr/bin/env bash
# Makes a Debian 12 base image from Debian's own packages, for machines that can reach Debian's
# package mirror but no container registry (this project's CI). The result stands in for
# docker.io/library/debian:bookworm-slim: pass it as the BASE_IMAGE build argument.
#
#   containers/debian_base.sh [IMAGE]     (default localhost/debian-base:bookworm)
#
# Skips everything when IMAGE already exists. Needs root, debootstrap and podman
# (source scripts/container_env.sh first). DEBIAN_MIRROR overrides the mirror, which otherwise is
# the one apt on this machine uses (falling back to deb.debian.org).
set -euo pipefail
IMAGE=${1:-localhost/debian-base:bookworm}
SUITE=bookworm

log() { printf '[genofm base] %s\n' "$*" >&2; }

if podman image exists "$IMAGE"; then
    log "$IMAGE exists; nothing to do"
    exit 0
fi

# The mirror apt already uses here: reachable by definition, and what a local proxy is set up for.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)\/*$/\1/p' | head -n1)
fi
if [ -z "$mirror" ]; then
    mirror=$(sed -n 's/^deb[[:space:]]\+\(http[^[:space:]]*\/debian\)\/*[[:space:]].*/\1/p' \
        /etc/apt/sources.list 2>/dev/null | head -n1)
fi
mirror=${mirror:-http://deb.debian.org/debian}

cache=${GENOFM_CACHE:-$HOME/.cache/genofm}
mkdir -p "$cache/containers"
rootfs=$(mktemp -d "$cache/containers/rootfs.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT

log "debootstrap --variant=minbase $SUITE from $mirror"
debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 20 "$rootfs.log" >&2
    rm -f "$rootfs.log"
    exit 1
}
rm -f "$rootfs.log"

# Same package sources as Debian's official image (security and point updates included), and
# none of debootstrap's downloaded packages or indexes.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

tar -C "$rootfs" --numeric-owner -c . |
    podman import --quiet --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
        --message "debootstrap --variant=minbase $SUITE $mirror" - "$IMAGE" >/dev/null
log "made $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
