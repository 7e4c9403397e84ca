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
    tuple val("${task.process}"), eval('genofm --versions'), emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def shards = embeddings instanceof List ? embeddings : [embeddings]
    def source_args = (shards.collect { shard -> "--embeddings ${shard}" } + (weights ? ["--weights ${weights}"] : [])).join(' ')
    """
    export OMP_NUM_THREADS=${task.cpus}
    genofm-interpret model \\
        ${model} \\
        --dataset ${dataset} \\
        ${source_args} \\
        --output ${prefix} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    touch ${prefix}/features.tsv ${prefix}/top_features.png ${prefix}/report.html
    """
}
