"""The numpy metrics agree with scikit-learn, and the bootstrap intervals behave."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from genofm.evaluation.metrics import auroc, average_precision, evaluate, point_metrics


def _binary(seed: int = 0, n: int = 300):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    score = np.round(truth * 0.8 + rng.normal(size=n), 1)  # rounding creates ties
    p = 1 / (1 + np.exp(-score))
    return truth, np.column_stack([1 - p, p])


def _multiclass(seed: int = 1, n: int = 400, k: int = 3):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.2 * np.eye(k)[truth]
    logits = np.round(logits, 1)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return truth, proba


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_and_average_precision_match_sklearn_with_ties(seed):
    truth, proba = _binary(seed)
    assert auroc(truth == 1, proba[:, 1]) == pytest.approx(skm.roc_auc_score(truth, proba[:, 1]), abs=1e-12)
    assert average_precision(truth == 1, proba[:, 1]) == pytest.approx(skm.average_precision_score(truth, proba[:, 1]), abs=1e-12)


def test_binary_metrics_match_sklearn_with_last_class_positive():
    truth, proba = _binary(3)
    overall, per_class = point_metrics(truth, proba)
    predicted = proba.argmax(axis=1)
    assert overall["auroc"] == pytest.approx(skm.roc_auc_score(truth, proba[:, 1]))
    assert overall["auprc"] == pytest.approx(skm.average_precision_score(truth, proba[:, 1]))
    assert overall["mcc"] == pytest.approx(skm.matthews_corrcoef(truth, predicted))
    assert overall["f1"] == pytest.approx(skm.f1_score(truth, predicted, pos_label=1))
    assert overall["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted))
    # AUPRC of the negative class is a different number: the positive class must be the last one
    assert per_class["auprc"][0] == pytest.approx(skm.average_precision_score(truth == 0, proba[:, 0]))


def test_multiclass_metrics_match_sklearn_from_probabilities():
    truth, proba = _multiclass()
    overall, per_class = point_metrics(truth, proba)
    predicted = proba.argmax(axis=1)
    assert overall["auroc"] == pytest.approx(skm.roc_auc_score(truth, proba, multi_class="ovr", average="macro"))
    onehot = np.eye(3)[truth]
    assert overall["auprc"] == pytest.approx(skm.average_precision_score(onehot, proba, average="macro"))
    assert overall["mcc"] == pytest.approx(skm.matthews_corrcoef(truth, predicted))
    assert overall["f1"] == pytest.approx(skm.f1_score(truth, predicted, average="macro"))
    for k in range(3):
        assert per_class["auroc"][k] == pytest.approx(skm.roc_auc_score(truth == k, proba[:, k]))
    # an argmax-based "AUC" (one of the seed papers' flaws) differs from the probability-based one
    assert overall["auroc"] != pytest.approx(skm.roc_auc_score(onehot, np.eye(3)[predicted], average="macro"))


def test_mcc_is_zero_when_one_class_is_always_predicted():
    truth = np.array([0, 1, 0, 1])
    proba = np.array([[0.9, 0.1]] * 4)
    assert point_metrics(truth, proba)[0]["mcc"] == 0.0


@pytest.mark.parametrize("data", [_binary(4), _multiclass(5)])
def test_bootstrap_intervals_contain_the_estimate_and_are_seeded(data):
    truth, proba = data
    classes = [f"c{i}" for i in range(proba.shape[1])]
    result = evaluate(truth, proba, classes, n_bootstrap=200, seed=7)
    for name, entry in result["metrics"].items():
        assert entry["ci_low"] <= entry["value"] <= entry["ci_high"], name
        assert entry["ci_high"] - entry["ci_low"] > 0
    assert result == evaluate(truth, proba, classes, n_bootstrap=200, seed=7)
    assert result["metrics"]["auroc"] != evaluate(truth, proba, classes, n_bootstrap=200, seed=8)["metrics"]["auroc"]
    assert sum(result["class_counts"].values()) == truth.size
    assert set(result["per_class"]) == set(classes)


def test_evaluation_refuses_a_single_class():
    with pytest.raises(ValueError, match="two classes"):
        evaluate(np.zeros(5, dtype=int), np.full((5, 2), 0.5), ["a", "b"], n_bootstrap=10)


def test_a_class_missing_from_the_evaluated_rows_is_left_out_of_macro_averages():
    truth, proba = _multiclass(6)
    keep = truth != 2
    truth, proba = truth[keep], proba[keep]
    overall, per_class = point_metrics(truth, proba)
    assert np.isnan(per_class["auroc"][2])
    assert overall["auroc"] == pytest.approx(np.mean([skm.roc_auc_score(truth == k, proba[:, k]) for k in (0, 1)]))
    assert overall["f1"] == pytest.approx(skm.f1_score(truth, proba.argmax(axis=1), average="macro"))
    result = evaluate(truth, proba, ["a", "b", "c"], n_bootstrap=50)
    assert result["per_class"]["c"]["auroc"]["value"] is None and result["metrics"]["auroc"]["value"] is not None
