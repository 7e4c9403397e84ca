"""Several seeds of one model: the spread of every metric and the ensemble of their probabilities.

A single seed's score mixes the model with the luck of its initialisation and cross-validation
folds; the HERV seed paper reported mean +- sd over seeds, and averaging the seeds' probabilities
(an ensemble) is usually better than any one of them. Both are computed from the model folders'
own files (metrics.json, test_predictions.tsv, valid_predictions.tsv), so nothing is re-trained or
re-predicted. The validation split's ensemble is what a benchmark user compares models by.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genofm.errors import GenofmError
from genofm.evaluation.metrics import METRICS, evaluate

PREDICTIONS_TSV = "test_predictions.tsv"
#: the prediction file of each split a model folder is evaluated on
SPLIT_PREDICTIONS = {"test": PREDICTIONS_TSV, "valid": "valid_predictions.tsv"}


def metric_spread(rows: Sequence[dict]) -> dict[str, float | None]:
    """``{"auroc": mean, "auroc_sd": sd, ...}`` over the seeds' point estimates (sd with n - 1)."""
    out: dict[str, float | None] = {}
    for name in METRICS:
        values = np.array([r.get(name) for r in rows if r.get(name) is not None], dtype=float)
        out[name] = float(values.mean()) if values.size else None
        out[f"{name}_sd"] = float(values.std(ddof=1)) if values.size > 1 else None
    return out


def _read_predictions(model_dir: Path, classes: Sequence[str], split: str = "test") -> pd.DataFrame:
    path = Path(model_dir) / SPLIT_PREDICTIONS[split]
    if not path.is_file():
        raise GenofmError(f"{path}: not found; the model folder is incomplete (or has no {split} split), re-run genofm-train")
    table = pd.read_csv(path, sep="\t", dtype={"id": str, "label": str}, keep_default_na=False)
    wanted = ["id", "label", *(f"prob_{c}" for c in classes)]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise GenofmError(f"{path}: lacks column(s) {missing}; re-run genofm-train")
    return table[wanted].set_index("id")


def aligned_probabilities(model_dirs: Sequence[Path], classes: Sequence[str],
                          split: str = "test") -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """The ids and true class indices of ``split``'s rows and each model's (rows, classes) probabilities, rows matched by id.

    The models must have been evaluated on the same rows with the same labels; anything else
    is not an ensemble of one dataset but a mix of datasets.
    """
    if split not in SPLIT_PREDICTIONS:
        raise GenofmError(f"ensemble split {split!r}; choose one of {sorted(SPLIT_PREDICTIONS)}")
    name = SPLIT_PREDICTIONS[split]
    tables = [_read_predictions(Path(d), classes, split) for d in model_dirs]
    first = tables[0]
    for directory, table in zip(model_dirs[1:], tables[1:]):
        if set(table.index) != set(first.index) or not table.loc[first.index, "label"].equals(first["label"]):
            raise GenofmError(
                f"{Path(directory) / name}: other {split} rows or labels than {Path(model_dirs[0]) / name}; "
                "an ensemble averages models of one dataset"
            )
    index = {c: k for k, c in enumerate(classes)}
    unknown = sorted(set(first["label"]) - set(index))
    if unknown:
        raise GenofmError(f"{Path(model_dirs[0]) / name}: label {unknown[0]!r} is not one of the model's classes")
    columns = [f"prob_{c}" for c in classes]
    truth = first["label"].map(index).to_numpy(dtype=np.int64)
    return list(first.index), truth, [t.loc[first.index, columns].to_numpy(dtype=float) for t in tables]


def ensemble_probabilities(model_dirs: Sequence[Path], classes: Sequence[str], split: str = "test",
                           weights: Sequence[float] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The ids, true class indices and (weighted, default equal) average of the models' probabilities on ``split``."""
    ids, truth, probabilities = aligned_probabilities(model_dirs, classes, split)
    if weights is not None and (len(weights) != len(probabilities) or min(weights) < 0 or sum(weights) <= 0):
        raise GenofmError(f"ensemble weights {list(weights)}: need one non-negative weight per model, not all zero")
    return ids, truth, np.average(probabilities, axis=0, weights=weights)


def ensemble_metrics(model_dirs: Sequence[Path], classes: Sequence[str], n_bootstrap: int = 1000, seed: int = 0,
                     split: str = "test", weights: Sequence[float] | None = None) -> dict:
    """Metrics of the (weighted, default equal) average of the models' probabilities on ``split`` (test or valid)."""
    _, truth, proba = ensemble_probabilities(model_dirs, classes, split, weights)
    return evaluate(truth, proba, classes, n_bootstrap=n_bootstrap, seed=seed)
