/*
 * Embeds every dataset with every backbone, split into shards that run as separate tasks, and
 * gathers the shards of each dataset x backbone back together. groupKey carries the number of
 * shards so a group is released as soon as its last shard finishes (and, on -resume, from
 * cached shards without waiting for the others); shards are sorted by index so that downstream
 * task inputs, and hence their cache keys, do not depend on completion order.
 */

include { GENOFM_EMBED } from '../../../modules/local/genofm/embed/main'

// shards of a dataset: --shard_count when given, else enough shards of at most --shard_size rows
// (`rows` of the summary genofm-prepare writes)
def shardCount(summaryFile, shardSize, fixedCount) {
    if (fixedCount) {
        return fixedCount as int
    }
    def rows = new groovy.json.JsonSlurper().parse(summaryFile.toFile()).rows ?: 0
    return Math.max(1, Math.ceil(rows / (shardSize as double)) as int)
}

workflow EMBED_SHARDED {

    take:
    ch_dataset  // [ meta, dataset.parquet ]
    ch_summary  // [ meta, summary.json ]
    ch_weights  // [ backbone, weights folder or [] ]
    shard_size  // integer
    shard_count // integer or null (overrides shard_size)

    main:
    ch_embed_input = ch_dataset
        .join(ch_summary)
        .combine(ch_weights)
        .flatMap { meta, dataset, summary, backbone, weights ->
            def n = shardCount(summary, shard_size, shard_count)
            (0..<n).collect { i ->
                [
                    [id: "${meta.id}.${backbone}" + (n > 1 ? ".shard${i + 1}of${n}" : ''), dataset: meta.id, backbone: backbone, shard_index: i, shard_count: n],
                    dataset,
                    weights,
                ]
            }
        }

    GENOFM_EMBED(ch_embed_input)

    ch_embeddings = GENOFM_EMBED.out.embeddings
        .map { meta, h5 -> [groupKey("${meta.dataset}.${meta.backbone}".toString(), meta.shard_count), meta, h5] }
        .groupTuple()
        .map { key, metas, h5s ->
            def ordered = [metas, h5s].transpose().sort { pair -> pair[0].shard_index }
            [[id: key.toString(), dataset: metas[0].dataset, backbone: metas[0].backbone], ordered.collect { pair -> pair[1] }]
        }

    emit:
    embeddings = ch_embeddings              // [ meta(id, dataset, backbone), [shard.h5, ...] ]
    versions   = GENOFM_EMBED.out.versions
}
