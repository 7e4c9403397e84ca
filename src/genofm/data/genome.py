"""Random access to a reference genome FASTA (plain or bgzip) for cutting interval windows.

pysam/htslib reads the sequence through a ``.fai`` index (plus ``.gzi`` for bgzip), building it on
first use next to the genome. htslib fails on plain gzip and on unwritable index paths with terse
messages on stderr, so those cases are checked first and reported as one actionable line.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import pysam

from genofm.data.chroms import ChromMatcher
from genofm.data.inputs import is_gzip
from genofm.data.records import clean_sequence
from genofm.errors import GenofmError
from genofm.sequence import reverse_complement


@contextlib.contextmanager
def _quiet_htslib() -> Iterator[None]:
    """Silence htslib's own stderr chatter; its failures are re-raised as GenofmError."""
    previous = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(previous)


def _is_bgzf(path: Path) -> bool:
    # BGZF = gzip member with an extra field whose subfield id is "BC" (SAM spec, section 4.1).
    with open(path, "rb") as handle:
        head = handle.read(18)
    return len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC"


class Genome:
    """An indexed reference; ``window`` returns N-padded, strand-corrected sequence."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise GenofmError(f"{self.path}: genome FASTA not found; give --genome an existing .fa/.fa.gz file")
        compressed = is_gzip(self.path)
        if compressed and not _is_bgzf(self.path):
            raise GenofmError(
                f"{self.path}: genome is gzip- but not bgzip-compressed, so it cannot be indexed; "
                f"recompress it with `zcat {self.path.name} | bgzip > genome.fa.gz` or decompress it"
            )
        if not compressed:
            with open(self.path, "rb") as handle:
                first = handle.read(1)
            if first != b">":
                raise GenofmError(f"{self.path}: genome is not a FASTA file (it does not start with '>'); give --genome a FASTA file")
        indexes = [Path(f"{self.path}.fai")] + ([Path(f"{self.path}.gzi")] if compressed else [])
        missing = [p for p in indexes if not p.is_file()]
        for index in missing:
            if index.exists() or not os.access(index.parent, os.W_OK):
                raise GenofmError(
                    f"{self.path}: index {index} is missing and cannot be written there; "
                    "index a writable copy with `samtools faidx` or put the genome in a writable folder"
                )
        try:
            with _quiet_htslib():
                self._fasta = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as exc:
            what = "index could not be built (is the FASTA well-formed, with equal-length lines per record?)" if missing else "could not be opened"
            raise GenofmError(f"{self.path}: genome {what}: {exc}; fix the file or re-create its .fai index") from None
        self.lengths = dict(zip(self._fasta.references, self._fasta.lengths))
        self.matcher = ChromMatcher(self._fasta.references)

    def resolve(self, chrom: str) -> str | None:
        return self.matcher.resolve(chrom)

    def window(self, chrom: str, start: int, end: int, strand: str) -> tuple[str, int, int, int]:
        """Sequence of ``[start, end)``, clipped to the chromosome and N-padded back to ``end - start``.

        Returns ``(sequence, clipped_start, clipped_end, n_padding)``; minus-strand windows are
        reverse-complemented after padding so the padding follows the bases it replaces.
        """
        length = self.lengths[chrom]
        real_start, real_end = max(0, start), min(length, end)
        bases = self._fasta.fetch(chrom, real_start, real_end) if real_end > real_start else ""
        left, right = real_start - start, end - real_end
        sequence = "N" * left + clean_sequence(bases) + "N" * right
        if strand == "-":
            sequence = reverse_complement(sequence)
        return sequence, real_start, max(real_start, real_end), left + right

    def close(self) -> None:
        self._fasta.close()
