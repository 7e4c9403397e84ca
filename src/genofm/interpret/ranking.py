"""Ranking a head's features and measuring how stable that ranking is.

Linear heads are ranked by standardised coefficient (sign kept, one ranking per class row), with
two stability measures: the spread of the coefficient across the cross-validation fits made while
choosing C (stored in the model, free), and the fraction of bootstrap refits at the chosen C in
which the feature stays in the top N with the same sign (needs the training data). Non-linear
heads are ranked by permutation importance on the test split, with the direction taken from the
feature's own one-vs-rest AUROC.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from genofm.evaluation.metrics import auroc
from genofm.heads.base import Head, blas_threads_for

RANKED_COLUMNS = ["feature", "class", "coefficient", "abs_coefficient", "rank", "stability"]
#: explainers read one value column ("coefficient"); written tables name it by what it holds
PERMUTATION_NAMES = {"coefficient": "permutation_importance", "abs_coefficient": "abs_permutation_importance"}


def named_by_value(ranked: pd.DataFrame, linear: bool) -> pd.DataFrame:
    """The ranking as written to features.tsv and the report: a linear head's value column stays
    ``coefficient`` (standardised), a non-linear head's becomes ``permutation_importance``."""
    return ranked if linear else ranked.rename(columns=PERMUTATION_NAMES)


def _row_classes(n_rows: int, classes: Sequence[str]) -> list[str]:
    """Binary models have one coefficient row, for the positive (last) class."""
    return [classes[-1]] if n_rows == 1 else list(classes)


def linear_ranking(head: Head, feature_names: Sequence[str], classes: Sequence[str]) -> pd.DataFrame:
    """One row per feature and class row: signed coefficient, rank within the class, CV mean/SD."""
    coef = np.asarray(head.coef_, dtype=np.float64)
    cv = getattr(head, "cv_coef_", None)
    frames = []
    for r, name in enumerate(_row_classes(coef.shape[0], classes)):
        values = coef[r]
        frame = pd.DataFrame({"feature": list(feature_names), "class": name, "coefficient": values, "abs_coefficient": np.abs(values)})
        frame["rank"] = rankdata(-frame["abs_coefficient"].to_numpy(), method="ordinal").astype(int)
        frame["stability"] = np.nan
        if cv is not None and cv.size:
            folds = cv[:, r, :]
            frame["cv_mean"] = folds.mean(axis=0)
            frame["cv_sd"] = folds.std(axis=0, ddof=1) if folds.shape[0] > 1 else 0.0
            frame["cv_same_sign"] = (np.sign(folds) == np.sign(values)).mean(axis=0)
        if len(classes) == 2:
            frame["towards"] = np.where(values >= 0, classes[-1], classes[0])
        else:
            frame["towards"] = np.where(values >= 0, name, f"not {name}")
        frames.append(frame.sort_values("rank"))
    return pd.concat(frames, ignore_index=True)


