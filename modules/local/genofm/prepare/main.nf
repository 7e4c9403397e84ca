process GENOFM_PREPARE {
    tag "${meta.id}"
    label 'process_low'

    input:
    // meta.labels[i] is the class of every sequence in inputs[i] ('' = labels inside the file);
    // meta.cell_types[i] its cell type ('' = none), given as LABEL@CELL=PATH
    tuple val(meta), path(inputs, stageAs: 'input*/*'), path(genome, stageAs: 'genome/*')
    // optional epigenomic tracks: the sheet and the files it names ([] when not used)
    path(tracks_sheet, stageAs: 'tracks_sheet/*')
    path(track_files, stageAs: 'track_files/*')

    output:
    tuple val(meta), path("${prefix}.parquet")     , emit: dataset
    tuple val(meta), path("${prefix}.summary.json"), emit: summary
    tuple val(meta), path("${prefix}.tracks.h5")   , emit: tracks, optional: true
    tuple val("${task.process}"), eval('genofm --versions'), emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def files = inputs instanceof List ? inputs : [inputs]
    def labels = meta.labels ?: []
    def cell_types = meta.cell_types ?: []
    def sources = (0..<files.size())
        .collect { i -> [files[i], labels[i] ?: '', cell_types[i] ?: ''] }
        .collect { f, label, cell -> label ? (cell ? "${label}@${cell}=${f}" : "${label}=${f}") : "${f}" }
        .join(' ')
    def genome_arg = genome ? "--genome ${genome}" : ''
    def tracks_arg = tracks_sheet ? "--tracks ${tracks_sheet} --tracks-dir track_files" : ''  // writes ${prefix}.tracks.h5 next to the dataset
    """
    genofm-prepare \\
        ${sources} \\
        ${genome_arg} \\
        ${tracks_arg} \\
        --output ${prefix}.parquet \\
        --summary ${prefix}.summary.json \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.parquet
    echo '{"rows": 0}' > ${prefix}.summary.json
    ${tracks_sheet ? "touch ${prefix}.tracks.h5" : ''}
    """
}
