"""What every head shares: scikit-learn's estimator API plus pickle-free persistence.

Heads are fitted on integer labels ``0..K-1`` that index the dataset's class list, so the positive
class of a binary task (the last one) is always column 1 of ``predict_proba``. Probabilities are
computed by each head from the same arrays that are saved, so a reloaded model reproduces them
exactly.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from genofm.errors import GenofmError


#: below this many matrix cells a multi-threaded BLAS only adds synchronisation cost
_SINGLE_THREAD_CELLS = 20_000_000


def blas_threads_for(X: np.ndarray):
    """Single-threaded BLAS for head-sized matrices.

    The solvers run thousands of small matrix-vector products; with OpenBLAS threads on a shared
    2-core machine (a Nextflow task next to others) each product was measured 40x slower
    (7.3 ms vs 0.19 ms for 2,000 x 344), turning a 3-second fit into two minutes.
    """
    if X.shape[0] * max(X.shape[1], 1) < _SINGLE_THREAD_CELLS:
        return threadpool_limits(limits=1, user_api="blas")
    return contextlib.nullcontext()


def proba_from_scores(z: np.ndarray) -> np.ndarray:
    """Class probabilities from a linear or MLP head's output scores (n, 1 or K).

    One column is a binary logistic output whose probability is the positive class's (column 1);
    several are a softmax over the classes.
    """
    from scipy.special import expit, softmax

    if z.shape[1] == 1:
        p = expit(z[:, 0])
        return np.column_stack([1.0 - p, p])
    return softmax(z, axis=1)


class Head(ClassifierMixin, BaseEstimator):
    """Base class; subclasses implement ``fit``, ``predict_proba``, ``arrays``, ``state`` and ``restore``."""

    #: name used by ``--head`` and stored in model.json
    name: ClassVar[str]
    #: whether ``coef_`` holds one standardised coefficient per feature and class row
    linear: ClassVar[bool] = False
    #: extra files (besides model.json and model.safetensors) the head writes into the model folder
    extra_files: ClassVar[tuple[str, ...]] = ()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1)

    def arrays(self) -> dict[str, np.ndarray]:
        """Fitted parameters, saved into model.safetensors."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        """JSON-ready hyper-parameters, chosen values and training log."""
        raise NotImplementedError

    def save_files(self, directory: Path) -> None:
        """Write any extra files; heads whose parameters are all arrays have none."""

    def selection(self) -> dict[str, str]:
        """Which data chose what during fitting (hyper-parameter -> split), recorded in model.json and the report."""
        stopping = (getattr(self, "log_", None) or {}).get("early_stopping_on")
        return {"early stopping": stopping} if stopping else {}

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], state: dict[str, Any], directory: Path) -> "Head":
        raise NotImplementedError


def balanced_class_weights(y: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Per-class weights n / (K * n_k), scikit-learn's "balanced" rule (K: classes present; absent ones 0).

    The one class-weight formula of genofm: heads weight rows by it and the end-to-end training
    loop (:mod:`genofm.finetune.loop`) weights its cross-entropy by it.
    """
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y, minlength=n_classes or 0)
    present = counts > 0
    per_class = np.zeros(counts.size)
    per_class[present] = y.size / (present.sum() * counts[present])
    return per_class


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights n / (K * n_k), scikit-learn's "balanced" rule."""
    return balanced_class_weights(y)[y]


def cv_splits(y: np.ndarray, groups: np.ndarray | None, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that keep each group (a sequence and its reverse-complement copy) in one fold.

    Without grouping, an augmented copy in the validation fold of its own original would make the
    cross-validated score optimistic and bias the choice of regularisation towards overfitting.
    """
    counts = np.bincount(y)
    n_groups = [len(np.unique(groups[y == k])) if groups is not None else counts[k] for k in range(counts.size)]
    if min(n_groups) < folds:
        k = int(np.argmin(n_groups))
        raise GenofmError(
            f"class index {k} has only {n_groups[k]} training sequences, fewer than --cv-folds {folds}; "
            "lower --cv-folds or add training data"
        )
    if groups is None:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(y.size), y))
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(y.size), y, groups))


def holdout(y: np.ndarray, groups: np.ndarray | None, seed: int, fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """A grouped, stratified ~10% early-stopping split of the training rows (when no valid split exists)."""
    folds = max(2, int(round(1.0 / fraction)))
    counts = np.bincount(y)
    if counts.min() < folds:
        folds = max(2, int(counts.min()))
    train_idx, stop_idx = cv_splits(y, groups, folds, seed)[0]
    return train_idx, stop_idx


def has_all_classes(y: np.ndarray | None, n_classes: int) -> bool:
    return y is not None and y.size > 0 and np.unique(y).size == n_classes


def early_stopping_rows(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | None,
    X_valid: np.ndarray | None,
    y_valid: np.ndarray | None,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """Rows to fit on and rows to stop on, and a phrase saying which (for the training log).

    The valid split when it holds every class, so that early stopping never sees test rows and the
    choice is reported; otherwise a grouped ~10% holdout of train. One rule for every head that
    stops early (MLP, gradient boosting).
    """
    n_classes = np.unique(y).size
    if has_all_classes(y_valid, n_classes):
        return X, y, X_valid, np.asarray(y_valid, dtype=np.int64), "valid split"
    fit_idx, stop_idx = holdout(y, groups, seed)
    return X[fit_idx], y[fit_idx], X[stop_idx], y[stop_idx], "grouped 10% holdout of train"
