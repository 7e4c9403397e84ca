"""Writing a model folder's evaluation files: metrics.json, test/valid_predictions.tsv, ROC and PR curves.

metrics.json holds the test split's metrics (the numbers to report) and, under ``valid``, the
same metrics on the validation split: the numbers to choose k, head or model by, so that a
benchmark user never picks on test. valid_predictions.tsv holds the validation rows'
probabilities, so that seeds can be ensembled and compared on validation too (genofm.evaluation.seeds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genofm.evaluation.metrics import evaluate
from genofm.evaluation.predictions import prediction_table, write_table
from genofm.heads.store import write_json
from genofm.plots import pr_plot, roc_plot

METRICS_JSON = "metrics.json"
PREDICTIONS_TSV = "test_predictions.tsv"
VALID_PREDICTIONS_TSV = "valid_predictions.tsv"
ROC_PNG = "roc_curve.png"
PR_PNG = "pr_curve.png"


def write_evaluation(
    directory: Path,
    test: pd.DataFrame,
    truth: np.ndarray,
    proba: np.ndarray,
    classes: Sequence[str],
    n_bootstrap: int,
    seed: int,
    title: str = "",
    valid: tuple[np.ndarray, np.ndarray] | None = None,
    valid_rows: pd.DataFrame | None = None,
) -> dict:
    """Evaluate on the held-out rows and write every evaluation file; returns the metrics document.

    ``valid`` is (labels, probabilities) of the validation split, stored under ``valid`` (None
    when the dataset has no validation rows); with ``valid_rows`` (the validation split's rows, in
    the same order) their probabilities are written to valid_predictions.tsv.
    """
    directory = Path(directory)
    metrics = evaluate(truth, proba, classes, n_bootstrap=n_bootstrap, seed=seed)
    metrics["split"] = "test"
    metrics["valid"] = None
    if valid is not None and len(valid[0]):
        valid_proba = np.asarray(valid[1], dtype=np.float64)
        metrics["valid"] = evaluate(np.asarray(valid[0]), valid_proba, classes, n_bootstrap=n_bootstrap, seed=seed)
        metrics["valid"]["split"] = "valid"
        if valid_rows is not None:
            write_table(prediction_table(valid_rows, valid_proba, classes), directory / VALID_PREDICTIONS_TSV)
    write_json(directory / METRICS_JSON, metrics)
    write_table(prediction_table(test, proba, classes), directory / PREDICTIONS_TSV)
    roc_plot(truth, proba, classes, directory / ROC_PNG, title=f"ROC, test split {title}".strip())
    pr_plot(truth, proba, classes, directory / PR_PNG, title=f"Precision-recall, test split {title}".strip())
    return metrics


def metric_summary(metrics: dict | None) -> dict[str, float | None] | None:
    """``{"auroc": 0.91, ...}``: the point estimates, for logs and model.json (None for no metrics)."""
    if not metrics:
        return None
    return {name: entry["value"] for name, entry in metrics["metrics"].items()}


def log_metrics(log, metrics: dict) -> None:
    """One log line each for the validation and the test split."""
    for split, document in (("valid", metrics.get("valid")), ("test", metrics)):
        summary = metric_summary(document)
        if summary:
            log.info("%s %s", split, ", ".join(f"{k} {v:.3f}" for k, v in summary.items() if v is not None))
