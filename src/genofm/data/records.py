"""One labelled example on its way from an input file to the prepared dataset.

Readers of every input kind produce :class:`Example` objects, so cleaning, de-duplication and
splitting are written once. ``padding`` remembers how many N bases windowing added, because the
N-fraction and minimum-length filters must judge the real bases, not the padding a user asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

_CLEAN = bytearray(b"N" * 256)
for _base in b"ACGT":
    _CLEAN[_base] = _base
    _CLEAN[_base + 32] = _base  # lower case
_CLEAN[ord("U")] = _CLEAN[ord("u")] = ord("T")  # RNA datasets (e.g. ncRNA families) spell T as U
_CLEAN = bytes(_CLEAN)


def clean_sequence(sequence: str) -> str:
    """Upper-case A/C/G/T (U read as T); every other symbol (IUPAC ambiguity codes) becomes N."""
    return sequence.encode("ascii", "replace").translate(_CLEAN).decode("ascii")


@dataclass(slots=True)
class Example:
    """A windowed, strand-corrected sequence with its label and (when known) its coordinates.

    Coordinates are 0-based half-open and describe the reference bases the sequence contains; N
    padding added by windowing (beyond a chromosome end, or around a short FASTA sequence) is not
    part of ``start``/``end``.
    """

    name: str
    sequence: str
    label: str
    source: str
    chrom: str | None = None
    start: int | None = None
    end: int | None = None
    strand: str | None = None
    padding: int = 0
    #: split given by the input (``train=file``, a table's ``split`` column); None when prepare chooses
    split: str | None = None
    cell_type: str | None = None  # for (region, cell type) examples read with LABEL@CELL=PATH

    @property
    def real_length(self) -> int:
        return len(self.sequence) - self.padding

    @property
    def n_fraction(self) -> float:
        """Fraction of N among the real (non-padding) bases; 1.0 for an empty sequence."""
        real = self.real_length
        if real <= 0:
            return 1.0
        return (self.sequence.count("N") - self.padding) / real
