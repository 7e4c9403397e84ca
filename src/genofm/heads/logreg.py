"""Standardised logistic regression with cross-validated regularisation: the interpretable default head.

Features are standardised before fitting, so a coefficient is the change in log-odds per standard
deviation of its feature and coefficients of features on wildly different scales (k-mer
frequencies, Sei probabilities, SpliceAI logits) can be ranked against each other. The seed
study ranked raw coefficients on unscaled features, which makes the ranking depend on each
feature's units. The inverse regularisation strength C (and the L1 share for elastic net) is
chosen by grouped, stratified cross-validation on the training split with log loss as the score.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.preprocessing import StandardScaler

from genofm.errors import GenofmError
from genofm.heads.base import Head, cv_splits, proba_from_scores

PENALTIES = ("l2", "l1", "elasticnet")


def linear_proba(X: np.ndarray, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Class probabilities of a standardised linear model (one row: logistic; several: softmax)."""
    return proba_from_scores(((np.asarray(X, dtype=np.float64) - mean) / scale) @ coef.T + intercept)


class LogRegHead(Head):
    """StandardScaler + LogisticRegressionCV (lbfgs for L2, saga for L1 and elastic net)."""

    name = "logreg"
    linear = True

    def __init__(
        self,
        penalty: str = "l2",
        cs: int = 10,
        cv_folds: int = 5,
        l1_ratios: Sequence[float] = (0.1, 0.5, 0.9),
        class_weight: str = "balanced",
        max_iter: int = 1000,
        tol: float = 1e-4,
        seed: int = 0,
    ):
        self.penalty = penalty
        self.cs = cs
        self.cv_folds = cv_folds
        self.l1_ratios = l1_ratios
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    def _ratios(self) -> list[float]:
        if self.penalty not in PENALTIES:
            raise GenofmError(f"unknown --penalty {self.penalty!r}; choose one of {list(PENALTIES)}")
        if self.penalty == "elasticnet":
            ratios = [float(r) for r in self.l1_ratios]
            if not ratios or any(not 0.0 <= r <= 1.0 for r in ratios):
                raise GenofmError(f"--l1-ratio values must lie in [0, 1], got {list(self.l1_ratios)}")
            return ratios
        return [0.0] if self.penalty == "l2" else [1.0]

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, **_: Any) -> "LogRegHead":
        """Fit on all rows; ``groups`` ties augmented copies to their originals during cross-validation."""
        y = np.asarray(y, dtype=np.int64)
        scaler = StandardScaler().fit(X)
        Z = scaler.transform(X)
        splits = cv_splits(y, groups, self.cv_folds, self.seed)
        model = LogisticRegressionCV(
            Cs=self.cs,
            l1_ratios=self._ratios(),
            cv=splits,
            solver="lbfgs" if self.penalty == "l2" else "saga",
            scoring="neg_log_loss",
            class_weight="balanced" if self.class_weight == "balanced" else None,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.seed,
            use_legacy_attributes=False,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(Z, y)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)

        self.classes_ = np.unique(y)
        self.mean_ = scaler.mean_.astype(np.float64)
        self.scale_ = scaler.scale_.astype(np.float64)
        self.coef_ = model.coef_.astype(np.float64)
        self.intercept_ = model.intercept_.astype(np.float64)
        self.C_ = float(model.C_)
        self.l1_ratio_ = float(model.l1_ratio_)
        c_index = int(np.argmin(np.abs(np.log(model.Cs_) - np.log(self.C_))))
        r_index = int(np.argmin(np.abs(np.asarray(model.l1_ratios_, dtype=float) - self.l1_ratio_)))
        n_features = X.shape[1]
        # coefficients of each cross-validation fold at the chosen C: their spread says how stable a ranking is
        self.cv_coef_ = np.asarray(model.coefs_paths_[:, r_index, c_index, :, :n_features], dtype=np.float64)
        scores = np.asarray(model.scores_, dtype=np.float64).mean(axis=0)  # (n_l1, n_cs)
        self.log_ = {
            "Cs": [float(c) for c in model.Cs_],
            "l1_ratios": [float(r) for r in model.l1_ratios_],
            "cv_mean_log_loss": (-scores).tolist(),
            "chosen_C": self.C_,
            "chosen_l1_ratio": self.l1_ratio_,
            "cv_folds": len(splits),
            "converged": converged,
            "n_nonzero": int(np.count_nonzero(np.any(self.coef_ != 0, axis=0))),
        }
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return linear_proba(X, self.mean_, self.scale_, self.coef_, self.intercept_)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "scaler_mean": self.mean_,
            "scaler_scale": self.scale_,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "cv_coef": self.cv_coef_,
        }

    def selection(self) -> dict[str, str]:
        what = "C and l1_ratio" if self.penalty == "elasticnet" else "C"
        return {what: f"{self.cv_folds}-fold cross-validation on the train split (log loss; reverse-complement copies kept in their original's fold)"}

    def state(self) -> dict[str, Any]:
        params = self.get_params()
        params["l1_ratios"] = [float(r) for r in params["l1_ratios"]]
        return {"params": params, "C": self.C_, "l1_ratio": self.l1_ratio_, "log": self.log_, "n_classes": int(self.classes_.size)}

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], state: dict[str, Any], directory: Path) -> "LogRegHead":
        params = dict(state["params"])
        params["l1_ratios"] = tuple(params["l1_ratios"])
        head = cls(**params)
        head.mean_ = arrays["scaler_mean"]
        head.scale_ = arrays["scaler_scale"]
        head.coef_ = arrays["coef"]
        head.intercept_ = arrays["intercept"]
        head.cv_coef_ = arrays.get("cv_coef")
        head.C_ = float(state["C"])
        head.l1_ratio_ = float(state["l1_ratio"])
        head.log_ = state.get("log", {})
        head.classes_ = np.arange(int(state["n_classes"]))
        return head

    def refit_fixed(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Standardised coefficients of a refit at the chosen C and L1 share (for bootstrap stability)."""
        from sklearn.linear_model import LogisticRegression

        Z = StandardScaler().fit_transform(X)
        model = LogisticRegression(
            C=self.C_,
            l1_ratio=self.l1_ratio_,
            solver="lbfgs" if self.l1_ratio_ == 0.0 else "saga",
            class_weight="balanced" if self.class_weight == "balanced" else None,
            max_iter=self.max_iter,
            tol=self.tol,
            random_state=self.seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(Z, y)
        return model.coef_.astype(np.float64)
