"""``genofm-embed``: a prepared dataset -> one fixed-length feature vector per sequence (HDF5).

The dataset is streamed in bounded batches through the chosen backbone and appended to the
embedding file, so memory does not grow with the number of sequences. Large datasets can be
split into shards (contiguous row ranges, so shard files concatenate in dataset order); train,
predict and interpret accept all shard files of one run.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import sys
import time
import typing
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np
import torch
import typer

from genofm.backbones import REGISTRY, Backbone, backbone_class
from genofm.cli.common import parse_pairs, run_app, setup_logging, version_callback
from genofm.data.dataset import SPLITS, scan_dataset
from genofm.device import DEVICES, PRECISIONS, autocast, resolve_device, resolve_precision
from genofm.embeddings import EmbeddingWriter
from genofm.errors import GenofmError

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
        hints = typing.get_type_hints(cls.Options)
        fields = dataclasses.fields(cls.Options)
        if not fields:
            lines.append("    (no -O options)")
        for field in fields:
            default = field.default if field.default is not dataclasses.MISSING else None
            kind = getattr(hints.get(field.name), "__name__", str(hints.get(field.name)))
            doc = field.metadata.get("help", "")
            lines.append(f"    -O {field.name}=<{kind}>  (default {default}){'  ' + doc if doc else ''}")
    return "\n".join(lines)


def _list_callback(value: bool) -> None:
    if value:
        print(describe_backbones())
        raise typer.Exit()


def build_backbone(name: str, pairs: dict[str, str], weights: Optional[Path], device, precision: str) -> Backbone:
    """Instantiate a registry backbone from ``-O`` strings (or provenance values)."""
    cls = backbone_class(name)
    options = cls.Options.from_pairs(pairs, name)
    if weights is not None and not weights.exists():
        raise GenofmError(f"{weights}: weights not found; --weights for {name!r} must be {cls.weights_help}")
    return cls(options, weights, device, precision)


def shard_range(n_rows: int, index: int, count: int) -> tuple[int, int]:
    """Contiguous [start, stop) rows of shard ``index`` of ``count``; sizes differ by at most one."""
    return n_rows * index // count, n_rows * (index + 1) // count


def iter_shard(
    dataset: Path, splits: Optional[list[str]], start: int, stop: int, batch_size: int, read_rows: int = 8192
) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, sequences) batches of rows ``start``..``stop`` of the split-filtered dataset.

    Parquet is read ``read_rows`` rows at a time, so memory stays bounded for any dataset size.
    """
    seen = 0
    ids: list[str] = []
    seqs: list[str] = []
    for frame in scan_dataset(dataset, splits, columns=("id", "sequence"), batch_rows=read_rows):
        lo, hi = max(start - seen, 0), min(stop - seen, len(frame))
        seen += len(frame)
        if lo < hi:
            ids.extend(frame["id"].iloc[lo:hi].tolist())
            seqs.extend(frame["sequence"].iloc[lo:hi].tolist())
        full = len(ids) - len(ids) % batch_size
        for i in range(0, full, batch_size):
            yield ids[i : i + batch_size], seqs[i : i + batch_size]
        ids, seqs = ids[full:], seqs[full:]
        if seen >= stop:
            break
    if ids:
        yield ids, seqs


def count_rows(dataset: Path, splits: Optional[list[str]]) -> int:
    return sum(len(frame) for frame in scan_dataset(dataset, splits, columns=("split",)))


