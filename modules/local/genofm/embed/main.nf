process GENOFM_EMBED {
    tag "${meta.id}"
    label 'process_gpu'

    input:
    // meta: backbone, shard_index (0-based), shard_count; weights: the backbone's weights or []
    tuple val(meta), path(dataset), path(weights, stageAs: 'weights/*')

    output:
    tuple val(meta), path("${prefix}.h5"), emit: embeddings
    tuple val("${task.process}"), eval('genofm --versions'), emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def weights_arg = weights ? "--weights ${weights}" : ''
    def shard_args = (meta.shard_count ?: 1) > 1 ? "--shard-index ${meta.shard_index} --shard-count ${meta.shard_count}" : ''
    // the pipeline (gpu profile) sets the accelerator; the module only follows it
    def device = task.accelerator ? 'cuda' : 'cpu'
    """
    export OMP_NUM_THREADS=${task.cpus}
    genofm-embed \\
        ${dataset} \\
        --backbone ${meta.backbone} \\
        ${weights_arg} \\
        --device ${device} \\
        --threads ${task.cpus} \\
        ${shard_args} \\
        --output ${prefix}.h5 \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.h5
    """
}
