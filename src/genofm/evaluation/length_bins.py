"""Test metrics per sequence-length bin: does the model only work on long (or short) sequences?

The HERV seed paper's length study asked exactly this; with variable-length inputs (ncRNA
families, repeat elements, introns) a good overall score can hide a length range the model
cannot call. Bins are quantiles of the test sequences' real lengths (window padding excluded), so
each holds about the same number of sequences.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from genofm.evaluation.metrics import point_metrics

#: metrics shown per bin (AUROC/AUPRC need every class present in the bin)
BIN_METRICS = ("accuracy", "mcc", "auroc", "f1")


def real_lengths(sequences: Sequence[str]) -> np.ndarray:
    """Bases per sequence without the N padding windowing adds at either end."""
    return np.array([len(s.strip("N")) for s in sequences], dtype=np.int64)


def length_bin_metrics(lengths: np.ndarray, truth: np.ndarray, proba: np.ndarray, n_bins: int = 4) -> pd.DataFrame:
    """One row per length bin: its range, size, class count and point metrics; empty when lengths do not vary."""
    lengths = np.asarray(lengths)
    if lengths.size == 0 or lengths.min() == lengths.max():
        return pd.DataFrame()
    edges = np.unique(np.quantile(lengths, np.linspace(0, 1, n_bins + 1)).round())
    bins = np.clip(np.searchsorted(edges, lengths, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        members = bins == b
        if not members.any():
            continue
        y, p = truth[members], proba[members]
        row = {"length_bin": f"{lengths[members].min()}-{lengths[members].max()} bp", "n": int(members.sum()),
               "classes_present": int(np.unique(y).size)}
        overall, _ = point_metrics(y, p) if np.unique(y).size > 1 else ({"accuracy": float((p.argmax(1) == y).mean())}, None)
        for name in BIN_METRICS:
            value = overall.get(name)
            row[name] = None if value is None or not np.isfinite(value) else round(float(value), 4)
        rows.append(row)
    return pd.DataFrame(rows)
