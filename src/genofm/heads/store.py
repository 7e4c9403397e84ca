"""The model folder written by ``genofm-train``: ``model.json`` plus ``model.safetensors``.

No pickle anywhere: arrays go into safetensors, everything else into JSON, and the one head whose
parameters are not arrays (gradient boosting) uses skops with an explicit trusted-type list.
Reading validates the folder so that predict and interpret fail with one clear line instead of a
traceback when a folder is incomplete, corrupt or from another tool.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from genofm import __version__
from genofm.errors import GenofmError
from genofm.heads import head_class
from genofm.heads.base import Head

MODEL_JSON = "model.json"
ARRAYS_FILE = "model.safetensors"
FORMAT = "genofm-model"
FORMAT_VERSION = 1
KINDS = ("head", "finetuned")
_REQUIRED = {
    "head": ("classes", "head", "head_state", "feature_names", "backbone"),
    "finetuned": ("classes", "backbone", "finetune"),
}


def jsonable(value: Any) -> Any:
    """numpy scalars/arrays to Python, NaN/inf to None (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, document: dict) -> None:
    Path(path).write_text(json.dumps(jsonable(document), indent=2, allow_nan=False) + "\n")


def model_document(kind: str, classes: list[str], **fields: Any) -> dict:
    """The common header of model.json; ``fields`` adds the kind-specific parts."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "classes": list(classes),
        "positive_class": classes[-1] if len(classes) == 2 else None,
        "genofm_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **fields,
    }


def save_head(directory: Path, head: Head, document: dict) -> None:
    """Write the head's arrays, extra files and model.json into ``directory`` (already a temp folder)."""
    from safetensors.numpy import save_file

    directory = Path(directory)
    save_file({k: np.ascontiguousarray(v) for k, v in head.arrays().items()}, directory / ARRAYS_FILE)
    head.save_files(directory)
    write_json(directory / MODEL_JSON, {**document, "head": head.name, "head_state": head.state()})


def read_model(directory: str | Path) -> dict:
    """Validated model.json of a model folder."""
    directory = Path(directory)
    path = directory / MODEL_JSON
    if not directory.is_dir():
        raise GenofmError(f"{directory}: model folder not found; create it with genofm-train")
    if not path.is_file():
        raise GenofmError(f"{path}: not found; {directory} is not a genofm-train model folder (re-run genofm-train)")
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GenofmError(f"{path}: corrupt JSON ({exc.__class__.__name__}); re-run genofm-train") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GenofmError(f"{path}: not a genofm model description; re-run genofm-train")
    if document.get("format_version", 0) > FORMAT_VERSION:
        raise GenofmError(f"{path}: written by a newer genofm (format {document['format_version']}); upgrade genofm")
    kind = document.get("kind")
    if kind not in KINDS:
        raise GenofmError(f"{path}: unknown model kind {kind!r}; re-run genofm-train")
    missing = [k for k in _REQUIRED[kind] if k not in document]
    if missing:
        raise GenofmError(f"{path}: incomplete model description (missing {missing}); re-run genofm-train")
    if len(document["classes"]) < 2:
        raise GenofmError(f"{path}: a model needs at least two classes; re-run genofm-train")
    return document


def load_head(directory: str | Path, document: dict) -> Head:
    """Rebuild a fitted head from its folder (arrays via safetensors, never pickle)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    directory = Path(directory)
    path = directory / ARRAYS_FILE
    if not path.is_file():
        raise GenofmError(f"{path}: missing; the model folder is incomplete, re-run genofm-train")
    try:
        arrays = load_file(path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise GenofmError(f"{path}: not a readable safetensors file ({exc.__class__.__name__}); re-run genofm-train") from None
    try:
        head = head_class(document["head"]).restore(arrays, document["head_state"], directory)
    except (KeyError, TypeError) as exc:
        raise GenofmError(f"{directory / MODEL_JSON}: head parameters do not match the arrays ({exc}); re-run genofm-train") from None
    n_features = getattr(head, "mean_", np.empty(len(document["feature_names"]))).size
    if n_features != len(document["feature_names"]):
        raise GenofmError(
            f"{path}: holds {n_features} features but model.json names {len(document['feature_names'])}; re-run genofm-train"
        )
    return head
