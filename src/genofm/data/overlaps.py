"""Sequences that overlap: windows cut from one stretch of genome, shifted by a few bases.

Exact and reverse-complement copies (:mod:`genofm.data.dedup`) are the obvious leak between splits;
shifted windows of one region are the quiet one. Public sets built from annotations hold many:
found by this module, 983 of the 5,720 E. coli promoter sequences overlap another one (promoters a
few bp apart), and of iEnhancer-2L's 400 independent test sequences 100 repeat a training
sequence and 11 more overlap one. A model can recognise such a test sequence instead of
predicting it, so random splits keep overlapping sequences together and every split is measured
for them.

Two sequences *overlap* when they share an exact stretch of at least ``min_overlap`` bases on
either strand. Found with canonical 32-mer minimizers (the smallest hash among each run of
``min_overlap - 31`` consecutive 32-mers; identical stretches of ``min_overlap`` bases have the
same runs, so they share a minimizer), which keeps the index at a fraction of the bases.
Sequences sharing a shorter stretch (32 to ``min_overlap - 1`` bases) may be linked too. A 32-mer
in more than :data:`REPEAT_SEQUENCES` sequences is a repeat (an Alu, a poly-A run, a common
motif) rather than an overlap and links nothing; identical sequences are linked whatever their
length.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from genofm.data.dedup import canonical
from genofm.errors import GenofmError
from genofm.sequence import encode

#: k-mer length of the index (2 bits a base: one 64-bit code)
KMER = 32
#: the shortest shared stretch (bp, either strand) that always counts as an overlap, by default
DEFAULT_MIN_OVERLAP = 40
#: a 32-mer shared by more sequences than this is a repeat, not an overlap
REPEAT_SEQUENCES = 50
#: bases encoded at a time (bounds the index's temporary arrays to a few hundred MB)
CHUNK_BASES = 1 << 22

_MISSING = np.iinfo(np.uint64).max
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so the hash is a bijection of the 64-bit codes


def check_min_overlap(min_overlap: int) -> None:
    if min_overlap and min_overlap < KMER:
        raise GenofmError(f"--overlap-bp must be 0 (off) or at least {KMER} (the index's k-mer length), not {min_overlap}")


def overlap_groups(sequences: list[str], min_overlap: int = DEFAULT_MIN_OVERLAP) -> np.ndarray:
    """A group number per sequence: sequences joined by a chain of overlaps (or identities) share one.

    ``min_overlap`` 0 groups identical sequences (either strand) only.
    """
    check_min_overlap(min_overlap)
    n = len(sequences)
    sources, targets = _identity_edges(sequences)
    if min_overlap:
        s, t = _overlap_edges(sequences, min_overlap - KMER + 1)
        sources, targets = np.concatenate([sources, s]), np.concatenate([targets, t])
    graph = coo_matrix((np.ones(len(sources), dtype=np.int8), (sources, targets)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _identity_edges(sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
    first: dict[str, int] = {}
    sources, targets = [], []
    for index, sequence in enumerate(sequences):
        key = canonical(sequence.upper())
        if key in first:
            sources.append(first[key])
            targets.append(index)
        else:
            first[key] = index
    return np.asarray(sources, dtype=np.int64), np.asarray(targets, dtype=np.int64)


def _overlap_edges(sequences: list[str], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Edges between the sequences holding each minimizer that two or more of them chose.

    Up to three passes over the k-mers: the minimizers; every sequence *holding* a minimizer that
    two chose (a repeat's k-mer is chosen only where the run beside it happens to be larger, and
    must be counted in all of them); and, when some are repeats, the same without every k-mer
    that shares a base with a repeat's (k-mers reaching a base or two into a repeat's varied
    flanks are held by a share of its copies, too many to be overlaps).
    """
    chosen, _ = _unique_pairs(*_collect(sequences, lambda hashed: _minimizer_positions(hashed, window)))
    candidates = _held_by_more_than(chosen, 1)
    if not len(candidates):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    hashes, owners = _unique_pairs(*_collect(sequences, lambda hashed: np.flatnonzero(np.isin(hashed, candidates))))
    repeats = _held_by_more_than(hashes, REPEAT_SEQUENCES)
    if len(repeats):  # without them every hash left is held by at most REPEAT_SEQUENCES sequences
        hashes, owners = _unique_pairs(*_collect(sequences, lambda hashed: _clear_of_repeats(hashed, candidates, repeats)))
    linked = hashes[1:] == hashes[:-1]
    return owners[:-1][linked], owners[1:][linked]


