/*
 * prepare -> embed (sharded, per backbone) -> train heads on the embeddings
 *                                           and fine-tune backbones end to end (optional)
 *         -> predict -> interpret -> compare
 */

include { GENOFM_PREPARE                    } from '../modules/local/genofm/prepare/main'
include { EMBED_SHARDED                     } from '../subworkflows/local/embed_sharded/main'
include { GENOFM_TRAIN                      } from '../modules/local/genofm/train/main'
include { GENOFM_FINETUNE                   } from '../modules/local/genofm/finetune/main'
include { GENOFM_PREDICT                    } from '../modules/local/genofm/predict/main'
include { GENOFM_INTERPRET                  } from '../modules/local/genofm/interpret/main'
include { GENOFM_COMPARE                    } from '../modules/local/genofm/compare/main'
include { csvList; backboneWeights; embedBackbones } from '../subworkflows/local/utils_nfcore_genofm_pipeline'

workflow GENOFM {

    take:
    ch_samplesheet // [ meta(id, dataset, labels), [files], genome or [] ]
    params_summary // value channel, map: parameters that differ from the defaults

    main:
    ch_versions = channel.empty()

    // epigenomic tracks (--tracks): the sheet plus every file it names, staged for genofm-prepare
    def tracks_sheet = params.tracks ? file(params.tracks, checkIfExists: true) : []
    def track_files = params.tracks
        ? tracks_sheet.splitCsv(header: true, sep: tracks_sheet.name.endsWith('.csv') ? ',' : '\t')
            .findAll { row -> row.file }
            .collect { row -> row.file.startsWith('/') ? file(row.file) : tracks_sheet.parent.resolve(row.file) }
            .collectMany { track -> [track] + ['.tbi', '.csi'].collect { ext -> file("${track}${ext}") }.findAll { index -> index.exists() } }
        : []
    GENOFM_PREPARE(ch_samplesheet, tracks_sheet, track_files)
    ch_versions = ch_versions.mix(GENOFM_PREPARE.out.versions)
    // downstream steps key on the dataset name only
    ch_dataset = GENOFM_PREPARE.out.dataset.map { meta, pq -> [[id: meta.id], pq] }
    ch_summary = GENOFM_PREPARE.out.summary.map { meta, json -> [[id: meta.id], json] }

    // --- embeddings, then heads on them --------------------------------------------------------
    // --backbones plus any backbone a --stack names
    def backbones = embedBackbones()
    def heads = csvList(params.head)
    EMBED_SHARDED(
        ch_dataset,
        ch_summary,
        channel.fromList(backbones.collect { backbone -> [backbone, backboneWeights(backbone)] }),
        params.shard_size,
        params.shard_count,
    )
    ch_versions = ch_versions.mix(EMBED_SHARDED.out.versions)

    ch_dataset_by_name = ch_dataset.map { meta, pq -> [meta.id, pq] }
    // track features are a backbone of their own ('tracks'); joined sets of backbones get one head
    // on their joined embeddings (genofm-train joins them by id): every sequence backbone with the
    // tracks (the ablation: sequence only, tracks only, both) and the --stack backbones
    def joins = (params.tracks ? backbones.collect { backbone -> [backbone, 'tracks'] } : []) +
        (params.stack ? [csvList(params.stack)] : [])
    ch_single = EMBED_SHARDED.out.embeddings
        .mix(GENOFM_PREPARE.out.tracks.map { meta, h5 -> [[id: "${meta.id}.tracks".toString(), dataset: meta.id, backbone: 'tracks'], [h5]] })
    ch_joined = ch_single
        .filter { _meta, _h5s -> joins }
        .map { meta, h5s -> [meta.dataset, meta.backbone, h5s] }
        .groupTuple(by: 0, size: backbones.size() + (params.tracks ? 1 : 0))
        .flatMap { name, names, h5_lists ->
            def by_backbone = [names, h5_lists].transpose().collectEntries { pair -> [pair[0], pair[1]] }
            joins.collect { join ->
                def backbone = join.join('+')
                [[id: "${name}.${backbone}".toString(), dataset: name, backbone: backbone], join.collectMany { part -> by_backbone[part] }]
            }
        }
    ch_embeddings = ch_single.mix(ch_joined)
    // [ meta, dataset, embedding shards ]: one per dataset x backbone x head
    ch_head_inputs = ch_embeddings
        .map { meta, h5s -> [meta.dataset, meta, h5s] }
        .combine(ch_dataset_by_name, by: 0)
        .flatMap { _name, meta, h5s, pq ->
            heads.collect { head -> [meta + [id: "${meta.id}.${head}".toString(), head: head, finetune: false], pq, h5s] }
        }
    GENOFM_TRAIN(ch_head_inputs)
    ch_versions = ch_versions.mix(GENOFM_TRAIN.out.versions)

    // --- optional end-to-end fine-tuning (label process_gpu) ----------------------------------
    def finetune = csvList(params.finetune_backbones)
    // [ meta, dataset, weights or [] ]: one per dataset x fine-tuned backbone
    ch_finetune_inputs = ch_dataset_by_name
        .combine(channel.fromList(finetune.collect { backbone -> [backbone, backboneWeights(backbone)] }))
        .map { name, pq, backbone, weights ->
            [[id: "${name}.${backbone}.finetune".toString(), dataset: name, backbone: backbone, head: 'finetune', finetune: true], pq, weights]
        }
    GENOFM_FINETUNE(ch_finetune_inputs)
    ch_versions = ch_versions.mix(GENOFM_FINETUNE.out.versions)

    // --- predictions and interpretation of every model ---------------------------------------
    ch_models = GENOFM_TRAIN.out.model.mix(GENOFM_FINETUNE.out.model)
    // [ meta, dataset, model, embedding shards or [], weights or [] ]: a head reads the
    // embeddings, a fine-tuned model runs its backbone from the weights
    ch_model_inputs = ch_head_inputs.map { meta, pq, h5s -> [meta.id, pq, h5s, []] }
        .mix(ch_finetune_inputs.map { meta, pq, weights -> [meta.id, pq, [], weights] })
        .join(ch_models.map { meta, model -> [meta.id, meta, model] })
        .map { _id, pq, h5s, weights, meta, model -> [meta, pq, model, h5s, weights] }

    GENOFM_PREDICT(ch_model_inputs)
    ch_versions = ch_versions.mix(GENOFM_PREDICT.out.versions)

    // explainers that run the backbone (Sei sequence classes, attention maps) get its weights too
    def weights_by_backbone = (backbones + finetune).unique().collectEntries { backbone -> [backbone, backboneWeights(backbone)] }
    GENOFM_INTERPRET(
        ch_model_inputs.map { meta, pq, model, h5s, weights -> [meta, pq, model, h5s, weights ?: (weights_by_backbone[meta.backbone] ?: [])] }
    )
    ch_versions = ch_versions.mix(GENOFM_INTERPRET.out.versions)

    // --- one comparison over all models of the run -------------------------------------------
    GENOFM_COMPARE(
        ch_models
            .map { meta, model -> [meta.dataset, model] }
            .toSortedList { a, b -> a[1].name <=> b[1].name }
            .filter { pairs -> pairs }
            .map { pairs -> [[id: 'comparison'], pairs.collect { pair -> pair[1] }, pairs.collect { pair -> pair[0] }] }
    )
    ch_versions = ch_versions.mix(GENOFM_COMPARE.out.versions)

    // --- pipeline_info: software versions and the parameters of this run ---------------------
    // every task reports `genofm --versions` ('name: version' lines); one block per process
    ch_versions
        .map { process_name, versions -> "\"${process_name}\":\n" + versions.readLines().collect { line -> "    ${line}" }.join('\n').toString() }
        .unique()
        .mix(channel.of("Workflow:\n    genofm: ${workflow.manifest.version}\n    Nextflow: ${workflow.nextflow.version}".toString()))
        .collectFile(name: 'genofm_software_versions.yml', storeDir: "${params.outdir}/pipeline_info", newLine: true, sort: true)
    params_summary
        .map { summary -> groovy.json.JsonOutput.prettyPrint(groovy.json.JsonOutput.toJson(summary + [profile: workflow.profile, run_name: workflow.runName])) }
        .collectFile(name: 'params_summary.json', storeDir: "${params.outdir}/pipeline_info", newLine: true)

    emit:
    comparison = GENOFM_COMPARE.out.tsv
    versions   = ch_versions
}
