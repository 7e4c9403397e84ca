"""A convolutional network trained from scratch on one-hot sequence (``genofm-train --finetune cnn``).

Frozen k-mer spectra and pooled backbone features cannot tell *where* in a window a motif sits;
a CNN whose last convolutional map is flattened (or pooled into a few position bins) keeps that
information. It is also the intron-retention seed's own baseline. Three architectures, chosen
with ``-O architecture=``:

* ``basset`` (default): Basset-like (Kelley et al. 2016) - three blocks of convolution, batch norm,
  ReLU and max-pooling (kernels 19, 11, 7; pools 3, 4, 4), flattened into one hidden layer.
* ``dilated``: BPNet/Basenji-style - a wide stem convolution and a max-pool of 2, then residual
  blocks of dilated convolutions (kernel 3, dilation 1, 2, 4, ...: the receptive field doubles per
  block), max-pooled into ``bins`` position bins and flattened into the hidden layer (``bins=0``:
  every position, for short aligned windows where an element's exact offset is the signal).
* ``transformer``: two convolutions (kernel 7, same length) as a motif stem, a learned position
  embedding, ``attention_layers`` pre-norm self-attention layers of ``heads`` heads (motifs see each
  other at any distance), every position flattened into the hidden layer. For short aligned windows
  (promoters, splice junctions): its size grows with the window length.

Sequences are centre-padded with N (all-zero columns) or centre-cropped to one window length.
``shift=N`` moves each training sequence by a random -N..N bp every epoch (jitter, as Basenji
does), so the network learns a motif's approximate rather than exact offset on small datasets.
Training draws a random strand for every training sequence each epoch (``rc_augment``) and
predicts the mean of both strands' probabilities (``strand_average``): right for unstranded
regions such as ChIP-seq peaks, wrong for oriented sequences (RNA families, splice junctions,
promoters given 5'->3'), where both should be turned off (``-O rc_augment=false -O
strand_average=false``; on UCI splice junctions test accuracy rose from 0.883 to 0.940). It runs through the
shared loop (:mod:`genofm.finetune.loop`): AdamW, class-weighted cross-entropy, early stopping
on the validation loss, fixed seeds, bf16 autocast on GPUs. Sizes are chosen to train on ~30,000
sequences of 100-300 bp in minutes on 2 CPU cores. Weights: ``cnn.safetensors``; nothing is
pre-trained, so neither training nor prediction takes ``--weights``.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from genofm.backbones.base import BackboneOptions
from genofm.device import autocast, resolve_device, resolve_precision
from genofm.errors import GenofmError
from genofm.options import option
from genofm.finetune import FinetuneOptions
from genofm.finetune.loop import Recipe, Trainee, encode_labels, fit, seed_everything
from genofm.finetune.strand import StrandAveraged, random_strand, reverse_complement_onehot, strand_mean_log_proba
from genofm.sequence import center_pad, encode

log = logging.getLogger("genofm.cnn")

FORMAT = "genofm-cnn/1"
WEIGHTS_FILE = "cnn.safetensors"
ARCHITECTURES = ("basset", "dilated", "transformer")
#: Basset's three convolution blocks: (kernel, max-pool)
BASSET_BLOCKS = ((19, 3), (11, 4), (7, 4))
MIN_LENGTH = 8


@dataclasses.dataclass
class CNNOptions(BackboneOptions):
    """``genofm-train --finetune cnn -O key=value`` options."""

    architecture: str = option("basset", "basset (conv/pool stack, flattened), dilated (residual dilated convolutions, position bins) "
                               "or transformer (convolutions, then self-attention over every position; short aligned windows)")
    length: int = option(0, "window in bp (centre pad with N / crop); 0 = the longest training sequence")
    channels: int = option(64, "convolution channels (every layer)")
    layers: int = option(6, "dilated: residual blocks, dilation 1, 2, 4, ... (basset always has 3 blocks)")
    bins: int = option(8, "dilated: position bins the last map is max-pooled into before the hidden layer; 0 = no pooling, "
                       "every position after the stem (for short aligned sequences such as promoters or splice junctions)")
    attention_layers: int = option(2, "transformer: self-attention layers (pre-norm) after the two convolutions")
    heads: int = option(4, "transformer: attention heads per layer (must divide channels)")
    hidden: int = option(128, "units of the hidden fully connected layer")
    dropout: float = option(0.3, "dropout before and after the hidden layer")
    weight_decay: float = option(0.01, "AdamW weight decay (weight matrices only)")
    grad_clip: float = option(0.0, "gradient-norm clipping (0 = off); 1 steadies a run whose first epoch blows up and leaves a constant model")
    schedule: str = option("constant", "learning-rate decay: constant, linear or cosine")
    warmup: float = option(0.0, "share of the optimiser steps spent warming the learning rate up")
    shift: int = option(0, "train each sequence shifted by a random 0..N bp left or right each epoch (N-padded; jitter against overfitting to exact offsets); 0 = off")
    rc_augment: bool = option(True, "train each sequence on a random strand each epoch (turn off for oriented sequences: RNA, splice sites, promoters)")
    strand_average: bool = option(True, "predict the mean of both strands' probabilities (turn off with rc_augment for oriented sequences)")

    def check(self) -> "CNNOptions":
        if self.architecture not in ARCHITECTURES:
            raise GenofmError(f"cnn option architecture={self.architecture!r}; choose one of {list(ARCHITECTURES)}")
        if self.length and self.length < MIN_LENGTH:
            raise GenofmError(f"cnn option length={self.length} is too short; use 0 (automatic) or at least {MIN_LENGTH}")
        for name in ("channels", "layers", "hidden", "attention_layers", "heads"):
            if getattr(self, name) < 1:
                raise GenofmError(f"cnn option {name}={getattr(self, name)} must be at least 1")
        if self.architecture == "transformer" and self.channels % self.heads:
            raise GenofmError(f"cnn option heads={self.heads} must divide channels={self.channels} (each head reads channels / heads "
                              "of every position); e.g. heads=4 with channels=64")
        if self.bins < 0:
            raise GenofmError(f"cnn option bins={self.bins} must be 0 (every position) or a number of position bins")
        if self.shift < 0:
            raise GenofmError(f"cnn option shift={self.shift} must be 0 (off) or a number of bp")
        if not 0.0 <= self.dropout < 1.0:
            raise GenofmError(f"cnn option dropout={self.dropout} must be in [0, 1)")
        if self.grad_clip < 0:
            raise GenofmError(f"cnn option grad_clip={self.grad_clip} must be 0 (off) or a positive gradient norm")
        Recipe(self.weight_decay, self.grad_clip, self.schedule, self.warmup)  # validates schedule and warm-up
        return self


def _classifier(n_in: int, hidden: int, dropout: float, n_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(n_in, hidden), nn.ReLU(inplace=True),
                         nn.Dropout(dropout), nn.Linear(hidden, n_classes))


class BassetCNN(nn.Module):
    """Conv(19)/pool(3), conv(11)/pool(4), conv(7)/pool(4), flatten, hidden layer, logits."""

    def __init__(self, length: int, n_classes: int, channels: int = 64, hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        blocks: list[nn.Module] = []
        c_in, width = 4, length
        for kernel, pool in BASSET_BLOCKS:
            blocks += [nn.Conv1d(c_in, channels, kernel, padding=kernel // 2), nn.BatchNorm1d(channels),
                       nn.ReLU(inplace=True), nn.MaxPool1d(pool, ceil_mode=True)]
            c_in, width = channels, -(-width // pool)
        self.features = nn.Sequential(*blocks)
        self.classifier = _classifier(channels * width, hidden, dropout, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 4, L) -> (B, n_classes)
        return self.classifier(self.features(x))


class DilatedBlock(nn.Module):
    """x + ReLU(BN(dilated conv(x))): same length, receptive field grows by 2 x dilation."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.norm(self.conv(x)))


