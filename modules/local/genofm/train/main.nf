process GENOFM_TRAIN {
    tag "${meta.id}"
    label 'process_medium'

    input:
    // meta.head: the head to fit; embeddings: every shard of the dataset for meta.backbone
    tuple val(meta), path(dataset), path(embeddings, stageAs: 'embeddings/*')

    output:
    tuple val(meta), path("${prefix}", type: 'dir')   , emit: model
    tuple val(meta), path("${prefix}/metrics.json")    , emit: metrics
    tuple val("${task.process}"), eval('genofm --versions'), emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def shards = embeddings instanceof List ? embeddings : [embeddings]
    def embedding_args = shards.collect { shard -> "--embeddings ${shard}" }.join(' ')
    """
    export OMP_NUM_THREADS=${task.cpus}
    genofm-train \\
        ${dataset} \\
        ${embedding_args} \\
        --head ${meta.head} \\
        --threads ${task.cpus} \\
        --output ${prefix} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    touch ${prefix}/model.json ${prefix}/model.safetensors ${prefix}/test_predictions.tsv ${prefix}/roc_curve.png ${prefix}/pr_curve.png
    echo '{}' > ${prefix}/metrics.json
    """
}
