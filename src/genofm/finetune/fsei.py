"""FSei: Sei's convolutional trunk fine-tuned with a new classification head.

The intron-retention study (Daoud & Ben-Hur 2025) got its best model this way: keep Sei's
trunk (optionally frozen), replace the 21,907-profile classifier by a small head - a 16-df
B-spline over the trunk positions, a conv 960 -> 520 (kernel 3, batch norm, ReLU), attention
pooling over the spline positions, one hidden fully connected layer and a linear output - and
train with class-weighted cross-entropy, AdamW and early stopping on the validation loss (the
shared loop, :mod:`genofm.finetune.loop`). The
new head learns at ``-O head_learning_rate`` (1e-3) and the pre-trained trunk at
``--learning-rate`` (2e-5 by default), so fine-tuning does not wash out what Sei learned.

Backbone options (``genofm-train --finetune sei -O key=value``) are :class:`FSeiOptions`.
Weights written by :meth:`SeiFinetuner.save`: ``fsei.safetensors`` (trunk and head), or, with
``--freeze-backbone``, only ``fsei_head.safetensors`` plus the SHA-256 of the ``sei.pth`` it was
trained on, which :meth:`SeiFinetuner.load` checks before reusing that file.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from genofm.backbones.base import BackboneOptions, weights_checksum
from genofm.backbones.sei import validate_length
from genofm.backbones.sei_fastpath import N_VALUE, PaddedTrunk
from genofm.backbones.sei_model import POOL_FACTOR, BSplineTransformation, Sei
from genofm.backbones.sei_release import load_sei, open_release
from genofm.device import autocast, resolve_device, resolve_precision
from genofm.errors import GenofmError
from genofm.finetune import FinetuneOptions
from genofm.finetune.loop import Recipe, Trainee, encode_labels, fit, seed_everything
from genofm.finetune.strand import random_strand, reverse_complement_onehot, strand_mean_log_proba
from genofm.options import option
from genofm.sequence import one_hot

log = logging.getLogger("genofm.fsei")

FORMAT = "genofm-fsei/1"
FULL_FILE = "fsei.safetensors"
HEAD_FILE = "fsei_head.safetensors"


@dataclasses.dataclass
class FSeiOptions(BackboneOptions):
    length: int = option(0, "window in bp; 0 = the longest training sequence rounded up to a multiple of 16 (at least 256)")
    embed_dim: int = option(0, "head conv channels; 0 = 520 scaled by trunk width / 960")
    kernel_size: int = option(3, "head conv kernel over the 16 spline positions")
    dropout: float = option(0.2, "dropout after the head's hidden layer")
    head_learning_rate: float = option(1e-3, "learning rate of the new, randomly initialised head; the pre-trained trunk uses --learning-rate")
    weight_decay: float = option(0.01, "AdamW weight decay")
    rc_augment: bool = option(True, "reverse-complement each training sequence with probability 1/2 (as the paper)")
    strand_average: bool = option(False, "average predicted probabilities over both strands (twice the prediction cost)")


class AttentionPool(nn.Module):
    """Softmax-weighted sum over positions; the logits are a learned linear map (identity at start)."""

    def __init__(self, dim: int):
        super().__init__()
        self.to_attn_logits = nn.Parameter(torch.eye(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D) -> (B, D)
        weights = torch.softmax(x @ self.to_attn_logits, dim=1)
        return (x * weights).sum(dim=1)


class FSeiHead(nn.Module):
    """Conv over spline positions, attention pooling, hidden layer, class logits."""

    def __init__(self, in_channels: int, embed_dim: int, n_classes: int, kernel_size: int = 3, dropout: float = 0.2):
        super().__init__()
        self.project = nn.Sequential(nn.Conv1d(in_channels, embed_dim, kernel_size), nn.BatchNorm1d(embed_dim), nn.ReLU(inplace=True))
        self.attention_pool = AttentionPool(embed_dim)
        self.fcn = nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU(inplace=True), nn.Dropout(dropout))
        self.prediction_head = nn.Linear(embed_dim, n_classes)

    def forward(self, spline: torch.Tensor) -> torch.Tensor:  # (B, C, df) -> (B, n_classes)
        x = self.project(spline).permute(0, 2, 1)
        return self.prediction_head(self.fcn(self.attention_pool(x)))


class FSei(nn.Module):
    """Sei trunk -> B-spline (no dropout, as in the paper's FSei) -> :class:`FSeiHead`."""

    def __init__(self, trunk: Sei, n_classes: int, embed_dim: int, kernel_size: int = 3, dropout: float = 0.2):
        super().__init__()
        if kernel_size > trunk.spline_df:
            raise GenofmError(f"FSei option kernel_size={kernel_size} exceeds the {trunk.spline_df} spline positions")
        self.trunk = trunk
        self.spline = BSplineTransformation(trunk.spline_df)
        self.head = FSeiHead(trunk.channels[2], embed_dim, n_classes, kernel_size, dropout)

    def forward(self, x: torch.Tensor, trunk_out: torch.Tensor | None = None) -> torch.Tensor:
        h = self.trunk.trunk(x) if trunk_out is None else trunk_out
        return self.head(self.spline(h))


class SeiFinetuner:
    """``genofm-train --finetune sei``: fit, predict, save and reload an FSei model."""

    def __init__(self, backbone: str, weights: Path | None, backbone_options: dict[str, str], options: FinetuneOptions):
        if backbone != "sei":
            raise GenofmError(f"SeiFinetuner fine-tunes 'sei', not {backbone!r}")
        if options.lora_rank:
            raise GenofmError("--lora-rank applies to language models; for sei use --freeze-backbone to train only the new head")
        self.backbone = backbone
        self.weights = Path(weights) if weights is not None else None
        self.fsei_options = FSeiOptions.from_pairs(dict(backbone_options or {}), "sei")
        self.options = options
        self.device = resolve_device(options.device)
        self.precision = resolve_precision(options.precision, self.device)
        self.model: FSei | None = None
        self.classes: list[str] = []
        self.length = self.fsei_options.length
        self._padded: PaddedTrunk | None = None

    # --- building --------------------------------------------------------------------------
    def _checkpoint(self) -> Path:
        if self.weights is None:
            raise GenofmError("FSei needs --weights: the Sei release folder (or its sei.pth) to start from")
        return open_release(self.weights, need_metadata=False).checkpoint

    def _build(self, trunk: Sei, n_classes: int) -> FSei:
        opts = self.fsei_options
        embed = opts.embed_dim or max(4, round(520 * trunk.channels[2] / 960))
        return FSei(trunk, n_classes, embed, opts.kernel_size, opts.dropout)

    def _resolve_length(self, frame: pd.DataFrame) -> int:
        if self.length:
            validate_length(self.length)
            return self.length
        longest = int(frame["sequence"].str.len().max())
        return max(POOL_FACTOR * 16, POOL_FACTOR * math.ceil(longest / POOL_FACTOR))

    def _encode(self, sequences: Sequence[str]) -> torch.Tensor:
        return torch.from_numpy(one_hot(list(sequences), self.length, unknown=N_VALUE)).to(self.device)

    # --- training --------------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
        opts, fopts = self.options, self.fsei_options
        self.classes = list(classes)
        if len(self.classes) < 2:
            raise GenofmError(f"FSei needs at least two classes, got {self.classes}")
        if len(train) == 0:
            raise GenofmError("the train split is empty; prepare a dataset with training rows")
        seed_everything(opts.seed)
        self.length = self._resolve_length(train)
        y_train = encode_labels(train, self.classes, "train")
        y_valid = encode_labels(valid, self.classes, "valid")

        trunk = load_sei(self._checkpoint(), classifier=False)
        _own_storage(trunk)
        self.model = model = self._build(trunk, len(self.classes)).to(self.device)
        frozen = bool(opts.freeze_backbone)
        for p in model.trunk.parameters():
            p.requires_grad_(not frozen)
        groups = [{"params": list(model.head.parameters()), "lr": fopts.head_learning_rate}]
        if not frozen:
            groups.append({"params": list(model.trunk.parameters()), "lr": opts.learning_rate})
        self._padded = PaddedTrunk(model.trunk) if frozen else None
        sequences = train["sequence"].tolist()
        valid_sequences = valid["sequence"].tolist()

        def batch_logits(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
            x = self._encode([sequences[i] for i in rows])
            return self._logits(random_strand(x, rng) if fopts.rc_augment else x, grad_trunk=not frozen)

        def train_mode() -> None:
            model.train()
            if frozen:
                model.trunk.eval()

        def after_step() -> None:
            if not frozen:
                self._padded = None  # its cached all-N background belongs to the old trunk weights

        def restore(state: dict[str, torch.Tensor]) -> None:
            model.load_state_dict(state)
            self._padded = PaddedTrunk(model.trunk) if frozen else None

        trainee = Trainee(
            module=model,
            param_groups=groups,
            batch_logits=batch_logits,
            valid_logits=(lambda: self._predict_logits(valid_sequences)) if len(valid) else None,
            restore=restore,
            train_mode=train_mode,
            after_step=after_step,
        )
        training_log = fit(trainee, y_train, y_valid, len(self.classes), opts, self.device, self.precision,
                           Recipe(weight_decay=fopts.weight_decay), name="fsei")
        return {**training_log, "frozen_backbone": frozen, "length": self.length}

    def _logits(self, x: torch.Tensor, grad_trunk: bool) -> torch.Tensor:
        if grad_trunk:
            return self.model(x)
        with torch.no_grad():
            h = self._padded(x) if self._padded is not None and not self.model.trunk.training else self.model.trunk.trunk(x)
        return self.model(x, trunk_out=h)

    # --- prediction ------------------------------------------------------------------------
    def _predict_logits(self, sequences: list[str], strand_average: bool = False) -> torch.Tensor:
        model = self.model
        was_training = model.training
        model.eval()
        if self._padded is None:
            self._padded = PaddedTrunk(model.trunk)
        out = []
        size = max(1, self.options.batch_size * 2)
        try:
            with torch.no_grad(), autocast(self.device, self.precision):
                for start in range(0, len(sequences), size):
                    x = self._encode(sequences[start : start + size])
                    if strand_average:
                        n = x.shape[0]
                        logits = model(torch.cat([x, reverse_complement_onehot(x)]), trunk_out=None)
                        out.append(strand_mean_log_proba(logits[:n], logits[n:]).cpu())
                    else:
                        h = self._padded(x)
                        out.append(model(x, trunk_out=h).float().cpu())
        finally:
            model.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, len(self.classes))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.model is None:
            raise GenofmError("FSei model is not trained; call fit() or load() first")
        logits = self._predict_logits(frame["sequence"].tolist(), self.fsei_options.strand_average)
        return torch.softmax(logits, dim=-1).numpy().astype(np.float64)

    # --- persistence -----------------------------------------------------------------------
    def save(self, directory: Path) -> dict[str, Any]:
        from safetensors.torch import save_file

        if self.model is None:
            raise GenofmError("FSei model is not trained; nothing to save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        frozen = bool(self.options.freeze_backbone)
        state = self.model.head.state_dict() if frozen else self.model.state_dict()
        tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
        filename = HEAD_FILE if frozen else FULL_FILE
        save_file(tensors, str(directory / filename), metadata={"format": FORMAT})
        trunk = self.model.trunk
        config = {
            "format": FORMAT,
            "weights_file": filename,
            "frozen_backbone": frozen,
            "channels": list(trunk.channels),
            "spline_df": trunk.spline_df,
            "embed_dim": self.model.head.attention_pool.to_attn_logits.shape[0],
            "length": self.length,
            "classes": list(self.classes),
            "backbone_options": self.fsei_options.to_dict(),
            "batch_size": self.options.batch_size,
        }
        if frozen:
            checkpoint = self._checkpoint()
            config["trunk_checkpoint"] = checkpoint.name
            config["trunk_sha256"] = weights_checksum(checkpoint)
        return config

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any], weights: Path | None, device: str = "auto") -> "SeiFinetuner":
        from safetensors.torch import load_file

        directory = Path(directory)
        if config.get("format") != FORMAT:
            raise GenofmError(f"{directory}: not an FSei model folder (format {config.get('format')!r}); train it with genofm-train --finetune sei")
        pairs = {k: str(v) for k, v in config.get("backbone_options", {}).items()}
        options = FinetuneOptions(device=device, batch_size=int(config.get("batch_size", 16)), freeze_backbone=bool(config["frozen_backbone"]))
        self = cls("sei", weights, pairs, options)
        self.classes = list(config["classes"])
        self.length = int(config["length"])
        path = directory / config["weights_file"]
        if not path.is_file():
            raise GenofmError(f"{path}: FSei weights missing from the model folder; re-run genofm-train --finetune sei")
        try:
            tensors = load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types
            raise GenofmError(f"{path}: unreadable safetensors file ({exc.__class__.__name__}); re-run genofm-train --finetune sei") from None
        if self.options.freeze_backbone:
            checkpoint = self._checkpoint()
            digest = weights_checksum(checkpoint)
            if digest != config.get("trunk_sha256"):
                raise GenofmError(
                    f"{checkpoint}: SHA-256 differs from the sei.pth this frozen FSei head was trained on; "
                    "pass the same Sei release with --weights"
                )
            trunk = load_sei(checkpoint, classifier=False)
        else:
            with torch.device("meta"):
                trunk = Sei(config["channels"], 1, config["spline_df"], classifier=False)
        model = self._build(trunk, len(self.classes))
        target = model.head if self.options.freeze_backbone else model
        try:
            target.load_state_dict(tensors, strict=True, assign=not self.options.freeze_backbone)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0][:200]
            raise GenofmError(f"{path}: tensors do not match the FSei architecture in model.json ({first})") from None
        self.model = model.to(self.device).eval()
        return self


def _own_storage(module: nn.Module) -> None:
    """Give memory-mapped checkpoint tensors private, writable storage before training them."""
    with torch.no_grad():
        for param in module.parameters():
            param.data = param.data.clone()
