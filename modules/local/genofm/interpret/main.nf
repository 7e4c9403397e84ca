process GENOFM_INTERPRET {
    tag "${meta.id}"
    label 'process_low'

    input:
    // embeddings: the dataset's shards (head models) or []; weights: the backbone's weights or []
    // (fine-tuned models, and explainers that run the backbone: Sei classes, attention maps)
    tuple val(meta), path(dataset), path(model, stageAs: 'model/*'), path(embeddings, stageAs: 'embeddings/*'), path(weights, stageAs: 'weights/*')

    output:
    tuple val(meta), path("${prefix}", type: 'dir')     , emit: interpretation
    tuple val(meta), path("${prefix}/report.html")       , emit: report
    path "versions.yml"                                  , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def shards = embeddings instanceof List ? embeddings : [embeddings]
    def source_args = (shards.collect { "--embeddings ${it}" } + (weights ? ["--weights ${weights}"] : [])).join(' ')
    """
    export OMP_NUM_THREADS=${task.cpus}
    genofm-interpret model \\
        ${model} \\
        --dataset ${dataset} \\
        ${source_args} \\
        --output ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        genofm: \$(genofm-interpret --version 2>&1 | sed 's/^genofm //')
        python: \$(python3 -c 'import platform; print(platform.python_version())')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    touch ${prefix}/features.tsv ${prefix}/top_features.png ${prefix}/report.html

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        genofm: \$(genofm-interpret --version 2>&1 | sed 's/^genofm //')
        python: \$(python3 -c 'import platform; print(platform.python_version())')
    END_VERSIONS
    """
}
