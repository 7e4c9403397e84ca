process GENOFM_TRAIN {
    tag "${meta.id}"
    label 'process_medium'

    input:
    // a head on embeddings: meta.head, embeddings = all shards, weights = []
    // fine-tuning (meta.finetune): embeddings = [], weights = the backbone's weights
    tuple val(meta), path(dataset), path(embeddings, stageAs: 'embeddings/*'), path(weights, stageAs: 'weights/*')

    output:
    tuple val(meta), path("${prefix}", type: 'dir')   , emit: model
    tuple val(meta), path("${prefix}/metrics.json")    , emit: metrics
    path "versions.yml"                                , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def shards = embeddings instanceof List ? embeddings : [embeddings]
    def mode_args = meta.finetune
        ? "--finetune ${meta.backbone} --weights ${weights} --device ${task.accelerator ? 'cuda' : 'cpu'}"
        : shards.collect { "--embeddings ${it}" }.join(' ') + " --head ${meta.head}"
    """
    export OMP_NUM_THREADS=${task.cpus}
    genofm-train \\
        ${dataset} \\
        ${mode_args} \\
        --output ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        genofm: \$(genofm-train --version 2>&1 | sed 's/^genofm //')
        python: \$(python3 -c 'import platform; print(platform.python_version())')
        torch: \$(python3 -c 'import importlib.metadata as m; print(m.version("torch"))')
        scikit-learn: \$(python3 -c 'import importlib.metadata as m; print(m.version("scikit-learn"))')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    touch ${prefix}/model.json ${prefix}/model.safetensors ${prefix}/test_predictions.tsv ${prefix}/roc_curve.png ${prefix}/pr_curve.png
    echo '{}' > ${prefix}/metrics.json

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        genofm: \$(genofm-train --version 2>&1 | sed 's/^genofm //')
        python: \$(python3 -c 'import platform; print(platform.python_version())')
        torch: \$(python3 -c 'import importlib.metadata as m; print(m.version("torch"))')
        scikit-learn: \$(python3 -c 'import importlib.metadata as m; print(m.version("scikit-learn"))')
    END_VERSIONS
    """
}