class _Progress:
    """A rich progress bar on a terminal, a log line every ~10% otherwise (e.g. under Nextflow)."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done, self._next_log = total, label, 0, 0.1
        self._bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True))
            self._task = self._bar.add_task(label, total=total)
            self._bar.start()

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(self._task, advance=n)
        elif self.total and self.done / self.total >= self._next_log:
            log.info("%s: %d/%d sequences (%.0f%%)", self.label, self.done, self.total, 100 * self.done / self.total)
            while self._next_log <= self.done / self.total:
                self._next_log += 0.1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@app.command(
    epilog=(
        "Examples:  genofm-embed ds.parquet --backbone kmer -O k=6 --output kmer.h5  |  "
        "genofm-embed ds.parquet --backbone spliceai --output spliceai.h5 --shard-index 0 --shard-count 4  |  "
        "genofm-embed --list-backbones"
    )
)
def main_command(
    dataset: Path = typer.Argument(..., help="Prepared dataset (Parquet) written by genofm-prepare.", show_default=False),
    backbone: str = typer.Option(
        ..., "--backbone", "-b", help=f"Backbone to embed with: {', '.join(sorted(REGISTRY))} (see --list-backbones).", show_default=False
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Embedding file to write (HDF5: ids, features, feature_names, provenance; written atomically).",
        show_default=False,
    ),
    weights: Optional[Path] = typer.Option(
        None, "--weights", "-w", help="Backbone weights, a file or folder as the backbone requires (see --list-backbones).",
        show_default=False,
    ),
    option: Optional[List[str]] = typer.Option(
        None, "--option", "-O", help="Backbone option as key=value, repeatable (e.g. -O k=6 -O rc_collapse=false).", show_default=False
    ),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", min=1, help="Sequences per forward pass. Default: the backbone's own (e.g. 1024 for kmer, 32 for spliceai).",
        show_default=False,
    ),
    device: str = typer.Option("auto", "--device", help=f"Torch device: {', '.join(DEVICES)} or cuda:N; auto uses a visible GPU."),
    precision: str = typer.Option(
        "auto", "--precision", help=f"Numeric precision: {', '.join(PRECISIONS)}; auto = bf16 (or fp16) autocast on GPU, fp32 on CPU."
    ),
    rc_average: bool = typer.Option(
        False, "--rc-average/--no-rc-average",
        help="Average each sequence's features with those of its reverse complement (skipped for backbones that are "
        "already strand-symmetric, e.g. kmer with rc_collapse). Recorded in the provenance so predict does the same.",
    ),
    splits: Optional[str] = typer.Option(
        None, "--splits", help=f"Comma-separated splits to embed ({','.join(SPLITS)}). Default: all rows.", show_default=False
    ),
    shard_index: int = typer.Option(0, "--shard-index", min=0, help="Which shard (0-based) of --shard-count this run embeds."),
    shard_count: int = typer.Option(
        1, "--shard-count", min=1, help="Split the rows into this many contiguous shards; run once per shard and pass all files on."
    ),
    threads: Optional[int] = typer.Option(
        None, "--threads", min=1, help="CPU threads for torch (e.g. Nextflow's task.cpus). Default: torch's choice.", show_default=False
    ),
    list_backbones: bool = typer.Option(
        False, "--list-backbones", callback=_list_callback, is_eager=True,
        help="List the backbones, what --weights each needs and their -O options with defaults, then exit.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debugging detail."),
    version: bool = typer.Option(
        False, "--version", callback=version_callback, is_eager=True, help="Print the genofm version and exit."
    ),
) -> None:
    """Embed every sequence of a prepared dataset with a pre-trained (or k-mer) backbone."""
    setup_logging(verbose)
    if shard_index >= shard_count:
        raise GenofmError(f"--shard-index {shard_index} must be below --shard-count {shard_count}")
    split_list = [s.strip() for s in splits.split(",") if s.strip()] if splits else None
    if split_list is not None and not split_list:
        raise GenofmError("--splits is empty; give e.g. train,valid,test")
    if threads:
        torch.set_num_threads(threads)
    torch_device = resolve_device(device)
    resolved_precision = resolve_precision(precision, torch_device)
    model = build_backbone(backbone, parse_pairs(option), weights, torch_device, resolved_precision)
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
    progress = _Progress(stop - start, f"{backbone} embeddings")
    began = time.perf_counter()
    done = 0
    try:
        with EmbeddingWriter(output, model.feature_names, provenance, feature_groups=model.feature_groups()) as writer:
            with torch.inference_mode(), autocast(torch_device, resolved_precision):
                for ids, sequences in iter_shard(dataset, split_list, start, stop, size):
                    features = model.embed(sequences, rc_average=rc_average)
                    if not np.isfinite(features).all():
                        raise GenofmError(f"{backbone} produced non-finite features for a batch starting at id {ids[0]!r}; try --precision fp32")
                    writer.append(ids, features)
                    done += len(ids)
                    progress.advance(len(ids))
    finally:
        progress.close()
    elapsed = time.perf_counter() - began
    log.info(
        "embedded %d sequences with %s into %d features in %.1f s (%.1f sequences/s) -> %s",
        done, backbone, len(model.feature_names), elapsed, done / elapsed if elapsed > 0 else float("nan"), output,
    )


main = run_app(app, "genofm-embed")

if __name__ == "__main__":
    main()
