"""Models trained end to end on sequences: fine-tuned backbones and the CNN trained from scratch.

``genofm-train --finetune NAME`` dispatches here. Each model family provides a class implementing
:class:`Finetuner`, and all of them train through the one loop in :mod:`genofm.finetune.loop`;
``train`` owns evaluation, metrics and the model folder's ``model.json``, the finetuner owns its
weights file(s) inside that folder. A class may set ``needs_weights = False`` (nothing
pre-trained, e.g. ``cnn``) and ``option_defaults`` (its own defaults for :class:`FinetuneOptions`).
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
import pandas as pd

from genofm.catalogue import finetuners
from genofm.errors import GenofmError

#: name -> ``module:Class`` of its finetuner, derived from the catalogue (genofm.catalogue)
FINETUNERS: dict[str, str] = finetuners()


@dataclasses.dataclass
class FinetuneOptions:
    """Settings shared by every finetuner (set from ``genofm-train`` options)."""

    epochs: int = 3
    learning_rate: float = 2e-5
    batch_size: int = 16
    lora_rank: int = 0  # 0: full fine-tuning; >0: low-rank adapters of this rank, backbone frozen
    freeze_backbone: bool = False
    patience: int = 2  # early stopping on validation loss, in epochs
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    class_weight: bool = True
    max_steps: int | None = None  # cap on optimiser steps (tests, quick looks)


class Finetuner(Protocol):
    """A backbone plus classification head trained on sequences."""

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
        """Train on ``train`` (columns ``sequence``, ``label``), early-stop on ``valid``; return a training log."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(len(frame), n_classes) class probabilities in ``classes`` order."""

    def save(self, directory: Path) -> dict[str, Any]:
        """Write weights into ``directory`` (safetensors); return the JSON config ``load`` needs."""


def finetuner_class(backbone: str) -> type:
    if backbone not in FINETUNERS:
        raise GenofmError(f"backbone {backbone!r} cannot be fine-tuned; choose one of {sorted(FINETUNERS)}")
    module_name, attr = FINETUNERS[backbone].split(":")
    return getattr(importlib.import_module(module_name), attr)


def needs_weights(backbone: str) -> bool:
    """Whether the model starts from a checkpoint (``--weights``); the cnn starts from scratch."""
    return bool(getattr(finetuner_class(backbone), "needs_weights", True))


def default_options(backbone: str) -> FinetuneOptions:
    """:class:`FinetuneOptions` defaults, overridden by the model family's ``option_defaults``."""
    return dataclasses.replace(FinetuneOptions(), **getattr(finetuner_class(backbone), "option_defaults", {}))


def new_finetuner(backbone: str, weights: Path | None, backbone_options: dict[str, str], options: FinetuneOptions):
    """``cls(backbone, weights, backbone_options, options)``: every finetuner has this constructor."""
    return finetuner_class(backbone)(backbone, Path(weights) if weights is not None else None, backbone_options, options)


def load_finetuner(backbone: str, directory: Path, config: dict[str, Any], weights: Path | None, device: str = "auto"):
    """``cls.load(directory, config, weights, device)``: rebuild a saved fine-tuned model for predict/interpret."""
    return finetuner_class(backbone).load(Path(directory), config, Path(weights) if weights is not None else None, device)
