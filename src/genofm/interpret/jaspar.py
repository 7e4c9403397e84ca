"""JASPAR motifs from pyjaspar's bundled SQLite database (offline), as log-odds matrices.

pyjaspar ships every JASPAR release since 2014 inside its wheel, so motif annotation needs no
network. The release is pinned (default JASPAR2024) so that reports are reproducible across
pyjaspar upgrades; ``-O jaspar_release=JASPAR2026`` picks another one.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from genofm.errors import GenofmError

DEFAULT_RELEASE = "JASPAR2024"
#: pseudo-frequency added to each base before log-odds, so absent bases cost about -3.5 bits, not -inf
PSEUDO_FREQUENCY = 0.025
BASES = "ACGT"


@dataclasses.dataclass(frozen=True)
class Motif:
    matrix_id: str
    name: str
    tf_class: str
    tf_family: str
    log_odds: np.ndarray  # (length, 4) bits against a uniform background, columns A, C, G, T

    @property
    def consensus(self) -> str:
        return "".join(BASES[i] for i in self.log_odds.argmax(axis=1))


def log_odds(counts: np.ndarray) -> np.ndarray:
    """(length, 4) log2 odds of a (4, length) count or frequency matrix against a uniform background."""
    counts = np.asarray(counts, dtype=np.float64)
    freq = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1e-12)
    prob = (freq + PSEUDO_FREQUENCY) / (1.0 + 4 * PSEUDO_FREQUENCY)
    return np.log2(prob / 0.25).T


@functools.lru_cache(maxsize=4)
def load_motifs(release: str = DEFAULT_RELEASE, collection: str = "CORE", tax_group: str = "vertebrates") -> tuple[Motif, ...]:
    """The latest version of each matrix of a JASPAR collection and taxonomic group."""
    from pyjaspar import jaspardb

    available = jaspardb().get_releases()
    if release not in available:
        raise GenofmError(f"JASPAR release {release!r} is not bundled with pyjaspar; choose one of {', '.join(available)}")
    records = jaspardb(release=release).fetch_motifs(collection=collection, tax_group=[tax_group])
    if not records:
        raise GenofmError(f"{release} has no {collection} motifs for tax group {tax_group!r}; check -O jaspar_collection/jaspar_tax_group")
    motifs = []
    for record in records:
        counts = np.array([record.counts[b] for b in BASES], dtype=np.float64)
        motifs.append(
            Motif(
                matrix_id=record.matrix_id,
                name=record.name,
                tf_class="; ".join(record.tf_class or []),
                tf_family="; ".join(record.tf_family or []),
                log_odds=log_odds(counts),
            )
        )
    return tuple(motifs)
