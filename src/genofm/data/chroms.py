"""Chromosome names that mean the same thing across files.

Assemblies disagree on naming (UCSC ``chr1``/``chrM``, Ensembl ``1``/``MT``, the iEnhancer headers
``CHR13``), and a user's interval file rarely matches the genome's own convention. Every comparison
of chromosome names in genofm goes through :func:`chrom_key`, so ``--test-chroms chr8`` selects
Ensembl ``8`` too and an interval on ``chrM`` finds ``MT`` in the genome.
"""

from __future__ import annotations

from typing import Iterable

_MITO = {"M", "MT", "MITO", "MITOCHONDRION"}


def chrom_key(name: str) -> str:
    """Assembly-independent comparison key: no ``chr`` prefix, upper case, ``M`` -> ``MT``."""
    key = name.strip()
    if key[:3].lower() == "chr":
        key = key[3:]
    key = key.upper()
    return "MT" if key in _MITO else key


def display_name(name: str) -> str:
    """Spell a header's chromosome the UCSC way when it already uses a ``chr`` prefix (``CHR13`` -> ``chr13``)."""
    return "chr" + name[3:] if name[:3].lower() == "chr" and name[:3] != "chr" else name


def chrom_sort_key(name: str) -> tuple[int, int, str]:
    """Karyotype order: numbered chromosomes numerically, then X, Y, MT and the rest by name."""
    key = chrom_key(name)
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def parse_chrom_list(value: str | None) -> list[str]:
    """``"chr8, chr9"`` -> ``["chr8", "chr9"]``; empty or None -> ``[]``."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


class ChromMatcher:
    """Map chromosome names from any source onto the names a reference (genome) actually uses."""

    def __init__(self, reference_names: Iterable[str]):
        self.names = list(reference_names)
        self._exact = set(self.names)
        self._by_key: dict[str, str] = {}
        for name in self.names:
            self._by_key.setdefault(chrom_key(name), name)

    def resolve(self, name: str) -> str | None:
        """The reference's spelling of ``name``, or None when the reference lacks that chromosome."""
        if name in self._exact:
            return name
        return self._by_key.get(chrom_key(name))

    def examples(self, n: int = 5) -> str:
        shown = ", ".join(self.names[:n])
        return shown + (f", ... ({len(self.names)} in all)" if len(self.names) > n else "")
