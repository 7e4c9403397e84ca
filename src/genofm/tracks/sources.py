"""Per-base values of one track over a chromosome span, read with well-kept libraries.

bigWig files are read with pyBigWig (``values(..., numpy=True)``), bgzipped bedGraph/BED files
through their tabix index with pysam, one span at a time, so memory does not grow with the genome.
Plain (uncompressed) bedGraph/BED files are read once with pandas: fine for peak and state files;
a genome-wide plain bedGraph should be bgzipped and indexed (``bgzip f.bedGraph; tabix -p bed
f.bedGraph.gz``) or converted to bigWig.

Assembly checks: chromosome names are matched across conventions (``chr1`` = ``1``); a track whose
chromosome lengths differ from the genome's, or whose intervals or windows run past a chromosome
end, is refused as coming from another assembly. Bases a track does not cover count as zero (the
documented policy); windows without any coverage are counted and reported.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from genofm.data.chroms import ChromMatcher
from genofm.data.inputs import is_gzip
from genofm.errors import GenofmError
from genofm.tracks.sheet import TrackSpec

_SKIP = ("#", "track", "browser")


def _assembly_error(spec: TrackSpec, chrom: str, what: str) -> GenofmError:
    return GenofmError(
        f"{spec.path}: {what} on {chrom}; the {spec.assay} track of {spec.cell_type} seems to be on another assembly than the "
        "genome and regions; use a track of the same assembly (or lift it over)"
    )


class TrackSource:
    """One track file: ``values(chrom, lo, hi)`` gives per-base values of ``[lo, hi)``.

    Signal tracks give float values, peak tracks 1.0 where a peak covers the base, state tracks
    the index of the base's state in :attr:`states` (-1 where no state is given).
    """

    states: list[str] = []

    def __init__(self, spec: TrackSpec, genome_lengths: dict[str, int] | None):
        self.spec = spec
        self.genome_lengths = genome_lengths or {}
        self.lengths: dict[str, int] = {}

    # -- chromosome names and lengths -------------------------------------------------------
    def _set_chroms(self, names, lengths: dict[str, int] | None = None) -> None:
        self.matcher = ChromMatcher(names)
        self.lengths = dict(lengths or {})
        if self.genome_lengths and self.lengths:
            genome = ChromMatcher(self.genome_lengths)
            for name, length in self.lengths.items():
                mine = genome.resolve(name)
                if mine is not None and self.genome_lengths[mine] != length:
                    raise _assembly_error(self.spec, name, f"chromosome length {length:,} differs from the genome's "
                                          f"{self.genome_lengths[mine]:,}")

    def resolve(self, chrom: str) -> str | None:
        return self.matcher.resolve(chrom)

    def check_window_end(self, chrom: str, end: int) -> None:
        limit = self.lengths.get(chrom)
        if limit is not None and end > limit:
            raise _assembly_error(self.spec, chrom, f"a window ends at {end:,}, past the track's chromosome end {limit:,}")

    def check_interval_end(self, chrom: str, end: int) -> None:
        genome = ChromMatcher(self.genome_lengths).resolve(chrom) if self.genome_lengths else None
        if genome is not None and end > self.genome_lengths[genome]:
            raise _assembly_error(self.spec, chrom, f"an interval ends at {end:,}, past the genome's chromosome end "
                                  f"{self.genome_lengths[genome]:,}")

    def values(self, chrom: str, lo: int, hi: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        pass


class BigWigSource(TrackSource):
    """Signal from a bigWig file through pyBigWig."""

    def __init__(self, spec: TrackSpec, genome_lengths: dict[str, int] | None):
        super().__init__(spec, genome_lengths)
        import pyBigWig

        try:
            self._bw = pyBigWig.open(str(spec.path))
        except RuntimeError:
            raise GenofmError(f"{spec.path}: not a readable bigWig file; re-download it or convert it with bedGraphToBigWig") from None
        if self._bw is None or not self._bw.isBigWig():
            raise GenofmError(f"{spec.path}: not a bigWig file (bigBed?); give a bigWig or bedGraph signal track")
        chroms = self._bw.chroms()
        self._set_chroms(list(chroms), chroms)

    def values(self, chrom: str, lo: int, hi: int) -> np.ndarray:
        self.check_window_end(chrom, hi)
        values = self._bw.values(chrom, lo, hi, numpy=True)
        return np.nan_to_num(values, nan=0.0, copy=False).astype(np.float32, copy=False)

    def close(self) -> None:
        self._bw.close()


def _parse_rows(spec: TrackSpec, rows, number_offset: int = 0):
    """(chrom, start, end, column 4) from BED-like rows, with one clear line for malformed input."""
    need = 4 if spec.kind in ("signal", "states") else 3
    for number, fields in enumerate(rows, start=1 + number_offset):
        if not fields or not fields[0] or fields[0].startswith(_SKIP):
            continue
        what = {"signal": "a bedGraph (chrom, start, end, value)", "states": "a chromatin-state BED (chrom, start, end, state)",
                "peaks": "a peak BED (chrom, start, end, ...)"}[spec.kind]
        if len(fields) < need:
            raise GenofmError(f"{spec.path}: line {number} has {len(fields)} column(s); {what} needs {need}")
        try:
            start, end = int(fields[1]), int(fields[2])
        except ValueError:
            raise GenofmError(f"{spec.path}: line {number}: columns 2-3 must be integer start and end; the file should be {what}") from None
        if end < start or start < 0:
            raise GenofmError(f"{spec.path}: line {number}: interval {start}-{end} is invalid (end before start)")
        yield fields[0], start, end, (fields[3] if len(fields) > 3 else "")


class IntervalSource(TrackSource):
    """bedGraph signal, BED peaks or BED chromatin states: tabix-indexed (streamed) or plain (read once)."""

    def __init__(self, spec: TrackSpec, genome_lengths: dict[str, int] | None):
        super().__init__(spec, genome_lengths)
        self._tabix = None
        compressed = is_gzip(spec.path)
        index = [p for p in (Path(f"{spec.path}.tbi"), Path(f"{spec.path}.csi")) if p.is_file()]
        if compressed and index:
            import pysam

            try:
                self._tabix = pysam.TabixFile(str(spec.path), index=str(index[0]))
            except (OSError, ValueError) as exc:
                raise GenofmError(f"{spec.path}: cannot open with its index {index[0].name} ({exc}); re-create it with tabix -p bed") from None
            self._set_chroms(list(self._tabix.contigs))
            if spec.kind == "states":
                self.states = self._scan_states()
            return
        if compressed and spec.kind == "signal":
            raise GenofmError(
                f"{spec.path}: a compressed bedGraph needs a tabix index to be read chromosome by chromosome; "
                f"index it with `tabix -p bed {spec.path.name}` (after bgzip) or convert it to bigWig"
            )
        self._load_plain(gzip.open(spec.path, "rt") if compressed else open(spec.path))

    def _load_plain(self, handle) -> None:
        with handle:
            parsed = list(_parse_rows(self.spec, (line.rstrip("\n").split("\t") for line in handle)))
        if not parsed:
            raise GenofmError(f"{self.spec.path}: no intervals; give a non-empty {self.spec.kind} track")
        frame = pd.DataFrame(parsed, columns=["chrom", "start", "end", "field"])
        if self.spec.kind == "states":
            self.states = sorted(frame["field"].unique(), key=state_order)
            frame["value"] = frame["field"].map({s: i for i, s in enumerate(self.states)}).astype(np.float64)
        elif self.spec.kind == "signal":
            try:
                frame["value"] = frame["field"].astype(np.float64)
            except ValueError:
                raise GenofmError(f"{self.spec.path}: column 4 must hold numbers in a bedGraph signal track") from None
        else:
            frame["value"] = 1.0
        self._by_chrom = {}
        for chrom, part in frame.groupby("chrom", sort=False):
            part = part.sort_values("start")
            self.check_interval_end(chrom, int(part["end"].max()))
            if self.spec.kind == "peaks":
                part = _merge_overlaps(part)
            if self.spec.kind == "states" and (part["start"].to_numpy()[1:] < part["end"].to_numpy()[:-1]).any():
                raise GenofmError(f"{self.spec.path}: chromatin states overlap on {chrom}; a segmentation gives one state per base")
            self._by_chrom[chrom] = (part["start"].to_numpy(np.int64), part["end"].to_numpy(np.int64), part["value"].to_numpy())
        self._set_chroms(list(self._by_chrom))

    def _scan_states(self) -> list[str]:
        names = set()
        for chrom in self._tabix.contigs:
            for row in _parse_rows(self.spec, (line.split("\t") for line in self._tabix.fetch(chrom))):
                names.add(row[3])
        return sorted(names, key=state_order)

    def _intervals(self, chrom: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._tabix is not None:
            rows = list(_parse_rows(self.spec, (line.split("\t") for line in self._tabix.fetch(chrom, lo, hi))))
            if not rows:
                return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
            starts = np.fromiter((r[1] for r in rows), np.int64, len(rows))
            ends = np.fromiter((r[2] for r in rows), np.int64, len(rows))
            self.check_interval_end(chrom, int(ends.max()))
            if self.spec.kind == "signal":
                try:
                    values = np.array([float(r[3]) for r in rows])
                except ValueError:
                    raise GenofmError(f"{self.spec.path}: column 4 must hold numbers in a bedGraph signal track") from None
            elif self.spec.kind == "states":
                index = {s: i for i, s in enumerate(self.states)}
                values = np.array([index[r[3]] for r in rows], dtype=np.float64)
            else:
                values = np.ones(len(rows))
            return starts, ends, values
        starts, ends, values = self._by_chrom[chrom]
        keep = slice(np.searchsorted(ends, lo, side="right"), np.searchsorted(starts, hi, side="left"))
        return starts[keep], ends[keep], values[keep]

    def values(self, chrom: str, lo: int, hi: int) -> np.ndarray:
        s, e, v = self._intervals(chrom, lo, hi)
        n = hi - lo
        s = np.clip(s - lo, 0, n)
        e = np.clip(e - lo, 0, n)
        if self.spec.kind == "peaks":
            depth = np.cumsum(np.bincount(s, minlength=n + 1) - np.bincount(e, minlength=n + 1))[:n]
            return (depth > 0).astype(np.float32)
        shift = 1.0 if self.spec.kind == "states" else 0.0  # states: index + 1 so that 0 means "no state"
        dense = np.cumsum(np.bincount(s, weights=v + shift, minlength=n + 1) - np.bincount(e, weights=v + shift, minlength=n + 1))[:n]
        if self.spec.kind == "states":
            return np.rint(dense).astype(np.int32) - 1
        return dense.astype(np.float32)

    def close(self) -> None:
        if self._tabix is not None:
            self._tabix.close()


def _merge_overlaps(part: pd.DataFrame) -> pd.DataFrame:
    """Union of start-sorted peaks, so that starts and ends both ascend (searchsorted on either works)."""
    starts, ends = part["start"].to_numpy(np.int64), part["end"].to_numpy(np.int64)
    reach = np.maximum.accumulate(ends)
    new = np.concatenate([[True], starts[1:] > reach[:-1]])
    group = np.cumsum(new) - 1
    merged_ends = np.zeros(group[-1] + 1, dtype=np.int64)
    np.maximum.at(merged_ends, group, ends)
    return pd.DataFrame({"chrom": part["chrom"].iloc[0], "start": starts[new], "end": merged_ends, "value": 1.0})


def state_order(name: str) -> tuple:
    """ChromHMM order: ``E2`` before ``E10``, ``2_TxFlnk`` before ``10_TssBiv``; other names alphabetically."""
    digits = "".join(ch for ch in name if ch.isdigit())
    lead = name.split("_")[0].lstrip("Ee")
    return (0, int(lead), name) if lead.isdigit() else (1, int(digits) if digits else 0, name)


def open_source(spec: TrackSpec, genome_lengths: dict[str, int] | None) -> TrackSource:
    """The reader for a track: pyBigWig for bigWig, tabix or pandas for bedGraph/BED."""
    if spec.is_bigwig:
        if spec.kind != "signal":
            raise GenofmError(f"{spec.path}: a bigWig file holds signal, not {spec.kind}; set its kind to signal")
        return BigWigSource(spec, genome_lengths)
    return IntervalSource(spec, genome_lengths)
