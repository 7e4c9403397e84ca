# Source this to use the set-up environment: genofm's venv and Nextflow on PATH.
GENOFM_CACHE=${GENOFM_CACHE:-$HOME/.cache/genofm}
export GENOFM_CACHE
export PATH="$GENOFM_CACHE/venv/bin:$GENOFM_CACHE/nextflow/bin:$PATH"
export PYTHONNOUSERSITE=1
