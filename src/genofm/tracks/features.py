"""Per-window track features, written as an embedding file of the ``tracks`` backbone.

Features (``cell_type|assay|statistic|bin``, like Sei's ``cell | assay`` naming):

- signal tracks: ``mean`` and ``max`` of the signal in each of ``bins`` equal bins across the
  window (bin 0 at the window's 5' end: bins of minus-strand windows are reversed, like their
  sequence), uncovered bases counting as zero;
- peak tracks: ``peak_fraction`` of the window covered by a peak (bin ``all``);
- chromatin-state tracks: ``state=<name>``, the fraction of the window in each state (bin ``all``).

Two layouts. Without cell types in the dataset every track is a feature block of its own
(``K562|DNase|mean|0``, ``HepG2|DNase|mean|0``...). With (region, cell type) examples (a
``cell_type`` column) every row reads its own cell type's tracks, and the features are named with
the cell-type part ``own`` (``own|DNase|mean|0``): the same columns for every cell type, which is
what lets a model trained on some cell types predict an unseen one from its tracks. Then every
cell type needs the same assays.

Windows are processed chromosome by chromosome in clusters of nearby windows: one read per
cluster (a span of at most ``MAX_SPAN`` bases), then vectorised bin statistics, so the cost is one
library call per cluster rather than per window, and memory stays bounded by the cluster size.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genofm import __version__
from genofm.errors import GenofmError
from genofm.tracks.sheet import TrackSpec
from genofm.tracks.sources import TrackSource, open_source, state_order

log = logging.getLogger("genofm.tracks")

OWN = "own"  # cell-type part of feature names when every row reads its own cell type's tracks
MAX_SPAN = 1 << 20  # bases read per cluster of windows
MAX_GAP = 4096  # windows closer than this are read together


@dataclasses.dataclass
class Slot:
    """A block of feature columns: one track (no cell types), or one assay read per row's cell type."""

    cell: str
    assay: str
    kind: str
    tracks: dict[str | None, TrackSpec]  # cell type (None: every row) -> track
    states: list[str] = dataclasses.field(default_factory=list)

    def names(self, bins: int) -> list[str]:
        prefix = f"{self.cell}|{self.assay}"
        if self.kind == "signal":
            return [f"{prefix}|{stat}|{b}" for stat in ("mean", "max") for b in range(bins)]
        if self.kind == "peaks":
            return [f"{prefix}|peak_fraction|all"]
        return [f"{prefix}|state={s}|all" for s in self.states]


def plan_slots(specs: Sequence[TrackSpec], cell_types: Sequence[str] | None) -> list[Slot]:
    """Feature blocks for the tracks; with cell types, one block per assay present for every cell type."""
    if not specs:
        raise GenofmError("the tracks sheet lists no tracks")
    if cell_types is None:
        return [Slot(s.cell_type, s.assay, s.kind, {None: s}) for s in specs]
    wanted = sorted(set(cell_types))
    have = {s.cell_type for s in specs}
    lacking = [c for c in wanted if c not in have]
    if lacking:
        raise GenofmError(f"cell type {lacking[0]!r} of the dataset has no tracks in the sheet (it has {', '.join(sorted(have))}); "
                          "add its tracks or leave its examples out")
    slots = []
    for assay in sorted({s.assay for s in specs}):
        mine = {s.cell_type: s for s in specs if s.assay == assay and s.cell_type in wanted}
        missing = [c for c in wanted if c not in mine]
        if missing:
            raise GenofmError(f"cell type {missing[0]!r} has no {assay!r} track; every cell type of the dataset needs the same "
                              f"assays (have {assay} for {', '.join(sorted(mine)) or 'none'}), or drop {assay} from the sheet")
        kinds = {s.kind for s in mine.values()}
        if len(kinds) > 1:
            raise GenofmError(f"the {assay!r} tracks mix kinds ({', '.join(sorted(kinds))}); give one kind per assay")
        slots.append(Slot(OWN, assay, kinds.pop(), dict(mine)))
    return slots


def bin_edges(starts: np.ndarray, ends: np.ndarray, bins: int) -> np.ndarray:
    """(n, bins + 1) bin boundaries: ``bins`` near-equal bins per window."""
    lengths = ends - starts
    return starts[:, None] + (np.arange(bins + 1)[None, :] * lengths[:, None]) // bins