class DilatedCNN(nn.Module):
    """Stem conv(15)/pool(2), residual dilated blocks, max-pool into position bins, hidden layer, logits.

    ``bins=0`` keeps every position of the stem's output (``length`` bp -> ceil(length / 2)) instead:
    on short aligned windows, where an element's exact offset is the signal, pooling into a few bins
    throws it away (E. coli promoters, 81 bp: validation accuracy 0.801 with 8 bins, 0.830 with all 41).
    """

    def __init__(self, n_classes: int, channels: int = 64, layers: int = 6, bins: int = 8, hidden: int = 128, dropout: float = 0.3,
                 length: int | None = None):
        super().__init__()
        if bins == 0:
            if not length:
                raise GenofmError("the dilated cnn with bins=0 needs the window length")
            bins = -(-length // 2)
        self.stem = nn.Sequential(nn.Conv1d(4, channels, 15, padding=7), nn.BatchNorm1d(channels), nn.ReLU(inplace=True),
                                  nn.MaxPool1d(2, ceil_mode=True))
        self.blocks = nn.Sequential(*[DilatedBlock(channels, 2**i) for i in range(layers)])
        self.pool = nn.AdaptiveMaxPool1d(bins)
        self.classifier = _classifier(channels * bins, hidden, dropout, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.blocks(self.stem(x))))


