/*
 * Embeds every dataset with every backbone, split into shards that run as separate tasks, and
 * gathers the shards of each dataset x backbone back together. groupKey carries the number of
 * shards so a group is released as soon as its last shard finishes (and, on -resume, from
 * cached shards without waiting for the others); shards are sorted by index so that downstream
 * task inputs, and hence their cache keys, do not depend on completion order.
 */

include { GENOFM_EMBED } from '../../../modules/local/genofm/embed/main'

import groovy.json.JsonSlurper

// rows in a prepare summary: `n_rows` when given, else the sum of its per-split x class `counts`
def summaryRows(summaryFile) {
    def summary = new JsonSlurper().parse(summaryFile.toFile())
    for (key in ['n_rows', 'rows', 'total']) {
        if (summary[key] instanceof Number) {
            return summary[key] as long
        }
    }
    def sumCounts
    sumCounts = { node -> node instanceof Number ? (node as long) : node instanceof Map ? node.values().sum(0L) { sumCounts(it) } : 0L }
    return summary.counts != null ? sumCounts(summary.counts) : 0L
}

def shardCount(summaryFile, shardSize, fixedCount) {
    if (fixedCount) {
        return fixedCount as int
    }
    def rows = summaryRows(summaryFile)
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
            def ordered = [metas, h5s].transpose().sort { it[0].shard_index }
            [[id: key.toString(), dataset: metas[0].dataset, backbone: metas[0].backbone], ordered.collect { it[1] }]
        }

    emit:
    embeddings = ch_embeddings              // [ meta(id, dataset, backbone), [shard.h5, ...] ]
    versions   = GENOFM_EMBED.out.versions
}
