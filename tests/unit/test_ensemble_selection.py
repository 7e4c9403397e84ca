"""Greedy ensemble selection on validation predictions, and weighted ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genofm.errors import GenofmError
from genofm.evaluation.ensemble_selection import log_loss, select_ensemble, select_weights
from genofm.evaluation.seeds import ensemble_metrics

CLASSES = ["neg", "pos"]


def _folder(path, valid_pos, test_pos, truth_valid, truth_test):
    """A model folder holding only the two prediction files the selection and the ensemble read."""
    path.mkdir()
    for name, prob, truth in (("valid_predictions.tsv", valid_pos, truth_valid), ("test_predictions.tsv", test_pos, truth_test)):
        prob = np.asarray(prob, dtype=float)
        pd.DataFrame({"id": [f"r{i}" for i in range(prob.size)], "label": [CLASSES[t] for t in truth],
                      "prob_neg": 1 - prob, "prob_pos": prob}).to_csv(path / name, sep="\t", index=False)
    return path


def test_log_loss_matches_scikit_learn():
    from sklearn.metrics import log_loss as sk_log_loss

    rng = np.random.default_rng(0)
    proba = rng.dirichlet([1, 1, 1], size=50)
    truth = rng.integers(0, 3, size=50)
    assert log_loss(truth, proba) == pytest.approx(sk_log_loss(truth, proba, labels=[0, 1, 2]), rel=1e-9)


def test_complementary_models_are_combined_and_a_useless_one_is_left_out():
    truth = np.array([0, 0, 1, 1] * 25)
    half = np.arange(truth.size) < truth.size // 2
    # a: sure and right on the first half, unsure on the second; b the other way round; c: noise
    a = np.where(half, np.where(truth == 1, 0.95, 0.05), 0.5)
    b = np.where(~half, np.where(truth == 1, 0.95, 0.05), 0.5)
    c = np.random.default_rng(1).uniform(0.3, 0.7, truth.size)
    to_proba = lambda p: np.c_[1 - p, p]  # noqa: E731
    weights = select_weights(truth, [to_proba(a), to_proba(b), to_proba(c)])
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] > 0.3 and weights[1] > 0.3 and weights[2] == 0
    mixed = sum(w * to_proba(p) for w, p in zip(weights, (a, b, c)))
    assert log_loss(truth, mixed) < min(log_loss(truth, to_proba(a)), log_loss(truth, to_proba(b)))


def test_selection_is_never_worse_than_the_best_single_model_on_validation():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, 80)
    models = [np.c_[1 - p, p] for p in (np.clip(truth + rng.normal(0, s, 80), 0.01, 0.99) for s in (0.4, 0.6, 0.8))]
    weights = select_weights(truth, models, steps=10)
    best_single = min(log_loss(truth, m) for m in models)
    assert log_loss(truth, sum(w * m for w, m in zip(weights, models))) <= best_single + 1e-12
    assert np.allclose(select_weights(truth, models, steps=10), weights)  # deterministic


def test_select_ensemble_reads_validation_never_test(tmp_path):
    truth = [0, 1] * 20
    good_valid = _folder(tmp_path / "good_valid", [0.1, 0.9] * 20, [0.5] * 40, truth, truth)
    # perfect on test, wrong on validation: a selection that peeked at test would take it
    good_test = _folder(tmp_path / "good_test", [0.9, 0.1] * 20, [0.0, 1.0] * 20, truth, truth)
    chosen = select_ensemble([good_test, good_valid], CLASSES)
    assert chosen == {good_valid: 1.0}


def test_weighted_ensemble_metrics_and_bad_weights(tmp_path):
    truth = [0, 1] * 10
    rng = np.random.default_rng(3)
    first = _folder(tmp_path / "a", rng.uniform(size=20), rng.uniform(size=20), truth, truth)
    second = _folder(tmp_path / "b", rng.uniform(size=20), rng.uniform(size=20), truth, truth)
    repeated = ensemble_metrics([first, second, second, second], CLASSES, n_bootstrap=0)["metrics"]
    weighted = ensemble_metrics([first, second], CLASSES, n_bootstrap=0, weights=[0.25, 0.75])["metrics"]
    for name in ("auroc", "accuracy", "mcc"):
        assert weighted[name]["value"] == pytest.approx(repeated[name]["value"], abs=1e-12)
    with pytest.raises(GenofmError, match="one non-negative weight per model"):
        ensemble_metrics([first, second], CLASSES, weights=[1.0])
    with pytest.raises(GenofmError, match="one non-negative weight per model"):
        ensemble_metrics([first, second], CLASSES, weights=[0.0, 0.0])
    with pytest.raises(GenofmError, match="steps 0"):
        select_weights(np.array([0, 1]), [np.eye(2)], steps=0)
