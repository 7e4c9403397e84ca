"""A small multilayer perceptron head: the non-linear option when a linear read-out is not enough.

scikit-learn's MLPClassifier does the optimisation (Adam, L2 penalty ``alpha``) one epoch at a time
through ``partial_fit``; early stopping is ours, on the dataset's validation split (or a grouped
holdout of the training split when it has none), because MLPClassifier's built-in early stopping
draws a random holdout that would put reverse-complement copies on both sides. The best epoch's
weights are kept as plain arrays and the forward pass is numpy, so a saved model reloads exactly.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from genofm.errors import GenofmError
from genofm.heads.base import Head, balanced_weights, early_stopping_rows, proba_from_scores


def mlp_proba(X: np.ndarray, mean: np.ndarray, scale: np.ndarray, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> np.ndarray:
    """ReLU hidden layers; a single logistic output for two classes, softmax otherwise."""
    h = (np.asarray(X, dtype=np.float64) - mean) / scale
    for w, b in zip(weights[:-1], biases[:-1]):
        h = np.maximum(h @ w + b, 0.0)
    return proba_from_scores(h @ weights[-1] + biases[-1])


def _log_loss(proba: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    p = np.clip(proba[np.arange(y.size), y], 1e-12, 1.0)
    return float(np.sum(-np.log(p) * weights) / np.sum(weights))


class MLPHead(Head):
    """StandardScaler + MLPClassifier trained epoch by epoch with early stopping on held-out loss."""

    name = "mlp"

    def __init__(
        self,
        hidden: Sequence[int] = (128,),
        alpha: float = 1e-3,
        learning_rate: float = 1e-3,
        batch_size: int = 64,
        max_epochs: int = 200,
        patience: int = 10,
        class_weight: str = "balanced",
        seed: int = 0,
    ):
        self.hidden = hidden
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
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
    ) -> "MLPHead":
        y = np.asarray(y, dtype=np.int64)
        self.classes_ = np.unique(y)
        if any(int(h) < 1 for h in self.hidden) or not self.hidden:
            raise GenofmError(f"--hidden needs positive layer sizes, got {list(self.hidden)}")
        X_fit, y_fit, X_stop, y_stop, stopping = early_stopping_rows(X, y, groups, X_valid, y_valid, self.seed)
        scaler = StandardScaler().fit(X_fit)
        self.mean_ = scaler.mean_.astype(np.float64)
        self.scale_ = scaler.scale_.astype(np.float64)
        Z = scaler.transform(X_fit)
        balanced = self.class_weight == "balanced"
        w_fit = balanced_weights(y_fit) if balanced else None
        w_stop = balanced_weights(y_stop) if balanced else np.ones(y_stop.size)

        net = MLPClassifier(
            hidden_layer_sizes=tuple(int(h) for h in self.hidden),
            alpha=self.alpha,
            learning_rate_init=self.learning_rate,
            batch_size=min(int(self.batch_size), y_fit.size),
            max_iter=1,
            shuffle=True,
            random_state=self.seed,
        )
        best_loss, best, waited, losses = np.inf, None, 0, []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for epoch in range(int(self.max_epochs)):
                net.partial_fit(Z, y_fit, classes=self.classes_, sample_weight=w_fit)
                proba = mlp_proba(X_stop, self.mean_, self.scale_, net.coefs_, net.intercepts_)
                loss = _log_loss(proba, y_stop, w_stop)
                losses.append(round(loss, 6))
                if loss < best_loss - 1e-6:
                    best_loss, waited = loss, 0
                    best = ([w.copy() for w in net.coefs_], [b.copy() for b in net.intercepts_], epoch + 1)
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
        self.weights_, self.biases_, best_epoch = best
        self.weights_ = [w.astype(np.float64) for w in self.weights_]
        self.biases_ = [b.astype(np.float64) for b in self.biases_]
        self.log_ = {"early_stopping_on": stopping, "epochs_run": len(losses), "best_epoch": best_epoch,
                     "best_stopping_loss": best_loss, "stopping_loss": losses}
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return mlp_proba(X, self.mean_, self.scale_, self.weights_, self.biases_)

    def arrays(self) -> dict[str, np.ndarray]:
        arrays = {"scaler_mean": self.mean_, "scaler_scale": self.scale_}
        for i, (w, b) in enumerate(zip(self.weights_, self.biases_)):
            arrays[f"layer{i}.weight"] = w
            arrays[f"layer{i}.bias"] = b
        return arrays

    def state(self) -> dict[str, Any]:
        params = self.get_params()
        params["hidden"] = [int(h) for h in params["hidden"]]
        return {"params": params, "n_layers": len(self.weights_), "log": self.log_, "n_classes": int(self.classes_.size)}

    @classmethod
    def restore(cls, arrays: dict[str, np.ndarray], state: dict[str, Any], directory: Path) -> "MLPHead":
        params = dict(state["params"])
        params["hidden"] = tuple(params["hidden"])
        head = cls(**params)
        head.mean_ = arrays["scaler_mean"]
        head.scale_ = arrays["scaler_scale"]
        n_layers = int(state["n_layers"])
        head.weights_ = [arrays[f"layer{i}.weight"] for i in range(n_layers)]
        head.biases_ = [arrays[f"layer{i}.bias"] for i in range(n_layers)]
        head.log_ = state.get("log", {})
        head.classes_ = np.arange(int(state["n_classes"]))
        return head