class ConvTransformer(nn.Module):
    """Two conv(7)/BN/ReLU layers, a learned position embedding, pre-norm self-attention, every position flattened, hidden layer, logits."""

    #: dropout inside the attention layers (the ``dropout`` option regularises the hidden layer, as in the other architectures)
    ATTENTION_DROPOUT = 0.1

    def __init__(self, length: int, n_classes: int, channels: int = 64, attention_layers: int = 2, heads: int = 4,
                 hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        if channels % heads:
            raise GenofmError(f"the transformer cnn needs heads ({heads}) to divide channels ({channels})")
        layers: list[nn.Module] = []
        for c_in in (4, channels):
            layers += [nn.Conv1d(c_in, channels, 7, padding=3), nn.BatchNorm1d(channels), nn.ReLU(inplace=True)]
        self.stem = nn.Sequential(*layers)
        self.position = nn.Parameter(torch.zeros(1, length, channels))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(channels, heads, dim_feedforward=4 * channels, dropout=self.ATTENTION_DROPOUT,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, attention_layers, norm=nn.LayerNorm(channels), enable_nested_tensor=False)
        self.classifier = _classifier(channels * length, hidden, dropout, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 4, L) -> (B, n_classes)
        h = self.stem(x).transpose(1, 2) + self.position  # (B, L, C)
        return self.classifier(self.encoder(h))


def build_network(options: CNNOptions, length: int, n_classes: int) -> nn.Module:
    if options.architecture == "transformer":
        return ConvTransformer(length, n_classes, options.channels, options.attention_layers, options.heads, options.hidden,
                               options.dropout)
    if options.architecture == "basset":
        return BassetCNN(length, n_classes, options.channels, options.hidden, options.dropout)
    return DilatedCNN(n_classes, options.channels, options.layers, options.bins, options.hidden, options.dropout, length)


def shift_codes(codes: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Row i of ``codes`` (n, L base codes) moved ``shifts[i]`` bp right (left when negative); vacated positions are N (4)."""
    length = codes.shape[1]
    source = np.arange(length)[None, :] - np.asarray(shifts)[:, None]
    inside = (source >= 0) & (source < length)
    moved = np.take_along_axis(codes, np.clip(source, 0, length - 1), axis=1)
    return np.where(inside, moved, np.uint8(4)).astype(codes.dtype)


class CNNTrainer:
    """``genofm-train --finetune cnn``: train, predict, save and reload the from-scratch CNN."""

    #: nothing pre-trained: training and prediction take no --weights
    needs_weights: ClassVar[bool] = False
    #: FinetuneOptions defaults for a network trained from scratch (the CLI applies them)
    option_defaults: ClassVar[dict[str, Any]] = {"epochs": 30, "learning_rate": 1e-3, "batch_size": 64, "patience": 4}

    def __init__(self, backbone: str, weights: Path | None, backbone_options: dict[str, str], options: FinetuneOptions):
        if backbone != "cnn":
            raise GenofmError(f"CNNTrainer trains 'cnn', not {backbone!r}")
        if weights is not None:
            raise GenofmError("the cnn is trained from scratch; drop --weights")
        if options.lora_rank or options.freeze_backbone:
            raise GenofmError("--lora-rank and --freeze-backbone apply to pre-trained backbones, not to the cnn trained from scratch")
        self.backbone = backbone
        self.cnn_options = CNNOptions.from_pairs(dict(backbone_options or {}), "cnn").check()
        self.options = options
        self.device = resolve_device(options.device)
        self.precision = resolve_precision(options.precision, self.device)
        self.length = self.cnn_options.length
        self.classes: list[str] = []
        self.net: nn.Module | None = None

    # --- encoding --------------------------------------------------------------------------
    def codes(self, sequences: Sequence[str]) -> np.ndarray:
        """(n, length) uint8 base codes (0-3 ACGT, 4 N/padding), centre-padded or cropped."""
        out = np.full((len(sequences), self.length), 4, dtype=np.uint8)
        for i, seq in enumerate(sequences):
            out[i] = encode(center_pad(str(seq), self.length))
        return out

    def onehot(self, codes: np.ndarray) -> torch.Tensor:
        """(n, 4, length) float one-hot on the model's device; N is all zeros."""
        table = torch.eye(5, dtype=torch.float32, device=self.device)[:, :4]
        return table[torch.from_numpy(np.ascontiguousarray(codes)).to(self.device).long()].permute(0, 2, 1).contiguous()

    # --- training --------------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, classes: Sequence[str]) -> dict[str, Any]:
        opts = self.cnn_options
        self.classes = list(classes)
        if len(self.classes) < 2:
            raise GenofmError(f"the cnn needs at least two classes, got {self.classes}")
        if len(train) == 0:
            raise GenofmError("the train split is empty; prepare a dataset with training rows")
        y_train = encode_labels(train, self.classes, "train")
        y_valid = encode_labels(valid, self.classes, "valid")
        if not self.length:
            self.length = max(MIN_LENGTH, int(train["sequence"].astype(str).str.len().max()))
        seed_everything(self.options.seed)
        self.net = net = build_network(opts, self.length, len(self.classes)).to(self.device)
        train_codes = self.codes(train["sequence"].tolist())
        valid_codes = self.codes(valid["sequence"].tolist()) if len(valid) else None

        def batch_logits(rows: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
            codes = train_codes[rows]
            if opts.shift:
                codes = shift_codes(codes, rng.integers(-opts.shift, opts.shift + 1, size=len(rows)))
            x = self.onehot(codes)
            return net(random_strand(x, rng) if opts.rc_augment else x)

        trainee = Trainee(
            module=net,
            param_groups=[{"params": list(net.parameters()), "lr": self.options.learning_rate}],
            batch_logits=batch_logits,
            valid_logits=(lambda: self._logits(valid_codes)) if valid_codes is not None else None,
        )
        recipe = Recipe(weight_decay=opts.weight_decay, grad_clip=opts.grad_clip, schedule=opts.schedule, warmup=opts.warmup)
        training_log = fit(trainee, y_train, y_valid, len(self.classes), self.options, self.device, self.precision, recipe, name="cnn")
        return {**training_log, "architecture": opts.architecture, "length": self.length}

    # --- prediction ------------------------------------------------------------------------
    def _logits(self, codes: np.ndarray) -> torch.Tensor:
        """Log class probabilities (strand-averaged when set) of encoded sequences, on CPU."""
        net = self.net
        was_training = net.training
        net.eval()
        size = max(256, self.options.batch_size * 4)
        out = []
        try:
            with torch.no_grad(), autocast(self.device, self.precision):
                for start in range(0, len(codes), size):
                    x = self.onehot(codes[start : start + size])
                    if self.cnn_options.strand_average:
                        out.append(strand_mean_log_proba(net(x), net(reverse_complement_onehot(x))).cpu())
                    else:
                        out.append(torch.log_softmax(net(x).float(), dim=-1).cpu())
        finally:
            net.train(was_training)
        return torch.cat(out) if out else torch.zeros(0, len(self.classes))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.net is None:
            raise GenofmError("the cnn is not trained; call fit() or load() first")
        if len(frame) == 0:
            return np.zeros((0, len(self.classes)))
        logp = self._logits(self.codes(frame["sequence"].tolist()))
        proba = torch.exp(logp).numpy().astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def explained_module(self) -> nn.Module:
        """The function attributions explain: logits, averaged over strands when predictions are."""
        return StrandAveraged(self.net) if self.cnn_options.strand_average else self.net

    # --- persistence -----------------------------------------------------------------------
    def save(self, directory: Path) -> dict[str, Any]:
        from safetensors.torch import save_file

        if self.net is None:
            raise GenofmError("the cnn is not trained; nothing to save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous()
                   for k, v in self.net.state_dict().items()}
        save_file(tensors, str(directory / WEIGHTS_FILE), metadata={"format": FORMAT})
        return {
            "format": FORMAT,
            "weights_file": WEIGHTS_FILE,
            "length": self.length,
            "classes": list(self.classes),
            "backbone_options": self.cnn_options.to_dict(),
            "batch_size": self.options.batch_size,
        }

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any], weights: Path | None = None, device: str = "auto") -> "CNNTrainer":
        from safetensors.torch import load_file

        directory = Path(directory)
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise GenofmError(f"{directory}: not a cnn model folder (format {config.get('format') if isinstance(config, dict) else None!r}); "
                              "train it with genofm-train --finetune cnn")
        if weights is not None:
            log.warning("the cnn was trained from scratch and needs no --weights; ignoring %s", weights)
        pairs = {k: str(v) for k, v in config.get("backbone_options", {}).items()}
        self = cls("cnn", None, pairs, FinetuneOptions(device=device, batch_size=int(config.get("batch_size", 64))))
        self.classes = list(config["classes"])
        self.length = int(config["length"])
        path = directory / config.get("weights_file", WEIGHTS_FILE)
        if not path.is_file():
            raise GenofmError(f"{path}: cnn weights missing from the model folder; re-run genofm-train --finetune cnn")
        try:
            tensors = load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types
            raise GenofmError(f"{path}: unreadable safetensors file ({exc.__class__.__name__}); re-run genofm-train --finetune cnn") from None
        net = build_network(self.cnn_options, self.length, len(self.classes))
        try:
            net.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0][:200]
            raise GenofmError(f"{path}: tensors do not match the cnn architecture in model.json ({first})") from None
        self.net = net.to(self.device).eval()
        return self
