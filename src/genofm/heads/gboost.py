"""Histogram gradient boosting: a non-linear head for feature sets where interactions matter.

The seed study's tree model (LightGBM on Sei's TF profiles) is reproduced with scikit-learn's
HistGradientBoostingClassifier, early-stopped on the validation split (or a grouped holdout of
train). Trees are not arrays, so the fitted model is stored with skops (a zip of JSON and
``.npy`` files, no pickle) and reloaded only if it contains nothing beyond an explicit list of
trusted types.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from genofm.errors import GenofmError
from genofm.heads.base import Head, early_stopping_rows

SKOPS_FILE = "model.skops"
#: types beyond skops' defaults that a saved HistGradientBoostingClassifier legitimately contains
TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]
SMALL_ROWS = 5000


def _threads(n_rows: int):
    """One OpenMP thread for small problems, where thread start-up and synchronisation cost more than they save."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp") if n_rows < SMALL_ROWS else contextlib.nullcontext()


class GBoostHead(Head):
    """HistGradientBoostingClassifier with early stopping on held-out loss."""

    name = "gboost"
    extra_files = (SKOPS_FILE,)

    def __init__(
        self,
        learning_rate: float = 0.1,
        max_iter: int = 300,
        max_leaf_nodes: int = 31,
        l2_regularization: float = 0.0,
        patience: int = 10,
        class_weight: str = "balanced",
        seed: int = 0,
    ):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.l2_regularization = l2_regularization
        self.patience = patience
        self.class_weight = class_weight
        self.seed = seed

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray | None = None,
        X_valid: np.ndarray | None = None,
        y_valid: np.ndarray | None = None,
    ) -> "GBoostHead":
        y = np.asarray(y, dtype=np.int64)
        self.classes_ = np.unique(y)
        X_fit, y_fit, X_stop, y_stop, stopping = early_stopping_rows(X, y, groups, X_valid, y_valid, self.seed)
        model = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            l2_regularization=self.l2_regularization,
            early_stopping=True,
            n_iter_no_change=self.patience,
            scoring="loss",
            class_weight="balanced" if self.class_weight == "balanced" else None,
            random_state=self.seed,
        )
        with _threads(X_fit.shape[0]):
            self.model_ = model.fit(X_fit, y_fit, X_val=X_stop, y_val=y_stop)
        self.log_ = {"early_stopping_on": stopping, "n_iter": int(self.model_.n_iter_),
                     "validation_loss": [round(-float(v), 6) for v in self.model_.validation_score_]}
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        with _threads(np.shape(X)[0]):
            return self.model_.predict_proba(np.asarray(X))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"classes": np.asarray(self.classes_, dtype=np.int64)}

    def state(self) -> dict[str, Any]:
        return {"params": self.get_params(), "log": self.log_, "n_classes": int(self.classes_.size), "file": SKOPS_FILE}

    def save_files(self, directory: Path) -> None:
        import skops.io

        skops.io.dump(self.model_, Path(directory) / SKOPS_FILE)

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], state: dict[str, Any], directory: Path) -> "GBoostHead":
        import skops.io

        path = Path(directory) / SKOPS_FILE
        if not path.is_file():
            raise GenofmError(f"{path}: missing; the model folder is incomplete, re-run genofm-train")
        try:
            untrusted = skops.io.get_untrusted_types(file=path)
        except Exception as exc:
            raise GenofmError(f"{path}: not a readable skops file ({exc.__class__.__name__}); re-run genofm-train") from None
        unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if unexpected:
            raise GenofmError(f"{path}: contains types genofm does not trust ({unexpected[0]}); refusing to load it")
        head = cls(**state["params"])
        head.model_ = skops.io.load(path, trusted=TRUSTED_TYPES)
        if not isinstance(head.model_, HistGradientBoostingClassifier):
            raise GenofmError(f"{path}: does not hold a gradient-boosting model; re-run genofm-train")
        head.log_ = state.get("log", {})
        head.classes_ = np.arange(int(state["n_classes"]))
        return head
