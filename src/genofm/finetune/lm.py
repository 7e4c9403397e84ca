"""Fine-tuning DNABERT-2, DNABERT-6 and the GPT-2 DNA model as sequence classifiers.

The classifier is the backbone, the same pooling as its embeddings (masked mean or the summary
token, per tile, merged over tiles by token count) and dropout + one linear layer. Training
follows the recipes of the seed paper (AdamW, warm-up then linear or cosine decay, class-weighted
cross-entropy, early stopping on validation loss; the shared loop of :mod:`genofm.finetune.loop`)
with either all weights trainable, LoRA
adapters on the attention projections (``lora_rank > 0``), or a frozen backbone.

Saved state: ``finetuned_lm.safetensors`` holds the head plus whatever training changed (the
whole encoder, or only the adapters), ``finetuned_lm.json`` the configuration. Adapter-only and
head-only models record the base weights' SHA-256 and refuse to load on top of other weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from genofm.backbones import backbone_class
from genofm.backbones.base import weights_checksum
from genofm.backbones.lm_checkpoint import weights_file
from genofm.backbones.lm_common import LMEncoder, LMOptions, POOLINGS, Rows, check_layer, collate, combine_rows, make_rows, plan_batches, pool_hidden
from genofm.backbones.lm_tokenizers import LMTokenizer, Tokenized
from genofm.device import autocast, resolve_device, resolve_precision
from genofm.errors import GenofmError
from genofm.options import option
from genofm.finetune import FinetuneOptions
from genofm.finetune.loop import SCHEDULES, Recipe, Trainee, encode_labels, fit, seed_everything
from genofm.finetune.lm_lora import apply_lora, lora_state

log = logging.getLogger("genofm.finetune")

WEIGHTS_NAME = "finetuned_lm.safetensors"
CONFIG_NAME = "finetuned_lm.json"


@dataclasses.dataclass
class LMFinetuneSettings(LMOptions):
    """Backbone options (pooling, window, ...) plus the fine-tuning knobs ``-O key=value`` may set."""

    head_dropout: float = option(0.1, "dropout before the linear classification layer")
    warmup: float = option(0.1, "share of the optimiser steps spent warming the learning rate up from 0")
    schedule: str = option("linear", "learning-rate decay after warm-up: linear, cosine or constant")
    weight_decay: float = option(0.01, "AdamW weight decay (biases and LayerNorm weights excluded)")
    lora_alpha: float = option(16.0, "LoRA scaling numerator; updates are scaled by lora_alpha / lora_rank")
    lora_dropout: float = option(0.05, "dropout on the LoRA branch input")
    grad_clip: float = option(1.0, "gradient-norm clipping (0 disables)")


class SequenceClassifier(nn.Module):
    """Encoder + pooling + dropout + linear head, scoring each tile (row) of a sequence.

    Because the head is linear, the token-weighted mean of a sequence's tile logits equals the
    head applied to the token-weighted mean of its pooled tiles: sequences are scored by
    :func:`combine_rows` over row logits, and a single row can be explained on its own.
    """

    def __init__(self, encoder: LMEncoder, n_classes: int, pooling: str, summary_position: str, layer: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.summary_position = summary_position
        self.layer = layer
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, output_attentions: bool = False):
        hidden, attentions = self.encoder(input_ids, attention_mask, layer=self.layer, output_attentions=output_attentions)
        pooled = pool_hidden(hidden.float(), attention_mask, self.pooling, self.summary_position)
        logits = self.head(self.dropout(pooled))
        return (logits, attentions) if output_attentions else logits


def _file_sha256(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


class LMFinetuner:
    """Fine-tunes a DNA language model end to end (or via LoRA) for sequence classification."""

    def __init__(self, backbone: str, weights: Path, backbone_options: dict[str, Any], options: FinetuneOptions, *, attention: str = "fast"):
        self.backbone = backbone
        self.weights = Path(weights)
        self.options = options
        self.settings = LMFinetuneSettings.from_pairs(dict(backbone_options or {}), backbone)
        s = self.settings
        if s.pooling not in POOLINGS:
            raise GenofmError(f"fine-tuning option pooling={s.pooling!r}; choose one of {list(POOLINGS)}")
        if s.schedule not in SCHEDULES:
            raise GenofmError(f"fine-tuning option schedule={s.schedule!r}; choose one of {list(SCHEDULES)}")
        if not 0.0 <= s.warmup < 1.0:
            raise GenofmError(f"fine-tuning option warmup={s.warmup} must be a fraction in [0, 1)")
        if options.lora_rank < 0:
            raise GenofmError(f"--lora-rank must be >= 0 (got {options.lora_rank})")
        if options.batch_size < 1 or options.epochs < 1:
            raise GenofmError("--batch-size and --epochs must be at least 1")
        self.device = resolve_device(options.device)
        self.precision = resolve_precision(options.precision, self.device)
        self._cls = backbone_class(backbone)
        if not hasattr(self._cls, "window_limit"):
            raise GenofmError(f"backbone {backbone!r} is not a language model; LMFinetuner fine-tunes dnabert2, dnabert6 and gpt2dna")
        encoder, tokenizer = self._cls.load(self.weights, attention)
        self.encoder: LMEncoder = encoder
        self.tokenizer: LMTokenizer = tokenizer
        self.layer = check_layer(s.layer, encoder.num_layers, backbone)
        self.window = self._cls.resolve_window(s.window, encoder, tokenizer)
        if not 0 <= s.overlap < self.window:
            raise GenofmError(f"fine-tuning option overlap={s.overlap} must be between 0 and window-1 ({self.window - 1})")
        self.batch_tokens = s.batch_tokens or (131072 if self.device.type == "cuda" else 16384)
        self.batch_rows = s.batch_rows or max(options.batch_size, 256 if self.device.type == "cuda" else 32)
        self.mode = "lora" if options.lora_rank > 0 else ("frozen" if options.freeze_backbone else "full")
        self.classes: list[str] = []
        self.model: SequenceClassifier | None = None

    # --- model construction -------------------------------------------------------------------
    def _build(self, n_classes: int) -> SequenceClassifier:
        if self.mode == "lora":
            apply_lora(self.encoder, self.encoder.lora_targets(), self.options.lora_rank, self.settings.lora_alpha, self.settings.lora_dropout)
        elif self.mode == "frozen":
            for p in self.encoder.parameters():
                p.requires_grad_(False)
        model = SequenceClassifier(
            self.encoder, n_classes, self.settings.pooling, self.tokenizer.summary_position, self.layer, self.settings.head_dropout
        )
        return model.to(self.device)

    def _rows(self, tokenized: Sequence[Tokenized]) -> Rows:
        return make_rows(tokenized, self.tokenizer, self.window, self.settings.overlap)

    def _sequence_logits(self, rows: Rows, n: int) -> torch.Tensor:
        input_ids, mask = collate(rows.ids, self.tokenizer.pad_id, self.device)
        with autocast(self.device, self.precision):
            row_logits = self.model(input_ids, mask)
        seq_index = torch.from_numpy(rows.seq_index).to(self.device)
        weights = torch.from_numpy(rows.weights).to(self.device)
        return combine_rows(row_logits.float(), seq_index, weights, n)

    # --- Finetuner protocol ------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
        if len(train) == 0:
            raise GenofmError("the training split is empty; check the prepared dataset's splits")
        if self.model is not None:
            raise GenofmError("fit() already ran on this finetuner; create a new one to train again")
        self.classes = list(classes)
        if len(self.classes) < 2:
            raise GenofmError(f"fine-tuning needs at least two classes (got {self.classes})")
        seed_everything(self.options.seed)
        self.model = self._build(len(self.classes))
        y_train = encode_labels(train, self.classes, "train")
        y_valid = encode_labels(valid, self.classes, "valid")
        tok_train = self.tokenizer.tokenize_many(train["sequence"].astype(str).tolist())
        tok_valid = self.tokenizer.tokenize_many(valid["sequence"].astype(str).tolist()) if len(valid) else []

        def batch_logits(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
            return self._sequence_logits(self._rows([tok_train[i] for i in rows]), len(rows))

        trainee = Trainee(
            module=self.model,
            param_groups=[{"params": [p for p in self.model.parameters() if p.requires_grad], "lr": self.options.learning_rate}],
            batch_logits=batch_logits,
            valid_logits=(lambda: self._predict_logits(tok_valid)) if len(valid) else None,
            snapshot=self._trainable_state,
            restore=lambda state: self.model.load_state_dict(state, strict=False),
        )
        s = self.settings
        recipe = Recipe(weight_decay=s.weight_decay, grad_clip=s.grad_clip, schedule=s.schedule, warmup=s.warmup)
        training_log = fit(trainee, y_train, y_valid, len(self.classes), self.options, self.device, self.precision, recipe,
                           name=f"{self.backbone} ({self.mode})")
        return {**training_log, "mode": self.mode}

    @torch.no_grad()
    def _predict_logits(self, tokenized: list[Tokenized]) -> torch.Tensor:
        """Logits in input order, batched by length under the padded-token budget."""
        self.model.eval()
        lengths = np.array([len(t.ids) + len(self.tokenizer.prefix) + len(self.tokenizer.suffix) for t in tokenized])
        out = torch.empty(len(tokenized), len(self.classes), dtype=torch.float32)
        for batch in plan_batches(lengths, self.batch_tokens, bucket=self.settings.bucket, max_rows=self.batch_rows):
            rows = self._rows([tokenized[i] for i in batch])
            out[torch.from_numpy(batch)] = self._sequence_logits(rows, len(batch)).cpu()
        return out

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.model is None:
            raise GenofmError("the fine-tuned model is not trained or loaded")
        if len(frame) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        tokenized = self.tokenizer.tokenize_many(frame["sequence"].astype(str).tolist())
        return torch.softmax(self._predict_logits(tokenized), dim=1).numpy().astype(np.float32)

    # --- persistence ----------------------------------------------------------------------------
    def _trainable_state(self) -> dict[str, torch.Tensor]:
        """What training changed: the head, plus the whole encoder (full) or the adapters (lora)."""
        state = {f"head.{k}": v for k, v in self.model.head.state_dict().items()}
        if self.mode == "full":
            state.update({f"encoder.{k}": v for k, v in self.model.encoder.state_dict().items()})
        elif self.mode == "lora":
            state.update({f"encoder.{k}": v for k, v in lora_state(self.model.encoder).items()})
        return state

    def save(self, directory: Path) -> dict[str, Any]:
        from safetensors.torch import save_file

        if self.model is None:
            raise GenofmError("nothing to save: fit() has not run")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in self._trainable_state().items()}
        save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
        config = {
            "format": "genofm-finetuned-lm/1",
            "backbone": self.backbone,
            "classes": self.classes,
            "mode": self.mode,
            "lora_rank": self.options.lora_rank,
            "settings": self.settings.to_dict(),
            "weights_file": WEIGHTS_NAME,
            "base_weights_name": self.weights.name,
            "base_weights_sha256": weights_checksum(weights_file(self.weights)) if self.mode != "full" else None,
            "tokenizer_sha256": _file_sha256(self.tokenizer.files),
            "hidden_size": self.encoder.hidden_size,
            "window_tokens": self.window,
            "layer": self.layer,
        }
        (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        return config

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any] | None, weights: Path, device: str = "auto", *, attention: str = "fast") -> "LMFinetuner":
        """Rebuild a saved model on top of the base ``weights`` folder it was fine-tuned from."""
        from safetensors.torch import load_file

        directory = Path(directory)
        if not config or "settings" not in config:
            path = directory / CONFIG_NAME
            if not path.is_file():
                raise GenofmError(f"{path}: missing; {directory} is not a fine-tuned language-model folder (create it with genofm-train --finetune)")
            config = json.loads(path.read_text())
        if weights is None:
            raise GenofmError(f"{directory}: a fine-tuned {config['backbone']} model needs --weights, the base model folder it was fine-tuned from")
        options = FinetuneOptions(lora_rank=int(config["lora_rank"]), freeze_backbone=config["mode"] == "frozen", device=device, precision="auto")
        self = cls(config["backbone"], Path(weights), config["settings"], options, attention=attention)
        if _file_sha256(self.tokenizer.files) != config["tokenizer_sha256"]:
            raise GenofmError(f"{weights}: tokenizer files differ from those the model in {directory} was fine-tuned with; pass the original base folder")
        if config["mode"] != "full":
            actual = weights_checksum(weights_file(self.weights))
            if actual != config["base_weights_sha256"]:
                raise GenofmError(
                    f"{weights}: base weights differ from those the {config['mode']} model in {directory} was trained on (sha256 mismatch); "
                    "pass the original base folder"
                )
        self.classes = list(config["classes"])
        self.model = self._build(len(self.classes))
        path = directory / config.get("weights_file", WEIGHTS_NAME)
        if not path.is_file():
            raise GenofmError(f"{path}: missing; the fine-tuned model folder is incomplete, re-run genofm-train --finetune")
        state = load_file(str(path))
        expected = self._trainable_state()
        missing = [k for k in expected if k not in state]
        unexpected = [k for k in state if k not in expected]
        if missing or unexpected:
            key = (missing or unexpected)[0]
            raise GenofmError(f"{path}: {'missing' if missing else 'unexpected'} tensor {key!r}; the file does not match {CONFIG_NAME}")
        for key, value in state.items():
            if tuple(value.shape) != tuple(expected[key].shape):
                raise GenofmError(f"{path}: tensor {key!r} has shape {tuple(value.shape)}, expected {tuple(expected[key].shape)}")
        self.model.load_state_dict({k: v.to(self.device) for k, v in state.items()}, strict=False)
        self.model.to(self.device).eval()
        return self
