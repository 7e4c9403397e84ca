"""From per-base importance scores to candidate motif sites, JASPAR matches and enrichment tests.

The seed paper's recipe: take runs of high attention (at least 8 bp above the sequence's
threshold, widened by 4 bp on each side), scan them with JASPAR CORE vertebrate matrices, and ask
per motif whether sites from one class contain it more often than sites from the other classes
(hypergeometric test, Benjamini-Hochberg across motifs). Matrices come from the shared offline
JASPAR loader (:mod:`genofm.interpret.jaspar`, same release and log-odds as the k-mer report); a
match needs a score whose p-value under a uniform background is below a cut-off, computed exactly
from the discretised score distribution (as FIMO does) rather than a relative-score cut-off.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from genofm.errors import GenofmError
from genofm.interpret.jaspar import Motif, load_motifs
from genofm.sequence import encode

#: score resolution (bits) of the discretised distribution behind the p-value thresholds
_RESOLUTION = 0.05


def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """Step-up FDR-adjusted p-values (q-values), in the input order."""
    p = np.asarray(pvalues, dtype=np.float64)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(ranked, 1.0)
    return q


def high_score_runs(scores: np.ndarray, threshold: float, min_length: int = 8, flank: int = 4) -> list[tuple[int, int]]:
    """Runs of ``scores > threshold`` at least ``min_length`` long, widened by ``flank`` and merged."""
    above = np.concatenate([[False], np.asarray(scores) > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    runs = []
    n = len(scores)
    for start, end in zip(edges[0::2], edges[1::2]):
        if end - start >= min_length:
            runs.append((max(0, int(start) - flank), min(n, int(end) + flank)))
    merged: list[tuple[int, int]] = []
    for start, end in runs:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def score_threshold(pwm: np.ndarray, pvalue: float) -> float:
    """Smallest score whose chance of being reached by a uniform random site is <= ``pvalue``.

    ``pwm`` is (length, 4) log-odds; the score distribution is computed exactly on a grid of
    ``_RESOLUTION`` bits by convolving the per-column distributions.
    """
    steps = np.round(np.asarray(pwm) / _RESOLUTION).astype(np.int64)
    low = steps.min(axis=1)
    shifted = steps - low[:, None]
    dist = np.ones(1)
    for column in shifted:
        kernel = np.zeros(int(column.max()) + 1)
        np.add.at(kernel, column, 0.25)
        dist = np.convolve(dist, kernel)
    tail = np.cumsum(dist[::-1])[::-1]  # P(score >= bin)
    ok = np.flatnonzero(tail <= pvalue)
    index = int(ok[0]) if ok.size else dist.size - 1
    return float((index + low.sum()) * _RESOLUTION)


def select_motifs(release: str, ids: Sequence[str] = ()) -> list[Motif]:
    """JASPAR CORE vertebrate matrices of ``release`` (all, or the listed matrix ids)."""
    motifs = list(load_motifs(release))
    if not ids:
        return motifs
    by_id = {m.matrix_id: m for m in motifs}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise GenofmError(f"JASPAR matrix {missing[0]!r} is not among the {release} CORE vertebrate matrices; check -O motif_ids")
    return [by_id[i] for i in ids]


def thresholds(motifs: Sequence[Motif], pvalue: float) -> np.ndarray:
    """Per-motif match score cut-offs at ``pvalue``."""
    return np.array([score_threshold(m.log_odds, pvalue) for m in motifs], dtype=np.float64)


def scan(sites: Sequence[str], motifs: Sequence[Motif], cutoffs: np.ndarray) -> np.ndarray:
    """(sites, motifs) bool: whether a site scores >= the motif's cut-off on either strand (N never matches).

    All matrices are scored in one 1-D convolution: each PWM is zero-padded to the longest
    motif, and sites are padded with N, whose score of -1e4 rules out matches running off a site.
    """
    import torch

    hits = np.zeros((len(sites), len(motifs)), dtype=bool)
    if not sites or not motifs:
        return hits
    longest = max(m.log_odds.shape[0] for m in motifs)
    width = max(len(s) for s in sites) + longest
    codes = np.full((len(sites), width), 4, dtype=np.int64)
    for i, site in enumerate(sites):
        codes[i, : len(site)] = encode(site.upper())
    onehot = np.zeros((len(sites), 5, width), dtype=np.float32)
    onehot[np.arange(len(sites))[:, None], codes, np.arange(width)[None, :]] = 1.0
    weight = np.zeros((2 * len(motifs), 5, longest), dtype=np.float32)
    for j, motif in enumerate(motifs):
        length = motif.log_odds.shape[0]
        weight[2 * j, :4, :length] = motif.log_odds.T
        weight[2 * j + 1, :4, :length] = motif.log_odds[::-1, ::-1].T  # reverse complement
        weight[2 * j : 2 * j + 2, 4, :length] = -1e4
    with torch.no_grad():
        scores = torch.nn.functional.conv1d(torch.from_numpy(onehot), torch.from_numpy(weight))
    best = scores.amax(dim=2).view(len(sites), len(motifs), 2).amax(dim=2).numpy()
    return best >= np.asarray(cutoffs, dtype=np.float32)[None, :] - 1e-4


def enrichment(hits: np.ndarray, site_classes: Sequence[str], classes: Sequence[str], motifs: Sequence[Motif]) -> pd.DataFrame:
    """Per class and motif: are this class's sites more often matched than the other classes' sites?

    One-sided hypergeometric test (equivalent to Fisher's exact test, alternative "greater"),
    Benjamini-Hochberg within each class over all motifs scanned; Haldane-corrected odds ratio.
    """
    site_classes = np.asarray(site_classes)
    total_sites = len(site_classes)
    total_hits = hits.sum(axis=0)
    frames = []
    for cls in classes:
        in_class = site_classes == cls
        n_class = int(in_class.sum())
        if n_class == 0 or n_class == total_sites:
            continue
        k = hits[in_class].sum(axis=0)
        other_hits = total_hits - k
        n_other = total_sites - n_class
        p = stats.hypergeom.sf(k - 1, total_sites, total_hits, n_class)
        odds = ((k + 0.5) * (n_other - other_hits + 0.5)) / ((n_class - k + 0.5) * (other_hits + 0.5))
        frames.append(
            pd.DataFrame(
                {
                    "class": cls,
                    "motif_id": [m.matrix_id for m in motifs],
                    "motif_name": [m.name for m in motifs],
                    "tf_class": [getattr(m, "tf_class", "") for m in motifs],
                    "class_sites_with_match": k,
                    "class_sites": n_class,
                    "other_sites_with_match": other_hits,
                    "other_sites": n_other,
                    "odds_ratio": odds,
                    "p_value": p,
                    "q_value": benjamini_hochberg(p),
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            columns=["class", "motif_id", "motif_name", "tf_class", "class_sites_with_match", "class_sites", "other_sites_with_match", "other_sites", "odds_ratio", "p_value", "q_value"]
        )
    return pd.concat(frames, ignore_index=True)
