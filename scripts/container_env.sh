# Source this to get a working podman for genofm's container builds and tests:
#   source scripts/container_env.sh
# Installs podman, runc and debootstrap with apt-get when they are missing (root on Debian/Ubuntu
# only; otherwise it says what to install), writes containers/podman/containers.conf to
# $GENOFM_CACHE/containers/containers.conf and exports CONTAINERS_CONF pointing at it.
# Idempotent: a second run only compares two small files. Returns non-zero if podman is unusable.

_genofm_container_env() {
    local root cache conf missing=() tool
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    cache=${GENOFM_CACHE:-$HOME/.cache/genofm}
    for tool in podman runc debootstrap; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            printf '[genofm containers] installing %s with apt-get\n' "${missing[*]}" >&2
            apt-get update -qq >/dev/null &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
                return 1
        else
            printf '[genofm containers] error: missing %s; install them (Debian: apt-get install %s)\n' \
                "${missing[*]}" "${missing[*]}" >&2
            return 1
        fi
    fi
    conf=$cache/containers/containers.conf
    mkdir -p "$cache/containers"
    if ! cmp -s "$root/containers/podman/containers.conf" "$conf" 2>/dev/null; then
        cp "$root/containers/podman/containers.conf" "$conf.tmp" && mv "$conf.tmp" "$conf"
    fi
    export CONTAINERS_CONF=$conf
    export GENOFM_CACHE=$cache
}
_genofm_container_env