def _stratified_group_bootstrap(y: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a bootstrap sample drawn by group within each class (copies stay together)."""
    codes, uniques = pd.factorize(groups)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    group_label = np.zeros(len(uniques), dtype=np.int64)
    group_label[codes] = y
    chosen = []
    for k in np.unique(y):
        members = np.flatnonzero(group_label == k)
        chosen.append(rng.choice(members, size=members.size, replace=True))
    chosen = np.concatenate(chosen)
    return np.concatenate([order[bounds[g] : bounds[g + 1]] for g in chosen])


def bootstrap_stability(
    head: Head,
    ranked: pd.DataFrame,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    classes: Sequence[str],
    feature_names: Sequence[str],
    top: int,
    refits: int,
    seed: int = 0,
) -> pd.DataFrame:
    """Fill ``stability``: share of refits keeping each feature in the class's top ``top`` with the same sign."""
    if refits <= 0:
        return ranked
    rng = np.random.default_rng(seed)
    coef = np.asarray(head.coef_)
    kept = np.zeros_like(coef)
    with blas_threads_for(X):
        for _ in range(refits):
            rows = _stratified_group_bootstrap(y, groups, rng)
            refit = head.refit_fixed(X[rows], y[rows])
            for r in range(coef.shape[0]):
                top_idx = np.argsort(-np.abs(refit[r]), kind="stable")[:top]
                same = np.sign(refit[r, top_idx]) == np.sign(coef[r, top_idx])
                kept[r, top_idx[same]] += 1
    ranked = ranked.copy()
    names = {n: i for i, n in enumerate(feature_names)}
    row_of = {c: r for r, c in enumerate(_row_classes(coef.shape[0], classes))}
    ranked["stability"] = [kept[row_of[c], names[f]] / refits for f, c in zip(ranked["feature"], ranked["class"])]
    return ranked


def _score(truth: np.ndarray, proba: np.ndarray) -> float:
    """Macro one-vs-rest AUROC (binary: AUROC of the positive class)."""
    if proba.shape[1] == 2:
        return auroc(truth == 1, proba[:, 1])
    return float(np.mean([auroc(truth == k, proba[:, k]) for k in range(proba.shape[1])]))


def permutation_ranking(
    head: Head,
    feature_names: Sequence[str],
    X: np.ndarray,
    y: np.ndarray,
    classes: Sequence[str],
    repeats: int = 5,
    screen: int = 200,
    seed: int = 0,
    budget: float = 2e7,
) -> pd.DataFrame:
    """Drop in test AUROC when a feature's column is shuffled (mean over ``repeats``), for non-linear heads.

    Only the ``screen`` features with the strongest univariate association (|AUROC - 0.5|) are
    permuted, which keeps wide feature sets (thousands of k-mers, Sei's 21,907 profiles)
    tractable; ``stability`` is the share of repeats with a positive drop. Shuffled copies are
    scored in batches of at most ``budget`` matrix elements.
    """
    n_classes = len(classes)
    assoc = np.zeros((X.shape[1], n_classes))
    ranks = rankdata(X, axis=0)
    for k in range(n_classes):
        truth = y == k
        n_pos = truth.sum()
        assoc[:, k] = (ranks[truth].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * (truth.size - n_pos))
    strength = np.abs(assoc - 0.5).max(axis=1)
    chosen = np.argsort(-strength, kind="stable")[: min(screen, X.shape[1])]
    rng = np.random.default_rng(seed)
    base = _score(y, head.predict_proba(X))
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    # one predict_proba call scores many shuffled copies at once: per-call overhead dominates for trees
    jobs = [(i, r) for i in range(chosen.size) for r in range(repeats)]
    per_call = max(1, int(budget // max(1, n * X.shape[1])))
    drops = np.zeros((chosen.size, repeats))
    for start in range(0, len(jobs), per_call):
        batch = jobs[start : start + per_call]
        stacked = np.tile(X, (len(batch), 1))
        for b, (i, _) in enumerate(batch):
            stacked[b * n : (b + 1) * n, chosen[i]] = rng.permutation(X[:, chosen[i]])
        proba = head.predict_proba(stacked)
        for b, (i, r) in enumerate(batch):
            drops[i, r] = base - _score(y, proba[b * n : (b + 1) * n])
    importance = drops.mean(axis=1)
    if n_classes == 2:
        towards = np.where(assoc[chosen, 1] >= 0.5, classes[1], classes[0])
        sign = np.where(assoc[chosen, 1] >= 0.5, 1.0, -1.0)
        row_class = [classes[-1]] * chosen.size
    else:
        best = assoc[chosen].argmax(axis=1)
        towards = np.asarray(classes, dtype=object)[best]
        sign = np.ones(chosen.size)
        row_class = list(towards)
    frame = pd.DataFrame({
        "feature": [feature_names[j] for j in chosen],
        "class": row_class,
        "coefficient": sign * importance,
        "abs_coefficient": np.abs(importance),
        "stability": (drops > 0).mean(axis=1),
        "importance_sd": drops.std(axis=1),
        "towards": towards,
    })
    frame["rank"] = frame.groupby("class")["abs_coefficient"].rank(ascending=False, method="first").astype(int)
    frame = frame.sort_values(["class", "rank"]).reset_index(drop=True)
    return frame[[*RANKED_COLUMNS, "importance_sd", "towards"]]


def backbone_shares(ranked: pd.DataFrame, sources: Sequence[str], feature_names: Sequence[str], top: int) -> pd.DataFrame:
    """Per class and backbone of a joined model: how much of the ranking each backbone holds.

    ``weight_share`` is the backbone's share of the summed absolute standardised coefficients (or
    permutation importances) of the class; ``top_share`` its share of the class's top ``top``
    features. Standardised features make the first comparable across backbones of any scale.
    """
    source_of = dict(zip(feature_names, sources))
    labels = list(dict.fromkeys(sources))
    width = {label: sum(1 for s in sources if s == label) for label in labels}
    rows = []
    for name, part in ranked.groupby("class", sort=False):
        part = part.assign(backbone=part["feature"].map(source_of))
        total = float(part["abs_coefficient"].sum()) or 1.0
        shown = part[part["rank"] <= top]
        for label in labels:
            mine = part[part["backbone"] == label]
            in_top = int((shown["backbone"] == label).sum())
            rows.append({
                "class": name,
                "backbone": label,
                "n_features": width[label],
                "weight_share": float(mine["abs_coefficient"].sum()) / total,
                "top_features": in_top,
                "top_share": in_top / max(1, len(shown)),
                "best_rank": int(mine["rank"].min()) if not mine.empty else None,
            })
    return pd.DataFrame(rows)
