"""``genofm-embed``: a prepared dataset -> one fixed-length feature vector per sequence (HDF5).

The dataset is streamed in bounded, length-sorted batches through the chosen backbone and
appended to the embedding file (the loop is ``genofm.embedding_run``, shared with predict and
interpret), so memory grows neither with the number of sequences nor with the longest one. Large datasets can be
split into shards (contiguous row ranges, so shard files concatenate in dataset order); train,
predict and interpret accept all shard files of one run.
"""

from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from genofm.atomic import check_output
from genofm.backbones import REGISTRY, backbone_class
from genofm.cli.common import limit_threads, run_app, setup_logging, version_callback
from genofm.data.dataset import SPLITS
from genofm.device import DEVICES, PRECISIONS, resolve_device, resolve_precision
from genofm.embedding_run import DEFAULT_MEMORY_GIB, build_backbone, count_rows, embed_dataset, shard_range
from genofm.errors import GenofmError
from genofm.options import describe, for_backbone, split_pairs

log = logging.getLogger("genofm.embed")

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


def describe_backbones() -> str:
    """Every registered backbone, what --weights it needs and its -O options (also when unimportable)."""
    lines = []
    for name in sorted(REGISTRY):
        try:
            cls = backbone_class(name)
        except Exception as exc:  # an optional backbone module or dependency may be missing
            lines.append(f"{name}: unavailable ({exc.__class__.__name__}: {exc})")
            continue
        lines.append(f"{name}: --weights: {cls.weights_help}{' (required)' if cls.needs_weights else ''}")
        lines.extend(describe(cls.Options))
    return "\n".join(lines)


def _list_callback(value: bool) -> None:
    if value:
        print(describe_backbones())
        raise typer.Exit()


@app.command(
    epilog=(
        "Examples:  genofm-embed ds.parquet --backbone kmer -O k=6 --output kmer.h5  |  "
        "genofm-embed ds.parquet --backbone spliceai --output spliceai.h5 --shard-index 0 --shard-count 4  |  "
        "genofm-embed --list-backbones"
    )
)
def main_command(
    dataset: Annotated[Path, typer.Argument(help="Prepared dataset (Parquet) written by genofm-prepare.", show_default=False)],
    backbone: Annotated[str, typer.Option("--backbone", "-b", help=f"Backbone to embed with: {', '.join(sorted(REGISTRY))} (see --list-backbones).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Embedding file to write (HDF5: ids, features, feature_names, provenance; written atomically).", show_default=False)],
    weights: Annotated[Optional[Path], typer.Option("--weights", "-w", help="Backbone weights, a file or folder as the backbone requires (see --list-backbones).", show_default=False)] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-O", help="Backbone option as key=value, repeatable (e.g. -O k=6 -O rc_collapse=false); BACKBONE:key=value applies to that backbone only. An unknown key is an error.", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Sequences per forward pass. Default: the backbone's own (e.g. 1024 for kmer, 32 for spliceai).", show_default=False)] = None,
    device: Annotated[str, typer.Option("--device", help=f"Torch device: {', '.join(DEVICES)} or cuda:N; auto uses a visible GPU.")] = "auto",
    precision: Annotated[str, typer.Option("--precision", help=f"Numeric precision: {', '.join(PRECISIONS)}; auto = bf16 (or fp16) autocast on GPU, fp32 on CPU.")] = "auto",
    rc_average: Annotated[bool, typer.Option(
        "--rc-average/--no-rc-average",
        help="Average each sequence's features with those of its reverse complement (skipped for backbones that are "
        "already strand-symmetric, e.g. kmer with rc_collapse). Recorded in the provenance so predict does the same.",
    )] = False,
    splits: Annotated[Optional[str], typer.Option("--splits", help=f"Comma-separated splits to embed ({','.join(SPLITS)}). Default: all rows.", show_default=False)] = None,
    shard_index: Annotated[int, typer.Option("--shard-index", min=0, help="Which shard (0-based) of --shard-count this run embeds.")] = 0,
    shard_count: Annotated[int, typer.Option("--shard-count", min=1, help="Split the rows into this many contiguous shards; run once per shard and pass all files on.")] = 1,
    memory_budget: Annotated[float, typer.Option(
        "--memory-budget", min=0.01,
        help="GiB of working memory one forward pass may use: batches are sized by length to fit, and a sequence "
        "longer than the budget allows is embedded in tiles (exactly for kmer and spliceai; language models tile "
        "tokens themselves, sei reads a fixed window).",
    )] = DEFAULT_MEMORY_GIB,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads for torch and BLAS (e.g. Nextflow's task.cpus). Default: their own choice.", show_default=False)] = None,
    list_backbones: Annotated[bool, typer.Option(
        "--list-backbones", callback=_list_callback, is_eager=True,
        help="List the backbones, what --weights each needs and their -O options with defaults, then exit.",
    )] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debugging detail.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the genofm version and exit.")] = False,
) -> None:
    """Embed every sequence of a prepared dataset with a pre-trained (or k-mer) backbone."""
    setup_logging(verbose)
    check_output(output)
    if shard_index >= shard_count:
        raise GenofmError(f"--shard-index {shard_index} must be below --shard-count {shard_count}")
    split_list = [s.strip() for s in splits.split(",") if s.strip()] if splits else None
    if split_list is not None and not split_list:
        raise GenofmError("--splits is empty; give e.g. train,valid,test")
    limit_threads(threads)
    torch_device = resolve_device(device)
    resolved_precision = resolve_precision(precision, torch_device)
    model = build_backbone(backbone, for_backbone(split_pairs(option), backbone), weights, torch_device, resolved_precision)
    size = batch_size or model.default_batch_size

    n_rows = count_rows(dataset, split_list)
    start, stop = shard_range(n_rows, shard_index, shard_count)
    provenance = model.provenance() | {
        "rc_average": rc_average,
        "precision": resolved_precision,
        "dataset": dataset.name,
        "splits": split_list,
        "shard_index": shard_index,
        "shard_count": shard_count,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    log.info(
        "embedding rows %d-%d of %d (shard %d/%d) of %s with %s on %s (%s), batch %d",
        start, stop, n_rows, shard_index + 1, shard_count, dataset, backbone, torch_device, resolved_precision, size,
    )
    began = time.perf_counter()
    done = embed_dataset(model, dataset, output, provenance, split_list, start, stop, size, rc_average, memory_budget,
                         f"{backbone} embeddings")
    elapsed = time.perf_counter() - began
    log.info(
        "embedded %d sequences with %s into %d features in %.1f s (%.1f sequences/s) -> %s",
        done, backbone, len(model.feature_names), elapsed, done / elapsed if elapsed > 0 else float("nan"), output,
    )


main = run_app(app, "genofm-embed")

if __name__ == "__main__":
    main()
