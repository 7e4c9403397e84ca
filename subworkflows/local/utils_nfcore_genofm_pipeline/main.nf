/*
 * Start and end of a genofm run, in the shape of nf-core's pipeline utilities:
 * PIPELINE_INITIALISATION answers --help/--version, checks every parameter and the samplesheet
 * (all problems reported together, before any task starts) and emits one item per dataset;
 * PIPELINE_COMPLETION reports where the results are.
 */

include { checkParametersAgainstSchema; readSamplesheetAgainstSchema; schemaHelp; loadJsonSchema; schemaParameters } from '../utils_schema'

def csvList(value) {
    return value ? value.toString().tokenize(',').collect { item -> item.trim() }.findAll { item -> item }.unique() : []
}

// weights folder of a backbone as a staged input, or [] (nf-core's "no file" placeholder): the
// backbones that need weights are those with a --<backbone>_dir parameter
def backboneWeights(String backbone) {
    def name = "${backbone}_dir".toString()
    def dir = params.containsKey(name) ? params[name] : null
    return dir ? file(dir.toString(), checkIfExists: true) : []
}

// problems that need more than one parameter to see
def checkGenofmParameters(Map schemaSpecs) {
    def problems = []
    def needWeights = (csvList(params.backbones) + csvList(params.finetune_backbones)).unique()
    needWeights.findAll { backbone -> schemaSpecs.containsKey("${backbone}_dir".toString()) && !params["${backbone}_dir"] }.each { backbone ->
        def what = (schemaSpecs["${backbone}_dir"]?.description ?: 'the folder with its weights').replaceAll(/\.$/, '')
        problems << "--backbones/--finetune_backbones: ${backbone} needs --${backbone}_dir: ${what}".toString()
    }
    if (params.backbones != null && !csvList(params.backbones)) {
        problems << "--backbones: give at least one backbone, e.g. --backbones kmer".toString()
    }
    return problems
}

def intervalFile(String path) {
    return path ==~ /(?i).*\.(bed|narrowpeak|gtf)(\.gz)?$/
}

/*
 * Groups samplesheet rows into datasets and checks what the schema cannot: interval files need a
 * genome, one genome per dataset, no file twice, at least two classes when every row is labelled.
 */
def groupDatasets(List rows, String sheetName) {
    def problems = []
    def datasets = []
    rows.groupBy { row -> row.dataset }.each { dataset, group ->
        def where = "${sheetName} dataset '${dataset}'"
        group.findAll { row -> intervalFile(row.file) && !row.genome }.each { row ->
            problems << "${sheetName} line ${row._line}: ${row.file} holds intervals; fill the genome column with the reference FASTA".toString()
        }
        def genomes = group.collect { row -> row.genome ?: '' }.findAll { genome -> genome }.unique()
        if (genomes.size() > 1) {
            problems << "${where}: rows name different genomes (${genomes.join(', ')}); one genome per dataset".toString()
        }
        def paths = group.collect { row -> row._file_path?.toString() }
        def repeated = paths.findAll { p -> paths.count(p) > 1 }.unique()
        if (repeated) {
            problems << "${where}: file(s) ${repeated.join(', ')} listed twice".toString()
        }
        def labels = group.collect { row -> row.label ?: '' }
        if (labels.every { label -> label } && labels.unique(false).size() < 2) {
            problems << "${where}: only one class (${labels[0]}); add rows for the other class(es), or leave label empty for files that carry labels".toString()
        }
        def genomeRow = group.find { row -> row.genome }
        datasets << [
            [id: dataset, dataset: dataset, labels: labels],
            group.collect { row -> row._file_path },
            genomeRow ? genomeRow._genome_path : [],
        ]
    }
    return [datasets, problems]
}

// parameters that differ from the schema defaults, for the log and pipeline_info
def paramsSummary(Map schemaSpecs) {
    def summary = [:]
    schemaSpecs.each { name, spec ->
        def value = params[name]
        if (value != null && value != spec.default && !(value instanceof Boolean && !value && spec.default == null)) {
            summary[name] = value
        }
    }
    return summary
}

def abortWithProblems(String what, List problems) {
    def text = "${what}:\n" + problems.collect { problem -> "  * ${problem}" }.join('\n') + "\nSee --help and docs/usage.md."
    error(text)
}

def completionMessage(outdir) {
    if (workflow.success) {
        log.info "genofm: completed in ${workflow.duration}; results in ${outdir} " +
            "(comparison/comparison.html, <dataset>/ folders, pipeline_info/)"
    } else {
        log.error "genofm: failed; see the messages above and .nextflow.log (fix, then re-run with -resume)"
    }
}

workflow PIPELINE_INITIALISATION {

    take:
    input           // string: path to the samplesheet
    validate_params // boolean: check params against nextflow_schema.json

    main:
    def schemaPath = "${projectDir}/nextflow_schema.json"
    def specs = schemaParameters(loadJsonSchema(schemaPath))

    if (params.version) {
        log.info "genofm ${workflow.manifest.version}"
        System.exit(0)
    }
    if (params.help || params.help_full) {
        log.info schemaHelp(schemaPath, "nextflow run <genofm folder> -profile <docker|podman|singularity|apptainer> --input samplesheet.csv --outdir results   (quick check: -profile test)", params.help_full as boolean)
        System.exit(0)
    }

    def problems = []
    if (validate_params) {
        def (paramProblems, warnings) = checkParametersAgainstSchema(params, schemaPath)
        warnings.each { warning -> log.warn(warning) }
        problems += paramProblems
    }
    problems += checkGenofmParameters(specs)
    if (problems) {
        abortWithProblems('Invalid parameters', problems)
    }

    def sheet = file(input.toString())
    def relativeTo = params.input_base_dir ? file(params.input_base_dir.toString()) : sheet.parent
    def (rows, sheetProblems) = readSamplesheetAgainstSchema(sheet, "${projectDir}/assets/schema_input.json", relativeTo)
    def (datasets, groupProblems) = sheetProblems ? [[], []] : groupDatasets(rows, sheet.name)
    if (sheetProblems || groupProblems) {
        abortWithProblems("Invalid samplesheet ${sheet}", sheetProblems + groupProblems)
    }

    def changed = paramsSummary(specs)
    log.info "genofm ${workflow.manifest.version}: " +
        "${datasets.size()} dataset(s) (${datasets.collect { dataset -> dataset[0].id }.join(', ')}), " +
        "backbones ${csvList(params.backbones).join(',')}, heads ${csvList(params.head).join(',')}" +
        (params.finetune_backbones ? ", fine-tuning ${csvList(params.finetune_backbones).join(',')}" : '') +
        "\n  parameters: " + changed.collect { k, v -> "--${k} ${v}" }.join(' ')

    emit:
    samplesheet = Channel.fromList(datasets) // [ meta(id, dataset, labels), [files], genome or [] ]
    summary     = Channel.value(changed)      // map: parameters that differ from the defaults
}

workflow PIPELINE_COMPLETION {

    take:
    outdir // string

    main:
    workflow.onComplete {
        completionMessage(outdir)
    }
}
