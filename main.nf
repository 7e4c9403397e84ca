#!/usr/bin/env nextflow
/*
 * genofm: pre-trained genomic models (Sei, SpliceAI, DNABERT-2/-6, GPT-2 DNA, k-mer) as feature
 * extractors and fine-tunable backbones: prepare -> embed -> train -> predict -> interpret ->
 * compare. Every step is a genofm-<tool> command; this layer only wires them. See docs/usage.md.
 */

nextflow.enable.dsl = 2

include { GENOFM                    } from './workflows/genofm'
include { PIPELINE_INITIALISATION   } from './subworkflows/local/utils_nfcore_genofm_pipeline'
include { PIPELINE_COMPLETION       } from './subworkflows/local/utils_nfcore_genofm_pipeline'

workflow {
    // parameters and samplesheet are checked here, before any task is submitted
    PIPELINE_INITIALISATION(params.input, params.validate_params)

    GENOFM(PIPELINE_INITIALISATION.out.samplesheet, PIPELINE_INITIALISATION.out.summary)

    PIPELINE_COMPLETION(params.outdir)
}
