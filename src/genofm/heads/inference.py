"""Class probabilities of a saved model for new sequences.

A head needs the features it was trained on: either from embedding files (checked against the
model's backbone provenance) or computed here by rebuilding that backbone from the provenance,
with the weights verified by checksum. A model trained end to end (fine-tuned backbone or the
from-scratch cnn) is rebuilt by its finetuner.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genofm.errors import GenofmError
from genofm.heads.features import feature_matrix, model_columns
from genofm.heads.store import load_head

log = logging.getLogger("genofm")


def _backbone_for(prov: dict, model_dir: Path, weights: Path | None, device: str, precision: str):
    """Rebuild a backbone from its provenance; weights must match the recorded checksum."""
    from genofm.backbones.base import weights_checksum
    from genofm.embedding_run import build_backbone
    from genofm.device import resolve_device, resolve_precision

    name = prov.get("backbone")
    expected = prov.get("weights_sha256")
    if expected:
        if weights is None:
            raise GenofmError(
                f"{model_dir}: the model uses {name} features from weights {prov.get('weights_name')!r}; "
                "pass those weights with --weights, or pass --embeddings"
            )
        if not Path(weights).exists():
            raise GenofmError(f"{weights}: weights not found; pass the checkpoint the model's embeddings were made with")
        found = weights_checksum(Path(weights))
        if found != expected:
            raise GenofmError(
                f"{weights}: sha256 {found[:12]} differs from the weights the model was trained with ({expected[:12]}, "
                f"{prov.get('weights_name')}); pass the same checkpoint"
            )
    elif weights is not None:
        log.warning("backbone %s of %s needs no weights; ignoring --weights %s", name, model_dir, weights)
        weights = None
    torch_device = resolve_device(device)
    return build_backbone(name, dict(prov.get("options") or {}), Path(weights) if weights else None, torch_device,
                          resolve_precision(precision, torch_device))


def _embed_with(prov: dict, prefix: str, model_dir: Path, frame: pd.DataFrame, weights: Path | None,
                device: str, precision: str, batch_size: int | None) -> tuple[np.ndarray, list[str]]:
    """Features of one backbone computed here, with their names (prefixed as in a joined table)."""
    from genofm.embedding_run import embed_frame

    if prov.get("backbone") == "tracks":
        raise GenofmError(
            f"{model_dir}: the model uses epigenomic track features, which come from track files, not from sequence; "
            "pass --embeddings (the tracks file genofm-prepare --tracks wrote for this dataset, and the other backbones' files)"
        )
    backbone = _backbone_for(prov, model_dir, weights, device, precision)
    names = [prefix + n for n in backbone.feature_names]
    if len(names) != prov.get("n_features", len(names)):
        raise GenofmError(
            f"{model_dir}: the rebuilt {prov.get('backbone')} backbone yields {len(names)} features, "
            f"not the model's {prov.get('n_features')}; pass --embeddings made for the model"
        )
    log.info("embedding %d sequences with %s", len(frame), prov.get("backbone"))
    X = embed_frame(backbone, frame, batch_size or backbone.default_batch_size, prov.get("rc_average", False))
    return X, names


def head_features(
    document: dict,
    model_dir: Path,
    frame: pd.DataFrame,
    embeddings: Sequence[Path] | None,
    weights: Path | None,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
) -> np.ndarray:
    """The model's feature columns for the rows of ``frame``.

    Without embedding files every backbone of the model is rebuilt from its provenance; a joined
    (stacked) model can be rebuilt so only when at most one of its backbones needs weights and all
    of them compute features from sequence alone.
    """
    from genofm.embeddings import LABEL_SEPARATOR, members

    if embeddings:
        from genofm.embeddings import read_embeddings

        paths = [Path(p) for p in embeddings]
        emb = read_embeddings(paths)
        columns = model_columns(emb, document, model_dir, paths)
        return feature_matrix(emb, frame, columns, paths)
    prov = document["backbone"]
    stacked = bool(prov.get("stack"))
    parts = members(prov)
    if stacked and sum(bool(m.get("weights_sha256")) for m in parts) > 1:
        raise GenofmError(
            f"{model_dir}: the model joins {len(parts)} backbones of which several need weights; pass --embeddings of each"
        )
    blocks, names = [], []
    for member in parts:
        prefix = f"{member.get('label', member.get('backbone'))}{LABEL_SEPARATOR}" if stacked else ""
        X, these = _embed_with(member, prefix, model_dir, frame, weights if member.get("weights_sha256") or not stacked else None,
                               device, precision, batch_size)
        blocks.append(X)
        names += these
    index = {n: i for i, n in enumerate(names)}
    missing = [n for n in document["feature_names"] if n not in index]
    if missing:
        raise GenofmError(
            f"{model_dir}: the rebuilt backbone(s) lack {len(missing)} of the model's features (first: {missing[0]!r}); "
            "pass --embeddings made for the model"
        )
    X = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    return X[:, [index[n] for n in document["feature_names"]]]


def predict_proba(
    model_dir: Path,
    document: dict,
    frame: pd.DataFrame,
    embeddings: Sequence[Path] | None = None,
    weights: Path | None = None,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
) -> np.ndarray:
    """(len(frame), n_classes) probabilities in the model's class order."""
    model_dir = Path(model_dir)
    if document["kind"] == "finetuned":
        if embeddings:
            raise GenofmError(f"{model_dir}: a fine-tuned model reads sequences; drop --embeddings and pass --weights")
        from genofm.finetune import load_finetuner, needs_weights

        name = document["backbone"].get("backbone")
        if weights is None and needs_weights(name):
            raise GenofmError(f"{model_dir}: a fine-tuned {name} model needs --weights (its base checkpoint)")
        finetuner = load_finetuner(name, model_dir, document["finetune"]["config"], weights, device)
        proba = np.asarray(finetuner.predict_proba(frame), dtype=np.float64)
    else:
        head = load_head(model_dir, document)
        X = head_features(document, model_dir, frame, embeddings, weights, device, precision, batch_size)
        proba = head.predict_proba(X)
    if proba.shape != (len(frame), len(document["classes"])):
        raise RuntimeError(f"{model_dir}: model returned probabilities of shape {proba.shape} for {len(frame)} rows")
    return proba
