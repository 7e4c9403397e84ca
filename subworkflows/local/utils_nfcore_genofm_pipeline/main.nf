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
    def needWeights = (embedBackbones() + csvList(params.finetune_backbones)).unique()
    needWeights.findAll { backbone -> schemaSpecs.containsKey("${backbone}_dir".toString()) && !params["${backbone}_dir"] }.each { backbone ->
        def what = (schemaSpecs["${backbone}_dir"]?.description ?: 'the folder with its weights').replaceAll(/\.$/, '')
        problems << "--backbones/--finetune_backbones: ${backbone} needs --${backbone}_dir: ${what}".toString()
    }
    if (params.backbones != null && !csvList(params.backbones)) {
        problems << "--backbones: give at least one backbone, e.g. --backbones kmer".toString()
    }
    // (the schema's pattern asks for two names; this catches one name given twice)
    if (params.stack && params.stack.toString().contains(',') && csvList(params.stack).size() < 2) {
        problems << "--stack: '${params.stack}' names one backbone twice; a stacked head joins two or more different ones, e.g. --stack kmer,spliceai".toString()
    }
    if (params.test_cells && params.split_mode != 'cell') {
        problems << "--test_cells: only used with --split_mode cell (held-out cell types); add --split_mode cell or drop --test_cells".toString()
    }
    if (params.split_mode == 'cell' && !params.test_cells) {
        problems << "--split_mode cell: give the held-out cell type(s) with --test_cells, e.g. --test_cells HepG2".toString()
    }
    return problems
}

// backbones to embed with: --backbones plus those a --stack names (a stacked head needs each one's embeddings)
def embedBackbones() {
    return (csvList(params.backbones) + csvList(params.stack)).unique()
}

/*
 * (region, cell type) rows: a cell type needs a label (LABEL@CELL=PATH); --split_mode cell needs
 * a cell type on every row, and each --test_cells name among them.
 */
def checkCellTypes(List rows, String sheetName) {
    def problems = []
    rows.findAll { row -> row.cell_type && !row.label }.each { row ->
        problems << "${sheetName} line ${row._line}: cell_type ${row.cell_type} needs a label (the class of the file's regions in that cell type)".toString()
    }
    def cells = rows.collect { row -> row.cell_type ?: '' }.findAll { cell -> cell }.unique()
    if (params.split_mode == 'cell') {
        if (!cells) {
            problems << "--split_mode cell: no row of ${sheetName} has a cell_type; add a cell_type column naming each file's cell type (see docs/usage.md)".toString()
        } else {
            rows.findAll { row -> !row.cell_type }.each { row ->
                problems << "${sheetName} line ${row._line}: --split_mode cell needs a cell_type on every row".toString()
            }
            csvList(params.test_cells).findAll { cell -> !(cell in cells) }.each { cell ->
                problems << "--test_cells: ${cell} is not a cell_type of ${sheetName} (have ${cells.sort().join(', ')})".toString()
            }
        }
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
        // one file may serve several cell types (bound in one, unbound in another), once each
        def paths = group.collect { row -> row._file_path?.toString() + (row.cell_type ? " (cell type ${row.cell_type})" : '') }
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
            [id: dataset, dataset: dataset, labels: labels, cell_types: group.collect { row -> row.cell_type ?: '' }],
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
    groupProblems += sheetProblems ? [] : checkCellTypes(rows, sheet.name)
    if (sheetProblems || groupProblems) {
        abortWithProblems("Invalid samplesheet ${sheet}", sheetProblems + groupProblems)
    }

    def changed = paramsSummary(specs)
    log.info "genofm ${workflow.manifest.version}: " +
        "${datasets.size()} dataset(s) (${datasets.collect { dataset -> dataset[0].id }.join(', ')}), " +
        "backbones ${embedBackbones().join(',')}, heads ${csvList(params.head).join(',')}" +
        (params.stack ? ", stacked ${csvList(params.stack).join('+')}" : '') +
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
