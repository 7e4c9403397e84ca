"""The one embedding loop: sequences -> features, for ``genofm-embed``, predict and interpret.

``genofm-embed`` streams a (sharded) dataset into an HDF5 file; ``genofm-predict`` and
``genofm-interpret`` without ``--embeddings`` need the same features for a frame in memory. Both go
through ``embed_sequences`` so that features computed on the fly match the ones a head was trained
on (same strand averaging, same precision, same handling of long sequences).

Uneven lengths: a batch is padded to its longest sequence, so the loop sorts sequences by length
before cutting batches (length buckets) and sizes each batch so that rows x padded length stays
within a memory budget (``Backbone.bytes_per_base``). A sequence that alone exceeds the budget is
streamed through the backbone in tiles by ``Backbone.embed_long`` (exact for k-mer and SpliceAI;
language models tile tokens themselves, Sei reads a fixed window). Results come back in input order.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from genofm.backbones import Backbone, backbone_class
from genofm.data.dataset import scan_dataset
from genofm.errors import GenofmError
from genofm.sequence import reverse_complement

log = logging.getLogger("genofm.embed")

#: default working-memory budget of one forward pass, in GiB (``--memory-budget``)
DEFAULT_MEMORY_GIB = 2.0


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


class Progress:
    """A rich progress bar on a terminal, a log line every ~10% otherwise (e.g. under Nextflow)."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done, self._next_log = total, label, 0, 0.1
        self._bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn

            self._bar = RichProgress(
                TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True)
            )
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


def budget_bases(backbone: Backbone, memory_gib: float, rc_average: bool = False) -> int | None:
    """Padded bases one forward pass may hold within ``memory_gib``; None when the backbone bounds itself."""
    if memory_gib <= 0:
        raise GenofmError(f"--memory-budget must be a positive number of GiB, not {memory_gib}")
    if not backbone.bytes_per_base:
        return None
    strands = 2 if rc_average and not backbone.averages_strands else 1
    return max(1, int(memory_gib * 2**30) // (backbone.bytes_per_base * strands))


def plan_batches(lengths: Sequence[int], batch_size: int, max_bases: int | None, overhead: int = 0) -> tuple[list[np.ndarray], list[int]]:
    """Length-bucketed batches of row indices, and the rows too long for any batch (to be tiled).

    Rows are sorted by length, so each batch pads to a similar length; a batch holds at most
    ``batch_size`` rows and at most ``max_bases`` padded bases (``overhead`` extra bases per row,
    e.g. SpliceAI's N flanks). A row that alone exceeds ``max_bases`` goes to the tiled list.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    batches: list[np.ndarray] = []
    long_rows: list[int] = []
    current: list[int] = []
    for row in order:
        padded = int(lengths[row]) + overhead
        if max_bases is not None and padded > max_bases:
            long_rows.append(int(row))
            continue
        if current and (len(current) >= batch_size or (max_bases is not None and (len(current) + 1) * padded > max_bases)):
            batches.append(np.array(current))
            current = []
        current.append(int(row))
    if current:
        batches.append(np.array(current))
    return batches, long_rows


def embed_sequences(
    backbone: Backbone,
    sequences: Sequence[str],
    batch_size: int,
    rc_average: bool = False,
    memory_gib: float = DEFAULT_MEMORY_GIB,
    ids: Sequence[str] | None = None,
) -> np.ndarray:
    """(len(sequences), n_features) float32 features in input order: the one embedding loop.

    Runs under ``torch.inference_mode`` and the backbone's autocast precision, batches by length
    within the memory budget, tiles sequences longer than the budget, and refuses non-finite output.
    """
    import torch

    from genofm.device import autocast

    sequences = list(sequences)
    out = np.empty((len(sequences), len(backbone.feature_names)), dtype=np.float32)
    if not sequences:
        return out
    max_bases = budget_bases(backbone, memory_gib, rc_average)
    overhead = backbone.row_overhead_bases
    batches, long_rows = plan_batches([len(s) for s in sequences], batch_size, max_bases, overhead)
    device = backbone.device if isinstance(backbone.device, torch.device) else torch.device(str(backbone.device))
    with torch.inference_mode(), autocast(device, backbone.precision):
        for rows in batches:
            out[rows] = _checked(backbone, backbone.embed([sequences[i] for i in rows], rc_average=rc_average), rows, ids)
        for row in long_rows:
            tile = max(1, max_bases - overhead)
            log.info("sequence %s of %d bp exceeds the memory budget; embedding it in %d-bp tiles",
                     repr(ids[row]) if ids is not None else row, len(sequences[row]), tile)
            features = backbone.embed_long(sequences[row], tile)
            if rc_average and not backbone.averages_strands:
                features = (features + backbone.embed_long(reverse_complement(sequences[row]), tile)) / 2
            out[row] = _checked(backbone, np.asarray(features, dtype=np.float32)[None, :], [row], ids)[0]
    return out


def _checked(backbone: Backbone, features: np.ndarray, rows, ids) -> np.ndarray:
    if not np.isfinite(features).all():
        first = rows[int(np.argwhere(~np.isfinite(features))[0, 0])]
        where = f"id {ids[first]!r}" if ids is not None else f"row {first}"
        raise GenofmError(f"{backbone.name} produced non-finite features for {where}; try --precision fp32")
    return features


def chunk_rows(batch_size: int) -> int:
    """Rows gathered before sorting by length: enough for buckets to form, bounded for memory."""
    return max(batch_size, min(8192, 16 * batch_size))


def embed_frame(
    backbone: Backbone, frame, batch_size: int, rc_average: bool = False, memory_gib: float = DEFAULT_MEMORY_GIB
) -> np.ndarray:
    """(len(frame), n_features) features of a frame's ``sequence`` column, in row order (predict, interpret)."""
    sequences = frame["sequence"].tolist()
    ids = frame["id"].tolist() if "id" in frame else None
    out = np.empty((len(sequences), len(backbone.feature_names)), dtype=np.float32)
    step = chunk_rows(batch_size)
    for start in range(0, len(sequences), step):
        stop = min(start + step, len(sequences))
        out[start:stop] = embed_sequences(
            backbone, sequences[start:stop], batch_size, rc_average, memory_gib, ids[start:stop] if ids else None
        )
    return out


def embed_dataset(
    backbone: Backbone,
    dataset: Path,
    output: Path,
    provenance: dict,
    splits: Optional[list[str]] = None,
    start: int = 0,
    stop: Optional[int] = None,
    batch_size: Optional[int] = None,
    rc_average: bool = False,
    memory_gib: float = DEFAULT_MEMORY_GIB,
    label: str = "embeddings",
) -> int:
    """Embed rows ``start``..``stop`` of a dataset into an HDF5 file (written atomically); returns rows done."""
    from genofm.embeddings import EmbeddingWriter

    size = batch_size or backbone.default_batch_size
    if stop is None:
        stop = count_rows(dataset, splits)
    progress = Progress(stop - start, label)
    done = 0
    try:
        with EmbeddingWriter(output, backbone.feature_names, provenance, feature_groups=backbone.feature_groups()) as writer:
            for ids, sequences in iter_shard(dataset, splits, start, stop, chunk_rows(size)):
                writer.append(ids, embed_sequences(backbone, sequences, size, rc_average, memory_gib, ids))
                done += len(ids)
                progress.advance(len(ids))
    finally:
        progress.close()
    return done
