"""Weight-free baseline: the normalised k-mer spectrum of each sequence.

A k-mer spectrum is the classic alignment-free representation of regulatory DNA (the kind of
baseline gkm-SVM and its relatives improved upon), so every pre-trained backbone should beat it
to earn its cost. Its features are directly readable: each is a k-mer, which the interpret tool
matches against JASPAR motifs.

Feature naming: with ``rc_collapse`` (default) a k-mer and its reverse complement are one feature
named by the lexicographically smaller of the two (``ACGTT`` stands for ACGTT and AACGT), so the
spectrum is identical for a sequence and its reverse complement; without it every one of the
4^k k-mers is its own feature. Features are listed in lexicographic order. K-mers overlapping an
N (or any non-ACGT character) are skipped.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Sequence

import numpy as np

from genofm.backbones.base import Backbone, BackboneOptions
from genofm.errors import GenofmError
from genofm.sequence import encode

MAX_K = 8
NORMALISATIONS = ("frequency", "count")


@dataclasses.dataclass
class KmerOptions(BackboneOptions):
    k: int = dataclasses.field(
        default=5,
        metadata={"help": f"k-mer length, 1-{MAX_K}; 5 gives 512 strand-collapsed features, short enough to be dense "
                  "in 200-600 bp windows and long enough to match motif cores"},
    )
    rc_collapse: bool = dataclasses.field(
        default=True, metadata={"help": "merge each k-mer with its reverse complement (strand-symmetric features)"}
    )
    normalise: str = dataclasses.field(
        default="frequency",
        metadata={"help": "frequency: counts divided by the number of N-free k-mers in the sequence; count: raw counts"},
    )


def kmer_strings(k: int) -> list[str]:
    """All 4^k k-mers in lexicographic (= integer code) order."""
    return ["".join(p) for p in itertools.product("ACGT", repeat=k)]


def canonical_index(k: int) -> tuple[np.ndarray, list[str]]:
    """Map each k-mer code to its column under reverse-complement collapsing, and the column names."""
    codes = np.arange(4**k)
    digits = (codes[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4  # most significant base first
    rc_codes = ((3 - digits[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(axis=1)
    canonical = np.minimum(codes, rc_codes)
    kept, column = np.unique(canonical, return_inverse=True)
    names = kmer_strings(k)
    return column, [names[c] for c in kept]


def count_kmers(sequences: Sequence[str], k: int, column: np.ndarray | None = None, n_columns: int | None = None) -> np.ndarray:
    """(B, n_columns) counts of N-free k-mers, vectorised over all sequences and positions.

    ``column`` maps each k-mer code (base-4 number, first base most significant) to an output
    column, e.g. ``canonical_index(k)[0]``; by default every k-mer is its own column.
    """
    if column is None:
        column, n_columns = np.arange(4**k), 4**k
    n = len(sequences)
    if n == 0:
        return np.zeros((0, n_columns), dtype=np.int64)
    width = max(max(len(s) for s in sequences), k)
    codes = np.full((n, width), 4, dtype=np.int64)
    for i, seq in enumerate(sequences):
        codes[i, : len(seq)] = encode(seq)
    starts = width - k + 1
    index = np.zeros((n, starts), dtype=np.int64)
    valid = np.ones((n, starts), dtype=bool)
    for offset in range(k):  # k shifted views, one per position inside the k-mer
        window = codes[:, offset : offset + starts]
        index = index * 4 + np.minimum(window, 3)
        valid &= window < 4
    rows = np.broadcast_to(np.arange(n)[:, None], index.shape)
    flat = rows[valid] * n_columns + column[index[valid]]
    return np.bincount(flat, minlength=n * n_columns).reshape(n, n_columns)


class KmerBackbone(Backbone):
    name = "kmer"
    feature_help = (
        "`ACGTT`: how often the k-mer ACGTT occurs in the sequence, as a fraction of all N-free k-mers (or a raw count "
        "with `-O normalise=count`). With `rc_collapse` (the default) the feature also counts the reverse complement "
        "(AACGT) and is named by the alphabetically smaller of the two, so a motif and its other strand are one feature. "
        "K-mers that overlap an N are not counted."
    )
    Options = KmerOptions
    needs_weights = False
    default_batch_size = 1024
    #: count_kmers holds a few int64 arrays (codes, index, flat) and a mask per padded base
    bytes_per_base = 64

    def __init__(self, options: KmerOptions, weights=None, device="cpu", precision: str = "fp32"):
        if weights is not None:
            raise GenofmError("backbone 'kmer' takes no --weights; drop the option")
        super().__init__(options, None, device, precision)
        if not 1 <= options.k <= MAX_K:
            raise GenofmError(f"backbone 'kmer' option k={options.k} must be between 1 and {MAX_K}")
        if options.normalise not in NORMALISATIONS:
            raise GenofmError(f"backbone 'kmer' option normalise={options.normalise!r} must be one of {list(NORMALISATIONS)}")
        if options.rc_collapse:
            self._column, self._names = canonical_index(options.k)
        else:
            self._column, self._names = np.arange(4**options.k), kmer_strings(options.k)
        #: collapsed spectra are already identical for a sequence and its reverse complement
        self.averages_strands = options.rc_collapse

    @property
    def feature_names(self) -> list[str]:
        return list(self._names)

    def embed_batch(self, sequences: Sequence[str]) -> np.ndarray:
        return self._normalised(count_kmers(sequences, self.options.k, self._column, len(self._names)))

    def embed_long(self, sequence: str, tile_bases: int) -> np.ndarray:
        """Exact: tiles overlapping by k-1 bases count every k-mer once; the counts add up."""
        k = self.options.k
        step = max(1, tile_bases - (k - 1))
        counts = np.zeros((1, len(self._names)), dtype=np.int64)
        for start in range(0, max(1, len(sequence) - k + 1), step):
            counts += count_kmers([sequence[start : start + step + k - 1]], k, self._column, len(self._names))
        return self._normalised(counts)[0]

    def _normalised(self, counts: np.ndarray) -> np.ndarray:
        features = counts.astype(np.float64)
        if self.options.normalise == "frequency":
            totals = features.sum(axis=1, keepdims=True)
            features = np.divide(features, totals, out=np.zeros_like(features), where=totals > 0)
        return features.astype(np.float32)
