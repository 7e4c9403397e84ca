"""Writing a model folder's evaluation files: metrics.json, test_predictions.tsv, ROC and PR curves."""

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
) -> dict:
    """Evaluate on the held-out rows and write every evaluation file; returns the metrics document."""
    directory = Path(directory)
    metrics = evaluate(truth, proba, classes, n_bootstrap=n_bootstrap, seed=seed)
    metrics["split"] = "test"
    write_json(directory / METRICS_JSON, metrics)
    write_table(prediction_table(test, proba, classes), directory / PREDICTIONS_TSV)
    roc_plot(truth, proba, classes, directory / ROC_PNG, title=f"ROC, test split {title}".strip())
    pr_plot(truth, proba, classes, directory / PR_PNG, title=f"Precision-recall, test split {title}".strip())
    return metrics


def metric_summary(metrics: dict) -> dict[str, float | None]:
    """``{"auroc": 0.91, ...}``: the point estimates, for logs and model.json."""
    return {name: entry["value"] for name, entry in metrics["metrics"].items()}
