process GENOFM_COMPARE {
    tag "${meta.id}"
    label 'process_single'

    input:
    // every trained model folder of the run (heads and fine-tuned models, all datasets) and,
    // in the same order, the dataset name of each
    tuple val(meta), path(models, stageAs: 'models/*'), val(datasets)

    output:
    tuple val(meta), path("${prefix}/comparison.tsv") , emit: tsv
    tuple val(meta), path("${prefix}/comparison.html"), emit: html
    tuple val("${task.process}"), eval('genofm --versions'), emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    def dirs = (models instanceof List ? models : [models]).join(' ')
    def names = datasets.collect { name -> "--name ${name}" }.join(' ')
    """
    genofm-interpret compare \\
        ${dirs} \\
        ${names} \\
        --output ${prefix} \\
        ${args}
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}
    printf 'dataset\\tbackbone\\thead\\n' > ${prefix}/comparison.tsv
    touch ${prefix}/comparison.html
    """
}
