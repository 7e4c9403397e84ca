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

A spectrum cannot tell *where* a k-mer sits. For aligned sequences (splice junctions centred on the
exon/intron boundary, promoters anchored at the TSS) position is most of the signal, so
``-O positions=N`` replaces the spectrum by position-specific k-mers of the central N bp: one 0/1
feature ``KMER@i`` per k-mer and start base i (1-based) of the window, the profile a position
weight matrix scores (k=1) or its dinucleotide extension (k=2). Those features are read on the
given strand.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Sequence

import numpy as np

from genofm.backbones.base import Backbone, BackboneOptions
from genofm.errors import GenofmError
from genofm.options import option
from genofm.sequence import center_pad, encode

MAX_K = 8
#: position-specific features are (positions - k + 1) x 4^k indicators per row; beyond this the
#: table outgrows what a linear head can use on benchmark-sized data
MAX_POSITIONAL_FEATURES = 100_000
NORMALISATIONS = ("frequency", "count")


@dataclasses.dataclass
class KmerOptions(BackboneOptions):
    k: int = option(5, f"k-mer length, 1-{MAX_K}; 5 gives 512 strand-collapsed features, short enough to be dense "
                       "in 200-600 bp windows and long enough to match motif cores")
    rc_collapse: bool = option(True, "merge each k-mer with its reverse complement (strand-symmetric features)")
    normalise: str = option("frequency", "frequency: counts divided by the number of N-free k-mers in the sequence; count: raw counts")
    positions: int = option(0, "0: one spectrum over the whole sequence; N > 0: position-specific k-mers of the central N bp "
                               "instead (one 0/1 feature KMER@i per k-mer and start base i; sequences centre-padded with N or "
                               "cropped to N; read on the given strand, so rc_collapse and normalise do not apply), for aligned "
                               "sequences such as splice junctions or TSS-anchored promoters")


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


def kmer_index(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For (n, W) base codes (0-3 = ACGT, 4 = N): the code of the k-mer starting at each of the
    W - k + 1 positions (base-4, first base most significant) and whether that k-mer is N-free."""
    starts = codes.shape[1] - k + 1
    index = np.zeros((codes.shape[0], starts), dtype=np.int64)
    valid = np.ones((codes.shape[0], starts), dtype=bool)
    for offset in range(k):  # k shifted views, one per position inside the k-mer
        window = codes[:, offset : offset + starts]
        index = index * 4 + np.minimum(window, 3)
        valid &= window < 4
    return index, valid


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
    index, valid = kmer_index(codes, k)
    rows = np.broadcast_to(np.arange(n)[:, None], index.shape)
    flat = rows[valid] * n_columns + column[index[valid]]
    return np.bincount(flat, minlength=n * n_columns).reshape(n, n_columns)


def positional_kmers(sequences: Sequence[str], k: int, width: int) -> np.ndarray:
    """(n, (width - k + 1) * 4^k) float32 indicators: 1 where k-mer j starts at window base i (column i * 4^k + j).

    Sequences are first centre-padded with N (or cropped) to ``width`` bases, so column i is the
    same window position in every row.
    """
    if not sequences:
        return np.zeros((0, (width - k + 1) * 4**k), dtype=np.float32)
    index, valid = kmer_index(np.stack([encode(center_pad(seq, width)) for seq in sequences]).astype(np.int64), k)
    out = np.zeros((len(sequences), index.shape[1] * 4**k), dtype=np.float32)
    rows, starts = np.nonzero(valid)
    out[rows, starts * 4**k + index[rows, starts]] = 1.0
    return out


class KmerBackbone(Backbone):
    name = "kmer"
    feature_help = (
        "`ACGTT`: how often the k-mer ACGTT occurs in the sequence, as a fraction of all N-free k-mers (or a raw count "
        "with `-O normalise=count`). With `rc_collapse` (the default) the feature also counts the reverse complement "
        "(AACGT) and is named by the alphabetically smaller of the two, so a motif and its other strand are one feature. "
        "K-mers that overlap an N are not counted. With `-O positions=N`, `ACG@12` is 1 when ACG starts at base 12 "
        "of the sequence's central N bp (given strand), else 0."
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
        if options.positions:
            self._check_positions(options)
            starts = range(1, options.positions - options.k + 2)
            self._names = [f"{kmer}@{i}" for i in starts for kmer in kmer_strings(options.k)]
            self.averages_strands = False
            return
        if options.rc_collapse:
            self._column, self._names = canonical_index(options.k)
        else:
            self._column, self._names = np.arange(4**options.k), kmer_strings(options.k)
        #: collapsed spectra are already identical for a sequence and its reverse complement
        self.averages_strands = options.rc_collapse

    @staticmethod
    def _check_positions(options: KmerOptions) -> None:
        if options.positions < options.k:
            raise GenofmError(
                f"backbone 'kmer' option positions={options.positions} must be 0 (whole-sequence spectrum) "
                f"or at least k={options.k} bases"
            )
        n_features = (options.positions - options.k + 1) * 4**options.k
        if n_features > MAX_POSITIONAL_FEATURES:
            raise GenofmError(
                f"backbone 'kmer' with positions={options.positions} and k={options.k} gives {n_features} features "
                f"(more than {MAX_POSITIONAL_FEATURES}); use k=1 or 2, or fewer positions"
            )

    @property
    def feature_names(self) -> list[str]:
        return list(self._names)

    def embed_batch(self, sequences: Sequence[str]) -> np.ndarray:
        if self.options.positions:
            return positional_kmers(sequences, self.options.k, self.options.positions)
        return self._normalised(count_kmers(sequences, self.options.k, self._column, len(self._names)))

    def embed_long(self, sequence: str, tile_bases: int) -> np.ndarray:
        """Exact: tiles overlapping by k-1 bases count every k-mer once; the counts add up.

        Position-specific features read only the central ``positions`` bases, which is one tile.
        """
        k = self.options.k
        if self.options.positions:
            return self.embed_batch([center_pad(sequence, self.options.positions)])[0]
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
