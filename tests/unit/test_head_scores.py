"""Heads turn output scores into probabilities the way scikit-learn's own classifiers do."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from genofm.heads.base import proba_from_scores


@pytest.mark.parametrize("n_classes", [2, 3])
def test_probabilities_from_scores_match_scikit_learn(n_classes):
    """Binary: one logistic column, the positive class in column 1; multi-class: softmax (large scores too)."""
    X, y = make_classification(n_samples=200, n_features=6, n_informative=4, n_classes=n_classes, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    model.coef_, model.intercept_ = model.coef_ * 200, model.intercept_ * 200  # scores far from zero
    scores = model.decision_function(X)
    scores = scores[:, None] if scores.ndim == 1 else scores
    assert np.abs(scores).max() > 700  # where a naive exp overflows
    proba = proba_from_scores(scores)
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
