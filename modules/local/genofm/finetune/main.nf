process GENOFM_FINETUNE {
    tag "${meta.id}"
    label 'process_gpu'

    input:
    // meta.backbone: the backbone trained end to end; weights: its weights folder, or [] for a
    // backbone trained from scratch
    tuple val(meta), path(dataset), path(weights, stageAs: 'weights/*')

    output:
    tuple val(meta), path("${prefix}", type: 'dir')   , emit: model
    tuple val(meta), path("${prefix}/metrics.json")    , emit: metrics
    tuple val("${task.process}"), eval('genofm --versions'), emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def weights_arg = weights ? "--weights ${weights}" : ''
    // the pipeline (gpu profile, label process_gpu) sets the accelerator; the module only follows it
    def device = task.accelerator ? 'cuda' : 'cpu'
    """
    export OMP_NUM_THREADS=${task.cpus}
    genofm-train \\
        ${dataset} \\
        --finetune ${meta.backbone} \\
        ${weights_arg} \\
        --device ${device} \\
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