def _gather(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated window contents (windows may overlap) and each window's offset into it."""
    lengths = ends - starts
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    index = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    return values[index], offsets


def signal_stats(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, bins: int) -> np.ndarray:
    """(n, 2 * bins): mean of each bin, then max of each bin, for windows ``[starts, ends)`` of ``values``."""
    gathered, offsets = _gather(values, starts, ends)
    edges = bin_edges(starts, ends, bins) - starts[:, None] + offsets[:, None]
    first = edges[:, :-1].ravel()
    size = np.diff(edges, axis=1).ravel()
    filled = size > 0
    at = np.minimum(first, max(gathered.size - 1, 0))
    sums = np.add.reduceat(gathered, at) if gathered.size else np.zeros(first.size)
    peaks = np.maximum.reduceat(gathered, at) if gathered.size else np.zeros(first.size)
    # reduceat over an empty bin returns one element; the next bin starts where the empty one does
    mean = np.where(filled, sums / np.maximum(size, 1), 0.0)
    high = np.where(filled, peaks, 0.0)
    n = starts.size
    return np.concatenate([mean.reshape(n, bins), high.reshape(n, bins)], axis=1)


def fraction_stats(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(n, 1): mean of a 0/1 coverage over each window."""
    gathered, offsets = _gather(values, starts, ends)
    lengths = ends - starts
    sums = np.add.reduceat(gathered, np.minimum(offsets, max(gathered.size - 1, 0))) if gathered.size else np.zeros(starts.size)
    return np.where(lengths > 0, sums / np.maximum(lengths, 1), 0.0)[:, None]


def state_stats(codes: np.ndarray, starts: np.ndarray, ends: np.ndarray, n_states: int, local: np.ndarray) -> np.ndarray:
    """(n, n_states): fraction of each window in each state; ``local`` maps file state index -> slot column."""
    gathered, _ = _gather(codes, starts, ends)
    lengths = ends - starts
    window = np.repeat(np.arange(starts.size), lengths)
    known = gathered >= 0
    counts = np.bincount(window[known] * n_states + local[gathered[known]], minlength=starts.size * n_states)
    return counts.reshape(starts.size, n_states) / np.maximum(lengths, 1)[:, None]


def _clusters(starts: np.ndarray, ends: np.ndarray) -> list[np.ndarray]:
    """Groups of start-sorted window indices read with one call (span <= MAX_SPAN, gaps <= MAX_GAP)."""
    order = np.argsort(starts, kind="stable")
    groups, current, lo, hi = [], [], None, None
    for i in order:
        s, e = int(starts[i]), int(ends[i])
        if current and (s - hi > MAX_GAP or max(hi, e) - lo > MAX_SPAN):
            groups.append(np.array(current))
            current = []
        if not current:
            lo, hi = s, e
        current.append(i)
        hi = max(hi, e)
    if current:
        groups.append(np.array(current))
    return groups


@dataclasses.dataclass
class TrackFeatures:
    """The feature matrix with its names, groups and an account of coverage per track."""

    features: np.ndarray
    names: list[str]
    groups: dict[str, np.ndarray]
    coverage: list[dict]


def _stats(slot: Slot, values: np.ndarray, starts: np.ndarray, ends: np.ndarray, minus: np.ndarray, bins: int,
           local: np.ndarray | None) -> np.ndarray:
    """The slot's statistics for windows ``[starts, ends)`` of ``values``."""
    if slot.kind == "signal":
        stats = signal_stats(values, starts, ends, bins)
        if minus.any():  # bin 0 at the 5' end, like the strand-corrected sequence
            stats[minus] = np.concatenate([stats[minus, :bins][:, ::-1], stats[minus, bins:][:, ::-1]], axis=1)
        return stats
    if slot.kind == "peaks":
        return fraction_stats(values, starts, ends)
    return state_stats(values, starts, ends, len(slot.states), local)


def _fill(source: TrackSource, slot: Slot, rows: np.ndarray, frame: pd.DataFrame, bins: int, out: np.ndarray,
          columns: slice, coverage: dict) -> None:
    """Write the slot's features of ``rows`` (all from one track) into ``out[:, columns]``.

    One library read per cluster of nearby windows; the reads of many clusters are concatenated
    (up to ``MAX_SPAN`` bases) so the statistics run as one vectorised pass instead of per window.
    """
    local = np.array([slot.states.index(s) for s in source.states], dtype=np.int64) if slot.kind == "states" else None
    chroms = frame["chrom"].to_numpy()[rows]
    starts_all = frame["start"].to_numpy(np.int64)[rows]
    ends_all = frame["end"].to_numpy(np.int64)[rows]
    minus_all = frame["strand"].to_numpy()[rows] == "-"
    pending: list[tuple[np.ndarray, np.ndarray, int]] = []

    def flush() -> None:
        if not pending:
            return
        idx = np.concatenate([p[0] for p in pending])
        base = np.cumsum([0] + [p[1].size for p in pending[:-1]])
        shift = np.concatenate([np.full(p[0].size, b - p[2]) for p, b in zip(pending, base)])
        values = np.concatenate([p[1] for p in pending])
        stats = _stats(slot, values, starts_all[idx] + shift, ends_all[idx] + shift, minus_all[idx], bins, local)
        out[rows[idx], columns] = stats
        coverage["windows_without_signal"] += int((stats == 0).all(axis=1).sum())
        pending.clear()

    for chrom in pd.unique(chroms):
        here = np.flatnonzero(chroms == chrom)
        name = source.resolve(str(chrom))
        if name is None:
            coverage["windows_on_absent_chromosomes"] += int(here.size)
            continue
        coverage["chromosomes_found"] += 1
        buffered = 0
        for cluster in _clusters(starts_all[here], ends_all[here]):
            idx = here[cluster]
            lo, hi = int(starts_all[idx].min()), int(ends_all[idx].max())
            pending.append((idx, source.values(name, lo, hi), lo))
            buffered += hi - lo
            if buffered >= MAX_SPAN:
                flush()
                buffered = 0
        flush()


def track_features(frame: pd.DataFrame, specs: Sequence[TrackSpec], bins: int,
                   genome_lengths: dict[str, int] | None = None) -> TrackFeatures:
    """Features of every row of a prepared dataset frame (needs chrom/start/end; cell_type when present)."""
    if bins < 1:
        raise GenofmError(f"--track-bins must be at least 1, not {bins}")
    if frame["chrom"].isna().any() or frame["start"].isna().any():
        raise GenofmError("track features need coordinates for every example (BED/narrowPeak/GTF inputs with --genome, "
                          "FASTA headers like chr1:100-300, or chrom/start/end table columns)")
    cells = None
    if "cell_type" in frame.columns and frame["cell_type"].notna().any():
        if frame["cell_type"].isna().any():
            raise GenofmError("some examples have a cell type and others none; give every input a cell type (LABEL@CELL=PATH)")
        cells = frame["cell_type"].astype(str).to_numpy()
    slots = plan_slots(specs, None if cells is None else sorted(set(cells)))
    sources: dict[Path, TrackSource] = {}
    try:
        for slot in slots:
            for spec in slot.tracks.values():
                sources[spec.path] = open_source(spec, genome_lengths)
            if slot.kind == "states":
                slot.states = sorted({s for spec in slot.tracks.values() for s in sources[spec.path].states}, key=state_order)
        names = [n for slot in slots for n in slot.names(bins)]
        out = np.zeros((len(frame), len(names)), dtype=np.float32)
        coverage_report, groups, offset = [], {}, 0
        for slot in slots:
            width = len(slot.names(bins))
            columns = slice(offset, offset + width)
            for cell, spec in slot.tracks.items():
                rows = np.arange(len(frame)) if cell is None else np.flatnonzero(cells == cell)
                coverage = {"track": spec.name, "cell_type": spec.cell_type, "assay": spec.assay, "kind": spec.kind,
                            "file": spec.path.name, "windows": int(rows.size), "windows_without_signal": 0,
                            "windows_on_absent_chromosomes": 0, "chromosomes_found": 0}
                _fill(sources[spec.path], slot, rows, frame, bins, out, columns, coverage)
                if rows.size and coverage["chromosomes_found"] == 0:
                    present = ", ".join(sorted(map(str, pd.unique(frame["chrom"].iloc[rows])))[:5])
                    raise GenofmError(
                        f"{spec.path}: none of the examples' chromosomes ({present}) are in this track; it is on another "
                        "assembly or naming; use a track of the same assembly as the regions"
                    )
                if coverage["windows_without_signal"] or coverage["windows_on_absent_chromosomes"]:
                    log.warning("%s: %d of %d windows have no signal (counted as zero), %d on chromosomes the track lacks",
                                spec.path.name, coverage["windows_without_signal"], rows.size,
                                coverage["windows_on_absent_chromosomes"])
                del coverage["chromosomes_found"]
                coverage_report.append(coverage)
            for key in (f"assay:{slot.assay}", f"cell:{slot.cell}", f"kind:{slot.kind}"):
                groups.setdefault(key, []).extend(range(offset, offset + width))
            offset += width
    finally:
        for source in sources.values():
            source.close()
    return TrackFeatures(out, names, {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}, coverage_report)


def provenance(specs: Sequence[TrackSpec], bins: int, result: TrackFeatures, layout: str) -> dict:
    """The ``tracks`` backbone's provenance: what identifies the features, and where they came from."""
    return {
        "backbone": "tracks",
        "options": {"bins": bins, "layout": layout},
        "weights_sha256": None,
        "weights_name": None,
        "n_features": len(result.names),
        "rc_average": False,
        "genofm_version": __version__,
        "tracks": [{"name": s.name, "cell_type": s.cell_type, "assay": s.assay, "kind": s.kind, "file": s.path.name,
                    "bytes": s.path.stat().st_size} for s in specs],
        "coverage": result.coverage,
    }


def write_track_embeddings(frame: pd.DataFrame, specs: Sequence[TrackSpec], bins: int, output: Path,
                           genome_lengths: dict[str, int] | None = None) -> TrackFeatures:
    """Compute and write the tracks embedding file (atomically, like genofm-embed's)."""
    from genofm.embeddings import EmbeddingWriter

    result = track_features(frame, specs, bins, genome_lengths)
    layout = OWN if "cell_type" in frame.columns and frame["cell_type"].notna().any() else "all"
    with EmbeddingWriter(output, result.names, provenance(specs, bins, result, layout), feature_groups=result.groups) as writer:
        step = 65536
        ids = frame["id"].astype(str).tolist()
        for start in range(0, len(frame), step):
            writer.append(ids[start : start + step], result.features[start : start + step])
    return result