def _clear_of_repeats(hashed: np.ndarray, candidates: np.ndarray, repeats: np.ndarray) -> np.ndarray:
    """Positions of candidate k-mers that share no base with a repeat's k-mer."""
    in_repeat = np.concatenate([[0], np.cumsum(np.isin(hashed, repeats))])
    positions = np.arange(len(hashed))
    near = in_repeat[np.minimum(positions + KMER, len(hashed))] > in_repeat[np.maximum(positions - KMER + 1, 0)]
    return np.flatnonzero(np.isin(hashed, candidates) & ~near)


def _collect(sequences: list[str], pick) -> tuple[np.ndarray, np.ndarray]:
    """(hash, sequence index) at the k-mer positions ``pick(hashes)`` chooses, chunk by chunk."""
    hashes, owners = [np.empty(0, np.uint64)], [np.empty(0, np.int64)]
    start = 0
    while start < len(sequences):
        stop, size = start, 0
        while stop < len(sequences) and (stop == start or size + len(sequences[stop]) <= CHUNK_BASES):
            size += len(sequences[stop]) + 1
            stop += 1
        hashed, owner = _kmer_hashes(sequences[start:stop])
        picked = pick(hashed)
        picked = picked[hashed[picked] != _MISSING]
        hashes.append(hashed[picked])
        owners.append(owner[picked] + start)
        start = stop
    return np.concatenate(hashes), np.concatenate(owners)


def _kmer_hashes(sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hash of the canonical 32-mer starting at every position (``_MISSING`` where it holds an N), and its sequence."""
    # one buffer, sequences separated by an N, so no 32-mer spans two of them
    bases = encode("N".join(sequences))
    owner = np.repeat(np.arange(len(sequences)), [len(s) + 1 for s in sequences])[: len(bases)]
    count = len(bases) - KMER + 1
    if count < 1:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    missing = np.concatenate([[0], np.cumsum(bases == 4)])
    valid = missing[KMER : KMER + count] == missing[:count]
    two_bits = (bases & 3).astype(np.uint64)
    forward = np.zeros(count, dtype=np.uint64)
    reverse = np.zeros(count, dtype=np.uint64)
    for offset in range(KMER):
        part = two_bits[offset : offset + count]
        forward = (forward << np.uint64(2)) | part
        reverse |= (np.uint64(3) - part) << np.uint64(2 * offset)
    hashed = np.minimum(forward, reverse) * _MULTIPLIER
    hashed[~valid] = _MISSING
    return hashed, owner[:count]


def _minimizer_positions(hashed: np.ndarray, window: int) -> np.ndarray:
    """Positions of the smallest hash of every run of ``window`` consecutive k-mers."""
    count = len(hashed)
    if window <= 1 or count < window:
        return np.arange(count)
    # a k-mer is a minimizer when it is the minimum of some run holding it, i.e. when it equals
    # the largest run minimum among the runs holding it (running min, then running max: 2w passes)
    runs = count - window + 1
    run_min = hashed[:runs].copy()
    for shift in range(1, window):
        np.minimum(run_min, hashed[shift : shift + runs], out=run_min)
    edge = np.zeros(window - 1, dtype=np.uint64)
    padded = np.concatenate([edge, run_min, edge])
    cover = padded[:count].copy()
    for shift in range(1, window):
        np.maximum(cover, padded[shift : shift + count], out=cover)
    return np.flatnonzero(hashed == cover)


def _unique_pairs(hashes: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (hash, owner) pairs, sorted by hash then owner."""
    order = np.lexsort((owners, hashes))
    hashes, owners = hashes[order], owners[order]
    distinct = np.ones(len(hashes), dtype=bool)
    distinct[1:] = (hashes[1:] != hashes[:-1]) | (owners[1:] != owners[:-1])
    return hashes[distinct], owners[distinct]


def _held_by_more_than(sorted_hashes: np.ndarray, count: int) -> np.ndarray:
    """The hashes of distinct (hash, owner) rows, sorted, that more than ``count`` owners hold."""
    if not len(sorted_hashes):
        return sorted_hashes
    starts = np.flatnonzero(np.concatenate([[True], sorted_hashes[1:] != sorted_hashes[:-1]]))
    return sorted_hashes[starts[np.diff(np.append(starts, len(sorted_hashes))) > count]]
