"""The per-sequence prediction table shared by ``test_predictions.tsv`` and ``genofm-predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genofm.atomic import atomic_path

COORDINATES = ("chrom", "start", "end", "strand")


def prediction_table(frame: pd.DataFrame, proba: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """id, split (so training rows are never mistaken for held-out ones), coordinates, label (when any
    row has one), ``prob_<class>`` per class, predicted_label."""
    table = pd.DataFrame({"id": frame["id"].to_numpy()})
    if "split" in frame.columns:
        table["split"] = frame["split"].to_numpy()
    for column in COORDINATES:
        if column in frame.columns:
            table[column] = frame[column].to_numpy()
    if "start" in table:
        table["start"] = table["start"].astype("Int64")
        table["end"] = table["end"].astype("Int64")
    if "label" in frame.columns and frame["label"].notna().any():
        table["label"] = frame["label"].to_numpy()
    for k, name in enumerate(classes):
        table[f"prob_{name}"] = np.round(proba[:, k], 6)
    table["predicted_label"] = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    return table


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """TSV with empty fields for unknown values, written atomically."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, na_rep="")
