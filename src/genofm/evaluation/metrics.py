"""Classification metrics from class probabilities, with stratified bootstrap confidence intervals.

Ranking metrics (AUROC, AUPRC) are computed from probabilities, never from argmax labels (one of
the seed papers' flaws was a "multi-class AUC" from hard labels). Binary tasks score the last class
of the dataset's class list as positive; multi-class tasks report one-vs-rest per class and their
macro average. The metrics are re-implemented in numpy (checked against scikit-learn in the tests)
because a 1,000-fold bootstrap through scikit-learn's validating wrappers is needlessly slow.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata

METRICS = ("auroc", "auprc", "mcc", "f1", "accuracy")
PER_CLASS_METRICS = ("auroc", "auprc", "f1")


def auroc(truth: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic (ties count one half)."""
    truth = np.asarray(truth, dtype=bool)
    n_pos = int(truth.sum())
    n_neg = truth.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    u = ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def average_precision(truth: np.ndarray, score: np.ndarray) -> float:
    """Step-wise area under the precision-recall curve, sum over thresholds of dRecall x precision."""
    truth = np.asarray(truth, dtype=bool)
    n_pos = int(truth.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    sorted_score = np.asarray(score, dtype=float)[order]
    hits = truth[order]
    # one threshold per distinct score: the last index of each run of equal scores
    last = np.r_[np.flatnonzero(np.diff(sorted_score) != 0), sorted_score.size - 1]
    tps = np.cumsum(hits)[last]
    precision = tps / (last + 1.0)
    recall = tps / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def confusion(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted class."""
    return np.bincount(truth * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def mcc(matrix: np.ndarray) -> float:
    """Matthews correlation (Gorodkin's multi-class form); 0 when a margin is degenerate."""
    total = matrix.sum()
    correct = np.trace(matrix)
    true_counts = matrix.sum(axis=1).astype(float)
    pred_counts = matrix.sum(axis=0).astype(float)
    numerator = correct * total - true_counts @ pred_counts
    denominator = np.sqrt((total**2 - pred_counts @ pred_counts) * (total**2 - true_counts @ true_counts))
    return float(numerator / denominator) if denominator > 0 else 0.0


def f1_per_class(matrix: np.ndarray) -> np.ndarray:
    """One-vs-rest F1 of each class (0 where the class is never true nor predicted)."""
    tp = np.diag(matrix).astype(float)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def point_metrics(truth: np.ndarray, proba: np.ndarray) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Overall metrics and per-class (one-vs-rest) metrics for integer labels and a probability matrix."""
    n_classes = proba.shape[1]
    predicted = np.argmax(proba, axis=1)
    matrix = confusion(truth, predicted, n_classes)
    class_auroc = np.array([auroc(truth == k, proba[:, k]) for k in range(n_classes)])
    class_auprc = np.array([average_precision(truth == k, proba[:, k]) for k in range(n_classes)])
    class_f1 = f1_per_class(matrix)
    per_class = {"auroc": class_auroc, "auprc": class_auprc, "f1": class_f1}
    if n_classes == 2:
        overall = {"auroc": class_auroc[1], "auprc": class_auprc[1], "f1": class_f1[1]}
    else:
        # classes absent from the evaluated rows have no one-vs-rest AUROC/AUPRC; average the others
        present = np.bincount(truth, minlength=n_classes) > 0
        overall = {
            "auroc": _nanmean(class_auroc),
            "auprc": _nanmean(class_auprc),
            "f1": float(np.mean(class_f1[present | (np.bincount(predicted, minlength=n_classes) > 0)])),
        }
    overall["mcc"] = mcc(matrix)
    overall["accuracy"] = float(np.trace(matrix) / matrix.sum())
    return {k: float(overall[k]) for k in METRICS}, per_class


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def evaluate(
    truth: Sequence[int],
    proba: np.ndarray,
    classes: Sequence[str],
    n_bootstrap: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Metrics with percentile intervals from a class-stratified bootstrap of the evaluated rows.

    Resampling within each class keeps every class present in every replicate, so AUROC is always
    defined. Returns a JSON-ready dict (see docs/output.md, ``metrics.json``).
    """
    truth = np.asarray(truth, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    n_classes = len(classes)
    if proba.ndim != 2 or proba.shape != (truth.size, n_classes):
        raise ValueError(f"probabilities of shape {proba.shape} do not match {truth.size} rows x {n_classes} classes")
    present = np.unique(truth)
    if present.size < 2:
        raise ValueError("evaluation needs at least two classes among the evaluated rows")
    overall, per_class = point_metrics(truth, proba)

    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(truth == k) for k in range(n_classes)]
    boot_overall = np.full((n_bootstrap, len(METRICS)), np.nan)
    boot_class = {m: np.full((n_bootstrap, n_classes), np.nan) for m in PER_CLASS_METRICS}
    for b in range(n_bootstrap):
        sample = np.concatenate([rng.choice(idx, size=idx.size, replace=True) for idx in members if idx.size])
        these, these_class = point_metrics(truth[sample], proba[sample])
        boot_overall[b] = [these[m] for m in METRICS]
        for m in PER_CLASS_METRICS:
            boot_class[m][b] = these_class[m]

    def entry(value: float, samples: np.ndarray) -> dict:
        low, high = _interval(samples, level) if n_bootstrap else (float("nan"), float("nan"))
        return {"value": _clean(value), "ci_low": _clean(low), "ci_high": _clean(high)}

    counts = np.bincount(truth, minlength=n_classes)
    return {
        "n": int(truth.size),
        "classes": list(classes),
        "positive_class": classes[-1] if n_classes == 2 else None,
        "averaging": "binary (positive = last class)" if n_classes == 2 else "macro one-vs-rest from probabilities",
        "bootstrap": {"replicates": int(n_bootstrap), "seed": int(seed), "level": level, "stratified": True},
        "class_counts": {c: int(n) for c, n in zip(classes, counts)},
        "metrics": {m: entry(overall[m], boot_overall[:, i]) for i, m in enumerate(METRICS)},
        "per_class": {
            c: {"n": int(counts[k]), **{m: entry(per_class[m][k], boot_class[m][:, k]) for m in PER_CLASS_METRICS}}
            for k, c in enumerate(classes)
        },
    }


def _clean(value: float) -> float | None:
    """JSON has no NaN: undefined values become null."""
    return None if value is None or not np.isfinite(value) else float(value)
