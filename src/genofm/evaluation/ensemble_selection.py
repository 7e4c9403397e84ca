"""Greedy ensemble selection (Caruana et al., ICML 2004) on the validation split.

Models trained on one dataset (k-mer and stacked heads, CNN seeds and architectures...) make
different mistakes, and a weighted average of them can beat any one. Forward selection with
replacement adds, one model at a time, the one whose inclusion most lowers the validation log-loss of
the running average, and keeps the best prefix of those steps; a model's weight is how often it was
added. Starting from the best single model and keeping the best prefix means the selection can only
match or improve that model's validation loss. Log-loss rather than accuracy makes every row count
in every step (not only those near the decision boundary), which overfits a small validation split
less. The test split plays no part: its metrics stay an honest estimate of the selected ensemble.
Its validation metrics do not: they are what the weights were fitted to. With validation splits of
a few hundred rows the weights follow the split's noise; on the four public benchmark sets the
selected ensemble did not beat the simpler rows on test (docs/public-benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from genofm.errors import GenofmError
from genofm.evaluation.seeds import aligned_probabilities

#: selection steps; with replacement, the weights are multiples of 1/steps of the best prefix
DEFAULT_STEPS = 25
_EPS = 1e-12


def log_loss(truth: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-probability of the true class (probabilities clipped away from 0)."""
    return float(-np.mean(np.log(np.clip(proba[np.arange(truth.size), truth], _EPS, 1.0))))


def select_weights(truth: np.ndarray, probabilities: Sequence[np.ndarray], steps: int = DEFAULT_STEPS) -> np.ndarray:
    """Caruana's forward selection with replacement; returns one weight per model (summing to 1).

    Ties go to the model listed first, so the result is deterministic.
    """
    if not probabilities:
        raise GenofmError("ensemble selection needs at least one model")
    if steps < 1:
        raise GenofmError(f"ensemble selection steps {steps}: use 1 or more")
    stack = np.stack(probabilities)
    counts = np.zeros(len(stack), dtype=np.int64)
    total = np.zeros_like(stack[0])
    best_loss, best_counts = np.inf, counts.copy()
    for step in range(1, steps + 1):
        losses = [log_loss(truth, (total + p) / step) for p in stack]
        pick = int(np.argmin(losses))
        counts[pick] += 1
        total += stack[pick]
        if losses[pick] < best_loss - 1e-12:
            best_loss, best_counts = losses[pick], counts.copy()
    return best_counts / best_counts.sum()


def select_ensemble(model_dirs: Sequence[Path], classes: Sequence[str], steps: int = DEFAULT_STEPS) -> dict[Path, float]:
    """The selected models and their weights, from each folder's ``valid_predictions.tsv`` (never test)."""
    _, truth, probabilities = aligned_probabilities(model_dirs, classes, "valid")
    weights = select_weights(truth, probabilities, steps)
    return {Path(d): float(w) for d, w in zip(model_dirs, weights) if w > 0}
