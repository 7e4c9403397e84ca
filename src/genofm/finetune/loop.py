"""The one training loop behind every model trained end to end: FSei, fine-tuned language models, the CNN.

A model hands the loop what only it knows - its parameter groups, how a batch of training rows
becomes logits (tokenising, one-hot encoding, reverse-complement augmentation) and the logits of
the validation split - and the loop owns everything else, so all of them train and log alike:

* seeding (:func:`seed_everything`) and one shuffling generator per run;
* AdamW, weight decay on weight matrices only (biases and normalisation weights excluded);
* an optional warm-up and linear/cosine decay of the learning rate (:class:`Recipe`);
* mixed precision: autocast at the chosen precision, a gradient scaler for fp16;
* gradient-norm clipping;
* cross-entropy weighted by :func:`class_weights`, the same "balanced" formula the heads use;
* early stopping on the validation loss (``patience`` epochs without improvement), restoring the
  best epoch's weights; without validation rows it trains all epochs and keeps the best train loss;
* a warning (and ``constant_predictions`` in the log) when the kept weights give every validation
  row the same probabilities: a run that diverged or stalled (dead units after a blown-up first
  epoch) would otherwise be saved and scored as if it were a model;
* one training-log format (:func:`fit` returns it; ``genofm-train`` stores it in model.json).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from genofm.device import autocast
from genofm.errors import GenofmError

if TYPE_CHECKING:
    from genofm.finetune import FinetuneOptions

log = logging.getLogger("genofm.finetune")

SCHEDULES = ("linear", "cosine", "constant")
#: largest spread of a class probability over the validation rows below which a model predicts a constant
CONSTANT_SPREAD = 1e-3


@dataclasses.dataclass
class Recipe:
    """The optimiser settings a model family chooses (its ``-O`` options usually set them)."""

    weight_decay: float = 0.01
    grad_clip: float = 0.0  # 0 disables clipping
    schedule: str = "constant"  # learning-rate decay after warm-up: linear, cosine or constant
    warmup: float = 0.0  # share of the optimiser steps spent warming up from 0

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise GenofmError(f"fine-tuning option schedule={self.schedule!r}; choose one of {list(SCHEDULES)}")
        if not 0.0 <= self.warmup < 1.0:
            raise GenofmError(f"fine-tuning option warmup={self.warmup} must be a fraction in [0, 1)")


@dataclasses.dataclass
class Trainee:
    """What a model family gives the loop.

    ``batch_logits(rows, rng)`` returns the logits of training rows ``rows`` (indices into the
    training frame) in training mode; ``rng`` is the run's generator, for augmentation.
    ``valid_logits()`` returns the logits of every validation row, in order, in evaluation mode.
    ``snapshot``/``restore`` save and reload what training changes (default: the whole state dict);
    ``train_mode`` puts the module in training mode (default ``module.train()``); ``after_step``
    runs after each optimiser step (e.g. to drop caches that depend on the weights).
    """

    module: nn.Module
    param_groups: list[dict[str, Any]]
    batch_logits: Callable[[np.ndarray, np.random.Generator], torch.Tensor]
    valid_logits: Callable[[], torch.Tensor] | None = None
    snapshot: Callable[[], dict[str, torch.Tensor]] | None = None
    restore: Callable[[dict[str, torch.Tensor]], None] | None = None
    train_mode: Callable[[], None] | None = None
    after_step: Callable[[], None] | None = None


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so that initialisation and dropout repeat run to run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def encode_labels(frame: pd.DataFrame, classes: Sequence[str], what: str) -> np.ndarray:
    """Integer class indices in ``classes`` order: the label mapping heads use, for one split."""
    from genofm.heads.features import label_indices

    if len(frame) == 0:
        return np.zeros(0, dtype=np.int64)
    return label_indices(frame, classes, Path(f"the {what} split"))


def class_weights(y: np.ndarray, n_classes: int, balanced: bool = True) -> np.ndarray:
    """Per-class loss weights: n / (K * n_k) (heads' balanced rule), or ones."""
    from genofm.heads.base import balanced_class_weights

    if not balanced:
        return np.ones(n_classes)
    return balanced_class_weights(np.asarray(y, dtype=np.int64), n_classes)


def _lr_factor(schedule: str, warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant":
            return 1.0
        progress = min(max((step - warmup_steps) / max(1, total_steps - warmup_steps), 0.0), 1.0)
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0 - progress

    return factor


def _optimiser(groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
    """AdamW with each group split into decayed weight matrices and undecayed vectors."""
    split = []
    for group in groups:
        params = [p for p in group["params"] if p.requires_grad]
        rest = {k: v for k, v in group.items() if k != "params"}
        matrices = [p for p in params if p.dim() >= 2]
        vectors = [p for p in params if p.dim() < 2]
        if matrices:
            split.append({**rest, "params": matrices, "weight_decay": weight_decay})
        if vectors:
            split.append({**rest, "params": vectors, "weight_decay": 0.0})
    if not split:
        raise GenofmError("nothing to train: every parameter is frozen")
    return torch.optim.AdamW(split)


def fit(
    trainee: Trainee,
    y_train: np.ndarray,
    y_valid: np.ndarray,
    n_classes: int,
    options: "FinetuneOptions",
    device: torch.device,
    precision: str,
    recipe: Recipe | None = None,
    name: str = "model",
) -> dict[str, Any]:
    """Train ``trainee`` and return the training log (the best epoch's weights are loaded at the end)."""
    recipe = recipe or Recipe()
    if options.batch_size < 1 or options.epochs < 1:
        raise GenofmError("--batch-size and --epochs must be at least 1")
    module = trainee.module
    y_train = np.array(y_train, dtype=np.int64)  # private, writable copies
    y_valid = np.array(y_valid, dtype=np.int64)
    n_train, has_valid = len(y_train), len(y_valid) > 0 and trainee.valid_logits is not None
    if n_train == 0:
        raise GenofmError("the train split is empty; prepare a dataset with training rows")
    if not has_valid:
        log.warning("%s: no validation rows; training %d epochs without early stopping", name, options.epochs)
    weight = class_weights(y_train, n_classes, options.class_weight)
    weight_cpu = torch.tensor(weight, dtype=torch.float32)
    weight_dev = weight_cpu.to(device)
    optimiser = _optimiser(trainee.param_groups, recipe.weight_decay)
    trainable = [p for g in optimiser.param_groups for p in g["params"]]
    total = options.epochs * math.ceil(n_train / options.batch_size)
    if options.max_steps is not None:
        total = min(total, max(1, options.max_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, _lr_factor(recipe.schedule, int(recipe.warmup * total), total))
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    snapshot = trainee.snapshot or (lambda: module.state_dict())
    restore = trainee.restore or (lambda state: module.load_state_dict(state))
    train_mode = trainee.train_mode or (lambda: module.train())
    rng = np.random.default_rng(options.seed)
    log.info("%s: %d train / %d valid rows, %d trainable parameters, %s on %s",
             name, n_train, len(y_valid) if has_valid else 0, sum(p.numel() for p in trainable), precision, device)

    started = time.time()
    history: list[dict[str, Any]] = []
    best_loss, best_epoch, best_state, stale, step, stopped_early = math.inf, 0, None, 0, 0, False
    spread, best_spread = None, None  # largest spread of a class probability over the validation rows
    for epoch in range(1, options.epochs + 1):
        train_mode()
        order = rng.permutation(n_train)
        total_loss, seen = 0.0, 0
        for start in range(0, n_train, options.batch_size):
            if step >= total:
                break
            rows = order[start : start + options.batch_size]
            target = torch.from_numpy(y_train[rows]).to(device)
            with autocast(device, precision):
                logits = trainee.batch_logits(rows, rng)
            loss = F.cross_entropy(logits.float(), target, weight=weight_dev)
            optimiser.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimiser)
            else:
                loss.backward()
            if recipe.grad_clip > 0:
                nn.utils.clip_grad_norm_(trainable, recipe.grad_clip)
            if scaler is not None:
                scaler.step(optimiser)
                scaler.update()
            else:
                optimiser.step()
            scheduler.step()
            if trainee.after_step is not None:
                trainee.after_step()
            step += 1
            total_loss += float(loss.detach()) * len(rows)
            seen += len(rows)
        train_loss = total_loss / seen if seen else None
        valid_loss = None
        if has_valid:
            module.eval()
            with torch.no_grad():
                logits = trainee.valid_logits().float().cpu()
            valid_loss = float(F.cross_entropy(logits, torch.from_numpy(y_valid), weight=weight_cpu))
            probabilities = torch.softmax(logits, dim=1)
            spread = float((probabilities.amax(0) - probabilities.amin(0)).max())
        history.append({"epoch": epoch, "steps": step, "train_loss": train_loss, "valid_loss": valid_loss,
                        "learning_rate": float(scheduler.get_last_lr()[0]), "seconds": round(time.time() - started, 3)})
        log.info("%s: epoch %d train loss %s, valid loss %s", name, epoch,
                 "n/a" if train_loss is None else f"{train_loss:.4f}", "n/a" if valid_loss is None else f"{valid_loss:.4f}")
        monitored = valid_loss if has_valid else train_loss
        if monitored is not None and monitored < best_loss - 1e-6:
            best_loss, best_epoch, stale, best_spread = monitored, epoch, 0, spread
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in snapshot().items()}
        else:
            stale += 1
            if has_valid and stale >= options.patience:
                stopped_early = True
                break
        if step >= total:
            break
    if best_state is not None:
        restore(best_state)
    module.eval()
    constant = best_spread is not None and best_spread < CONSTANT_SPREAD
    if constant:
        log.warning("%s: the kept weights (epoch %d) give every validation row the same probabilities (spread %.1e): the "
                    "run learned nothing (diverged or stalled); try another --seed, a lower --learning-rate or "
                    "for the cnn, gradient clipping (-O grad_clip=1)", name, best_epoch, best_spread)
    return {
        "model": name,
        "history": history,
        "monitor": "valid_loss" if has_valid else "train_loss",
        "early_stopping_on": "valid split" if has_valid else None,
        "best_epoch": best_epoch,
        "best_valid_loss": best_loss if has_valid and math.isfinite(best_loss) else None,
        "epochs_run": len(history),
        "steps": step,
        "stopped_early": stopped_early,
        "constant_predictions": constant,
        "class_weight": [float(w) for w in weight],
        "trainable_parameters": int(sum(p.numel() for p in trainable)),
        "total_parameters": int(sum(p.numel() for p in module.parameters())),
        "device": str(device),
        "precision": precision,
        "seconds": round(time.time() - started, 3),
    }
