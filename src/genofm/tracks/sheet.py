"""The tracks sheet: which file holds which assay of which cell type, and what kind of track it is.

A small CSV/TSV with the columns ``name, cell_type, assay, file`` (``kind`` optional). Relative
file paths are read relative to the sheet, so a sheet travels with its files. The kind decides the
statistics computed: ``signal`` (bigWig, bedGraph: mean and max per bin), ``peaks`` (BED,
narrowPeak: fraction of the window covered) or ``states`` (BED whose 4th column names a chromatin
state, e.g. ChromHMM segmentations: fraction of the window in each state).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from genofm.errors import GenofmError

KINDS = ("signal", "peaks", "states")
REQUIRED = ("name", "cell_type", "assay", "file")
_SAFE = re.compile(r"^[^|\t\n]+$")
_SIGNAL_SUFFIXES = (".bw", ".bigwig", ".bedgraph", ".bdg", ".bedgraph.gz", ".bdg.gz")
_PEAK_SUFFIXES = (".narrowpeak", ".broadpeak", ".narrowpeak.gz", ".broadpeak.gz")


@dataclass(frozen=True)
class TrackSpec:
    """One row of the sheet."""

    name: str
    cell_type: str
    assay: str
    path: Path
    kind: str

    @property
    def is_bigwig(self) -> bool:
        with open(self.path, "rb") as handle:
            magic = handle.read(4)
        return magic in (b"\x26\xfc\x8f\x88", b"\x88\x8f\xfc\x26")  # bigWig magic 0x888FFC26, either byte order


def guess_kind(path: Path) -> str | None:
    """``signal`` for bigWig/bedGraph names, ``peaks`` for narrowPeak/broadPeak; BED is ambiguous (None)."""
    name = path.name.lower()
    if name.endswith(_SIGNAL_SUFFIXES):
        return "signal"
    if name.endswith(_PEAK_SUFFIXES):
        return "peaks"
    return None


def read_sheet(path: str | Path, files_dir: str | Path | None = None) -> list[TrackSpec]:
    """Validated tracks: unique names, one track per (cell type, assay), existing files, a known kind.

    ``files_dir``: look every file up by its name in this folder instead (a pipeline stages the
    track files into one folder next to the sheet it was given).
    """
    path = Path(path)
    if not path.is_file():
        raise GenofmError(f"{path}: tracks sheet not found; give a CSV/TSV with columns {', '.join(REQUIRED)}")
    text = path.read_text(encoding="utf-8", errors="replace")
    first = next((line for line in text.splitlines() if line.strip() and not line.startswith("#")), "")
    delimiter = "\t" if "\t" in first else ","
    reader = csv.DictReader((line for line in text.splitlines() if line.strip() and not line.startswith("#")), delimiter=delimiter)
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise GenofmError(f"{path}: tracks sheet lacks column(s) {', '.join(missing)} (has {', '.join(columns) or 'none'}); "
                          f"the header must be {', '.join(REQUIRED)}[, kind]")
    rows = list(reader)
    if not rows:
        raise GenofmError(f"{path}: tracks sheet has no rows; give one row per track file under the header")
    specs: list[TrackSpec] = []
    for number, row in enumerate(rows, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        for column in ("name", "cell_type", "assay"):
            if not _SAFE.match(row[column]):
                raise GenofmError(f"{path}: line {number}: {column} {row[column]!r} must be non-empty and free of '|' "
                                  "(feature names are cell_type|assay|statistic|bin)")
        file = Path(row["file"])
        if files_dir is not None:
            file = Path(files_dir) / file.name
        elif not file.is_absolute():
            file = path.parent / file
        if not file.is_file():
            where = f"in {files_dir}" if files_dir is not None else "(paths are relative to the sheet)"
            raise GenofmError(f"{path}: line {number}: track file {file.name} not found {where}; fix the file column")
        kind = row.get("kind") or guess_kind(file)
        if kind is None:
            raise GenofmError(f"{path}: line {number}: cannot tell whether {file.name} holds peaks or chromatin states; "
                              f"add a kind column ({', '.join(KINDS)})")
        if kind not in KINDS:
            raise GenofmError(f"{path}: line {number}: kind {kind!r} is not one of {', '.join(KINDS)}")
        specs.append(TrackSpec(row["name"], row["cell_type"], row["assay"], file, kind))
    if files_dir is not None:
        stems = [s.path.name for s in specs]
        clash = sorted({n for n in stems if stems.count(n) > 1})
        if clash:
            raise GenofmError(f"{path}: two tracks share the file name {clash[0]!r}; give every track file its own name")
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise GenofmError(f"{path}: track name {twice[0]!r} is used twice; give every track its own name")
    pairs = [(s.cell_type, s.assay) for s in specs]
    double = sorted({p for p in pairs if pairs.count(p) > 1})
    if double:
        raise GenofmError(f"{path}: cell type {double[0][0]!r} has two {double[0][1]!r} tracks; keep one per cell type and assay")
    return specs
