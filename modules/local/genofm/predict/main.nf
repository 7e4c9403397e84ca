process GENOFM_PREDICT {
    tag "${meta.id}"
    label 'process_low'

    input:
    // a head model needs the dataset's embeddings; a fine-tuned model needs the backbone weights
    tuple val(meta), path(dataset), path(model, stageAs: 'model/*'), path(embeddings, stageAs: 'embeddings/*'), path(weights, stageAs: 'weights/*')

    output:
    tuple val(meta), path("${prefix}.predictions.tsv"), emit: predictions
    tuple val("${task.process}"), eval('genofm --versions'), emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def shards = embeddings instanceof List ? embeddings : [embeddings]
    def source_args = (shards.collect { shard -> "--embeddings ${shard}" } + (weights ? ["--weights ${weights}", "--device ${task.accelerator ? 'cuda' : 'cpu'}"] : [])).join(' ')
    """
    export OMP_NUM_THREADS=${task.cpus}
    genofm-predict \\
        ${dataset} \\
        --model ${model} \\
        ${source_args} \\
        --output ${prefix}.predictions.tsv \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.predictions.tsv
    """
}
