"""From a prepared dataset to an evaluated model folder.

Heads are fitted on the training split (reverse-complement copies included), choose their
hyper-parameters by cross-validation on it (logreg) or stop early on the validation split
(mlp, gboost), and are scored once on the test split, which never holds augmented rows.
Validation metrics are written beside the test metrics (and model.json's ``selection`` says
which split chose what), so models are compared and picked on validation, never on test. The
split checks are shared with fine-tuning so every model folder is evaluated the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from genofm.atomic import atomic_path
from genofm.data.dataset import read_dataset
from genofm.embeddings import read_embeddings
from genofm.errors import GenofmError
from genofm.evaluation.outputs import log_metrics, metric_summary, write_evaluation
from genofm.heads.base import Head, blas_threads_for
from genofm.heads.features import feature_matrix, group_columns, groups_of, label_indices
from genofm.heads.store import model_document, save_head

if TYPE_CHECKING:
    from genofm.finetune import FinetuneOptions

log = logging.getLogger("genofm")


@dataclasses.dataclass
class Splits:
    """The dataset cut into the rows each stage may use, with integer labels."""

    dataset: Path
    classes: list[str]
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    y_train: np.ndarray
    y_valid: np.ndarray
    y_test: np.ndarray

    def summary(self) -> dict:
        """Dataset facts recorded in model.json and shown in reports."""
        counts = {
            split: {c: int(n) for c, n in zip(self.classes, np.bincount(y, minlength=len(self.classes)))}
            for split, y in (("train", self.y_train), ("valid", self.y_valid), ("test", self.y_test))
        }
        return {
            "name": self.dataset.stem,
            "path": str(self.dataset),
            "n_train": int(self.y_train.size),
            "n_train_augmented": int(self.train["augmented"].fillna(False).astype(bool).sum()),
            "n_valid": int(self.y_valid.size),
            "n_test": int(self.y_test.size),
            "counts": counts,
        }


def load_splits(dataset: Path) -> Splits:
    """Read the dataset and refuse inputs a classifier cannot learn from or be evaluated on."""
    dataset = Path(dataset)
    frame, classes = read_dataset(dataset)
    if len(classes) < 2:
        raise GenofmError(f"{dataset}: only one class ({classes}); a classifier needs at least two (check genofm-prepare inputs)")
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    valid = frame[frame["split"] == "valid"].reset_index(drop=True)
    test = frame[(frame["split"] == "test") & ~frame["augmented"].fillna(False).astype(bool)].reset_index(drop=True)
    if train.empty:
        raise GenofmError(f"{dataset}: the train split is empty; re-run genofm-prepare with other split options")
    y_train = label_indices(train, classes, dataset)
    present = np.unique(y_train)
    if present.size < 2:
        raise GenofmError(
            f"{dataset}: the train split holds only class {classes[present[0]]!r}; a classifier needs at least two classes "
            "(check the labels given to genofm-prepare)"
        )
    absent = [classes[k] for k in range(len(classes)) if k not in set(present)]
    if absent:
        raise GenofmError(f"{dataset}: class {absent[0]!r} has no training rows; add training examples or leave the class out of the genofm-prepare inputs")
    if test.empty:
        raise GenofmError(
            f"{dataset}: the test split is empty; metrics are reported on held-out rows only, re-run genofm-prepare "
            "with --test-chroms or --test-fraction"
        )
    y_test = label_indices(test, classes, dataset)
    if np.unique(y_test).size < 2:
        raise GenofmError(
            f"{dataset}: the test split holds only class {classes[int(y_test[0])]!r}; AUROC and MCC need two classes, "
            "re-run genofm-prepare with other --test-chroms"
        )
    y_valid = label_indices(valid, classes, dataset) if not valid.empty else np.empty(0, dtype=np.int64)
    return Splits(dataset, list(classes), train, valid, test, y_train, y_valid, y_test)


def train_head(
    dataset: Path,
    embedding_paths: Sequence[Path],
    output: Path,
    head: Head,
    feature_group: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """Fit ``head`` on frozen embeddings and write the model folder atomically; returns the test metrics."""
    splits = load_splits(dataset)
    paths = [Path(p) for p in embedding_paths]
    emb = read_embeddings(paths)
    columns = group_columns(emb, feature_group, paths)
    names = [emb.feature_names[i] for i in columns]
    X_train = feature_matrix(emb, splits.train, columns, paths)
    X_valid = feature_matrix(emb, splits.valid, columns, paths)
    X_test = feature_matrix(emb, splits.test, columns, paths)
    backbone = emb.provenance.get("backbone", "?")
    log.info(
        "fitting %s head on %d training rows x %d %s features%s", head.name, X_train.shape[0], X_train.shape[1], backbone,
        f" (group {feature_group})" if feature_group else "",
    )
    started = time.time()
    with blas_threads_for(X_train):
        head.fit(X_train, splits.y_train, groups=groups_of(splits.train),
                 X_valid=X_valid if X_valid.shape[0] else None, y_valid=splits.y_valid if X_valid.shape[0] else None)
    fit_seconds = time.time() - started
    proba = head.predict_proba(X_test)
    valid = (splits.y_valid, head.predict_proba(X_valid)) if X_valid.shape[0] else None
    with atomic_path(output, directory=True) as tmp:
        metrics = write_evaluation(tmp, splits.test, splits.y_test, proba, splits.classes, n_bootstrap, seed,
                                   title=f"({backbone}, {head.name})", valid=valid, valid_rows=splits.valid)
        document = model_document(
            "head",
            splits.classes,
            feature_names=names,
            feature_group=feature_group,
            backbone=emb.provenance,
            embeddings=[p.name for p in paths],
            dataset=splits.summary(),
            seed=seed,
            fit_seconds=round(fit_seconds, 3),
            test_metrics=metric_summary(metrics),
            valid_metrics=metric_summary(metrics["valid"]),
            selection=selection_record(head.selection()),
        )
        save_head(tmp, head, document)
    log_metrics(log, metrics)
    return metrics


def train_finetuned(
    dataset: Path,
    backbone: str,
    weights: Path | None,
    backbone_options: dict[str, str],
    options: FinetuneOptions,
    output: Path,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> dict:
    """Fine-tune a backbone end to end through its registered finetuner; evaluated like a head."""
    from genofm.backbones.base import weights_checksum
    from genofm.finetune import needs_weights, new_finetuner
    from genofm.heads.store import MODEL_JSON, write_json

    if needs_weights(backbone):  # unknown backbones fail here, before the dataset is read
        if weights is None:
            raise GenofmError(f"--finetune {backbone} needs --weights (the backbone checkpoint to start from)")
        weights = Path(weights)
        if not weights.exists():
            raise GenofmError(f"{weights}: weights not found; pass the backbone's checkpoint (file or folder) with --weights")
    elif weights is not None:
        raise GenofmError(f"--finetune {backbone} trains from scratch and takes no --weights; drop --weights {weights}")
    splits = load_splits(dataset)
    finetuner = new_finetuner(backbone, weights, backbone_options, options)
    log.info("fine-tuning %s on %d training rows (%d validation rows)", backbone, len(splits.train), len(splits.valid))
    started = time.time()
    training_log = finetuner.fit(splits.train, splits.valid, splits.classes)
    fit_seconds = time.time() - started
    proba = np.asarray(finetuner.predict_proba(splits.test), dtype=np.float64)
    if proba.shape != (len(splits.test), len(splits.classes)):
        raise RuntimeError(f"finetuner {backbone!r} returned probabilities of shape {proba.shape} for {len(splits.test)} test rows")
    valid = (splits.y_valid, np.asarray(finetuner.predict_proba(splits.valid), dtype=np.float64)) if len(splits.valid) else None
    stopping = training_log.get("early_stopping_on") if isinstance(training_log, dict) else None
    selection = {"epoch kept": f"lowest {stopping} loss (early stopping)" if stopping else "lowest train loss (no valid split: all epochs run)"}
    with atomic_path(output, directory=True) as tmp:
        config = finetuner.save(tmp)
        metrics = write_evaluation(tmp, splits.test, splits.y_test, proba, splits.classes, n_bootstrap, seed,
                                   title=f"({backbone}, {'trained from scratch' if backbone == 'cnn' else 'fine-tuned'})", valid=valid, valid_rows=splits.valid)
        document = model_document(
            "finetuned",
            splits.classes,
            backbone={
                "backbone": backbone,
                "options": dict(backbone_options),
                "weights_sha256": weights_checksum(weights) if weights is not None else None,
                "weights_name": weights.name if weights is not None else None,
            },
            finetune={"options": dataclasses.asdict(options), "config": config},
            training_log=training_log,
            dataset=splits.summary(),
            seed=seed,
            fit_seconds=round(fit_seconds, 3),
            test_metrics=metric_summary(metrics),
            valid_metrics=metric_summary(metrics["valid"]),
            selection=selection_record(selection),
        )
        write_json(tmp / MODEL_JSON, document)
    log_metrics(log, metrics)
    return metrics


def selection_record(choices: dict[str, str]) -> dict[str, str]:
    """Which split chose what; the test split never chooses anything."""
    return {**choices, "test split": "scored once after every choice was made; chooses nothing"}
