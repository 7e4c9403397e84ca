#!/usr/bin/env bash
# Provides a real Nextflow on machines that cannot reach Nextflow's download site.
#
# Nextflow's own launcher fetches its release jar from a site that air-gapped machines (and this
# project's CI) cannot reach, but the same code is published on Maven Central as ordinary
# artifacts. This script therefore:
#   - keeps a `nextflow` already on PATH (prints its version; nothing else to do), or
#   - resolves io.nextflow:nextflow + nf-commons + nf-httpfs and all their dependencies with Maven
#     (scripts/nextflow/pom.xml) into $GENOFM_CACHE/nextflow/lib, and
#   - writes the launcher $GENOFM_CACHE/nextflow/bin/nextflow, which starts nextflow.cli.Launcher
#     with the JVM options of Nextflow's official launcher, NXF_HOME inside the cache and
#     NXF_OFFLINE=true unless the caller set it (so no plugin or update check touches the network).
# Idempotent: a second run only checks a stamp (pom hash) and returns in well under a second.
# Needs Java 17+ and Maven (Debian: apt-get install -y openjdk-17-jre-headless maven).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GENOFM_CACHE:-$HOME/.cache/genofm}
NXF_DIR=$CACHE/nextflow
POM=$ROOT/scripts/nextflow/pom.xml
LAUNCHER=$NXF_DIR/bin/nextflow

log() { printf '[genofm nextflow] %s\n' "$*" >&2; }

# A nextflow of the user's own (not ours) wins: sites pin their own versions.
existing=$(command -v nextflow 2>/dev/null || true)
if [ -n "$existing" ] && [ "$existing" != "$LAUNCHER" ]; then
    log "using the nextflow already on PATH: $existing"
    "$existing" -version 2>/dev/null | grep -i version | head -n1 >&2 || true
    exit 0
fi

stamp=$(sha256sum "$POM" | cut -c1-16)
if [ -x "$LAUNCHER" ] && [ "$(cat "$NXF_DIR/.stamp" 2>/dev/null)" = "$stamp" ]; then
    log "nextflow ready: $LAUNCHER"
    exit 0
fi

# --- prerequisites: a JVM (17-23 supported by Nextflow 24.10) and Maven --------------------------
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]} with apt-get"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        log "error: Nextflow needs ${missing[*]}; install them (e.g. apt-get install ${missing[*]}) and re-run"
        exit 1
    fi
fi
java_major=$(java -version 2>&1 | sed -n 's/.* version "\([0-9]*\).*/\1/p' | head -n1)
if [ -n "$java_major" ] && [ "$java_major" -lt 17 ]; then
    log "error: Nextflow 24.10 needs Java 17 or newer (found $java_major); install openjdk-17 and re-run"
    exit 1
fi

# --- resolve the jars into a fresh folder, then swap it in (no half-filled lib/ on failure) ------
mkdir -p "$NXF_DIR/bin"
tmp_lib=$(mktemp -d "$NXF_DIR/lib.XXXXXX")
trap 'rm -rf "$tmp_lib"' EXIT
log "resolving Nextflow and its dependencies from Maven Central (first run: ~40 MB)"
if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp_lib" > "$tmp_lib.log" 2>&1; then
    cat "$tmp_lib.log" >&2
    rm -f "$tmp_lib.log"
    log "error: Maven could not resolve Nextflow (is Maven Central reachable, or ~/.m2 filled?)"
    exit 1
fi
rm -f "$tmp_lib.log"
ls "$tmp_lib"/nextflow-*.jar >/dev/null
rm -rf "$NXF_DIR/lib"
mv "$tmp_lib" "$NXF_DIR/lib"
trap - EXIT

# --- the launcher ------------------------------------------------------------------------------
tmp_launcher=$(mktemp "$NXF_DIR/bin/.nextflow.XXXXXX")
cat > "$tmp_launcher" <<'LAUNCHER_EOF'
#!/usr/bin/env bash
# Nextflow launcher written by genofm's scripts/install_nextflow.sh: runs the jars resolved from
# Maven Central with the JVM options of Nextflow's official launcher. Offline by default.
set -e
NXF_BASE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export NXF_HOME=${NXF_HOME:-$NXF_BASE/home}
export NXF_OFFLINE=${NXF_OFFLINE:-true}
export NXF_CLI="$0 $*"
export NXF_ORG=${NXF_ORG:-nextflow-io}
JAVA_CMD=${NXF_JAVA_HOME:+$NXF_JAVA_HOME/bin/java}
JAVA_CMD=${JAVA_CMD:-${JAVA_HOME:+$JAVA_HOME/bin/java}}
JAVA_CMD=${JAVA_CMD:-java}
opts=(-Dfile.encoding=UTF-8 -Djava.awt.headless=true -Dcom.sun.security.enableAIAcaIssuers=true)
for pkg in java.lang java.io java.nio java.net java.util java.util.concurrent.locks \
           java.util.concurrent.atomic java.nio.file.spi sun.nio.ch sun.nio.fs \
           sun.net.www.protocol.http sun.net.www.protocol.https sun.net.www.protocol.ftp \
           sun.net.www.protocol.file jdk.internal.misc jdk.internal.vm java.util.regex; do
    opts+=("--add-opens=java.base/$pkg=ALL-UNNAMED")
done
# short-lived commands start faster with the C1 compiler only (as the official launcher does)
case " $* " in
    *" run "*|*" kuberun "*) ;;
    *) opts+=(-XX:+TieredCompilation -XX:TieredStopAtLevel=1) ;;
esac
# NXF_OPTS: extra JVM options (e.g. -Xmx2g), as with the official launcher
# shellcheck disable=SC2086
exec "$JAVA_CMD" "${opts[@]}" ${NXF_OPTS:-} -cp "$NXF_BASE/lib/*" nextflow.cli.Launcher "$@"
LAUNCHER_EOF
chmod 755 "$tmp_launcher"
mv "$tmp_launcher" "$LAUNCHER"
echo "$stamp" > "$NXF_DIR/.stamp"
log "installed: $LAUNCHER"
"$LAUNCHER" -version 2>/dev/null | grep -i version | head -n1 >&2 || true
