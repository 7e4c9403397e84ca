"""Assembling feature matrices from a prepared dataset and its embedding files.

Rows are aligned on dataset ids (never on file order), a feature group restricts columns to one
family of backbone outputs, and a model only accepts embeddings from the very backbone, options
and weights it was trained on: features of another backbone with the same width would otherwise
be silently misread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genofm.embeddings import IDENTITY_KEYS, Embeddings, members
from genofm.errors import GenofmError


def label_indices(frame: pd.DataFrame, classes: Sequence[str], dataset: Path) -> np.ndarray:
    """Integer class indices in the dataset's class order; unknown labels are an error."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(frame["label"].dropna()) - set(index))
    if unknown or frame["label"].isna().any():
        what = f"label {unknown[0]!r} outside its class list {list(classes)}" if unknown else "rows without a label"
        raise GenofmError(f"{dataset}: {what}; re-create it with genofm-prepare")
    return frame["label"].map(index).to_numpy(dtype=np.int64)


def groups_of(frame: pd.DataFrame) -> np.ndarray:
    """Group key per row: an augmented reverse-complement copy (id ``<id>_rc``) shares its original's key."""
    ids = frame["id"].astype(str).to_numpy()
    augmented = frame["augmented"].fillna(False).to_numpy(dtype=bool)
    strip = augmented & np.char.endswith(ids.astype(str), "_rc")
    keys = ids.copy()
    keys[strip] = [k[:-3] for k in ids[strip]]
    return keys


def group_columns(emb: Embeddings, group: str | None, paths: Sequence[Path]) -> np.ndarray:
    """Column indices of a named feature group (all columns when ``group`` is None)."""
    if group is None:
        return np.arange(len(emb.feature_names))
    if group not in emb.feature_groups:
        available = sorted(emb.feature_groups) or ["none"]
        raise GenofmError(f"{paths[0]}: no feature group {group!r}; available groups: {', '.join(available)}")
    columns = np.asarray(emb.feature_groups[group], dtype=np.int64)
    if columns.size == 0 or columns.min() < 0 or columns.max() >= len(emb.feature_names):
        raise GenofmError(f"{paths[0]}: feature group {group!r} has invalid column indices; re-run genofm-embed")
    return columns


def feature_matrix(emb: Embeddings, frame: pd.DataFrame, columns: np.ndarray, paths: Sequence[Path]) -> np.ndarray:
    """The rows of ``frame`` (by id) and the given columns, checked to be finite."""
    if frame.empty:
        return np.empty((0, columns.size), dtype=np.float32)
    X = emb.align(frame["id"].astype(str), source=f"dataset ({paths[0]} and shards)")
    if not (columns.size == X.shape[1] and np.array_equal(columns, np.arange(X.shape[1]))):
        X = X[:, columns]
    if not np.isfinite(X).all():
        bad = frame["id"].iloc[int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])]
        raise GenofmError(f"{paths[0]}: non-finite features (first at id {bad!r}); re-run genofm-embed")
    return X


def _describe(prov: dict) -> str:
    if prov.get("stack"):
        return " + ".join(_describe(member) for member in prov["stack"])
    options = prov.get("options") or {}
    opts = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
    weights = prov.get("weights_sha256")
    return (
        f"{prov.get('backbone')!s}({opts}) with {prov.get('n_features')} features"
        + (f", weights sha256 {weights[:12]}" if weights else "")
        + (", strand-averaged" if prov.get("rc_average") else "")
    )


def model_columns(emb: Embeddings, model: dict, model_dir: Path, paths: Sequence[Path]) -> np.ndarray:
    """Columns of ``emb`` holding the model's features, after checking both come from one backbone."""
    trained = model["backbone"]
    given = emb.provenance
    if trained.get("stack") or given.get("stack"):
        differ = _stack_differences(trained, given)
    else:
        differ = [k for k in IDENTITY_KEYS if trained.get(k) != given.get(k)]
    if differ:
        raise GenofmError(
            f"{paths[0]}: embeddings from {_describe(given)} do not match model {model_dir} trained on "
            f"{_describe(trained)} (differs in {', '.join(differ)}); embed the dataset with the model's backbone and options"
        )
    index = {name: i for i, name in enumerate(emb.feature_names)}
    missing = [n for n in model["feature_names"] if n not in index]
    if missing:
        raise GenofmError(
            f"{paths[0]}: {len(missing)} of the model's {len(model['feature_names'])} features are absent "
            f"(first: {missing[0]!r}); embed the dataset with the model's backbone and options"
        )
    return np.array([index[n] for n in model["feature_names"]], dtype=np.int64)


def _stack_differences(trained: dict, given: dict) -> list[str]:
    """What differs between the backbones of a joined model and of the joined embeddings given to it."""
    def identities(prov: dict) -> dict[str, dict]:
        return {m.get("label", m.get("backbone")): {k: m.get(k) for k in IDENTITY_KEYS} for m in members(prov)}

    want, have = identities(trained), identities(given)
    differ = [f"no {label} embeddings" for label in want if label not in have]
    differ += [f"extra {label} embeddings" for label in have if label not in want]
    differ += [f"{label} {k}" for label, ident in want.items() if label in have
               for k in IDENTITY_KEYS if ident[k] != have[label][k]]
    return differ
