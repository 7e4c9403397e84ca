"""Sequence logos for the reports: matched JASPAR motifs and attribution hot spots (logomaker).

A motif name in a table asks the reader to trust the matching; its logo beside the k-mers or
sites it matched lets them check it. Motif logos show information content (bits) computed from
the matrix's probabilities; hot-spot logos show per-base attribution scores (integrated
gradients, in-silico mutagenesis, attention) at the bases present, so a letter's height and sign
say how much that base pushed towards the explained class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genofm.interpret.jaspar import BASES, Motif

#: bases shown either side of a hot spot's peak
HOTSPOT_FLANK = 12


def motif_probabilities(motif: Motif) -> pd.DataFrame:
    """(length x A,C,G,T) probabilities recovered from the matrix's log2 odds against a uniform background."""
    prob = 0.25 * np.power(2.0, np.asarray(motif.log_odds, dtype=np.float64))
    prob /= prob.sum(axis=1, keepdims=True)
    return pd.DataFrame(prob, columns=list(BASES))


def information_matrix(motif: Motif) -> pd.DataFrame:
    """Per-position letter heights in bits (probability x information content), as logomaker draws them."""
    import logomaker

    return logomaker.transform_matrix(motif_probabilities(motif), from_type="probability", to_type="information")


def hotspot_matrix(sequence: str, scores: np.ndarray, flank: int = HOTSPOT_FLANK) -> tuple[pd.DataFrame, int]:
    """Scores of the bases present in the window around the sequence's highest |score| (heights; N = 0).

    Returns the matrix and the window's start in the sequence.
    """
    scores = np.asarray(scores, dtype=np.float64)
    peak = int(np.argmax(np.abs(scores))) if scores.size else 0
    start = max(0, min(peak - flank, len(sequence) - (2 * flank + 1)))
    end = min(len(sequence), start + 2 * flank + 1)
    matrix = np.zeros((end - start, 4))
    for row, position in enumerate(range(start, end)):
        base = sequence[position]
        if base in BASES:
            matrix[row, BASES.index(base)] = scores[position]
    return pd.DataFrame(matrix, columns=list(BASES)), start


def _grid(n: int):
    from matplotlib.figure import Figure

    cols = 2 if n > 1 else 1
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(5.2 * cols, 1.9 * rows))
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(n)]


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def motif_logo_figure(motifs: Sequence[tuple[str, Motif]], path: Path) -> bool:
    """One information-content logo per (caption, motif); False (no file) when there is none."""
    import logomaker

    if not motifs:
        return False
    fig, axes = _grid(len(motifs))
    for ax, (caption, motif) in zip(axes, motifs):
        logomaker.Logo(information_matrix(motif), ax=ax, color_scheme="classic")
        ax.set_ylim(0, 2)
        ax.set_ylabel("bits", fontsize=8)
        ax.set_title(caption, fontsize=9)
        ax.tick_params(labelsize=7)
    _save(fig, Path(path))
    return True


def hotspot_logo_figure(examples: Sequence[tuple[str, str, np.ndarray]], path: Path, score_name: str) -> bool:
    """One attribution logo per (caption, sequence, per-base scores) around its strongest base."""
    import logomaker

    if not examples:
        return False
    fig, axes = _grid(len(examples))
    for ax, (caption, sequence, scores) in zip(axes, examples):
        matrix, start = hotspot_matrix(sequence, scores)
        matrix.index = np.arange(start, start + len(matrix))
        logomaker.Logo(matrix, ax=ax, color_scheme="classic")
        ax.axhline(0, color="#888", lw=0.5)
        ax.set_ylabel(score_name, fontsize=8)
        ax.set_title(caption, fontsize=9)
        ax.tick_params(labelsize=7)
    _save(fig, Path(path))
    return True
