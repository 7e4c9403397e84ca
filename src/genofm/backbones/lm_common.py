"""Embedding sequences with a DNA language model: tiling, length bucketing, masked pooling.

Three rules keep the embeddings honest:

* padding never counts: pooling and attention both use the attention mask;
* nothing is silently truncated: a sequence longer than the model window is cut into overlapping
  tiles that together cover every token, each tile is framed by the model's special tokens, and the
  tiles' pooled vectors are averaged with weights equal to their token counts (so a short tail tile
  weighs less than a full one);
* padding waste stays small: tiles are sorted by length before being cut into forward passes
  (at most ``batch_rows`` tiles and ``batch_tokens`` padded tokens each), and results are
  scattered back to the caller's order.
"""

from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from genofm.backbones.base import Backbone, BackboneOptions
from genofm.backbones.lm_tokenizers import LMTokenizer, Tokenized
from genofm.device import autocast, resolve_device, resolve_precision
from genofm.errors import GenofmError
from genofm.options import option

POOLINGS = ("mean", "cls")


@dataclasses.dataclass
class LMOptions(BackboneOptions):
    """Options shared by the language-model backbones (``-O key=value``)."""

    pooling: str = option(
        "mean", "mean: masked mean over every non-padding token (specials included, as upstream recipes do); "
        "cls: the summary token ([CLS], or the last token for GPT-2)"
    )
    layer: int = option(-1, "hidden layer to read: -1 the last, 0 the embedding output, i the i-th block")
    window: int = option(0, "content tokens (k-mers for DNABERT-6) per tile of a long sequence; 0: the model's limit (510, GPT-2 1024)")
    overlap: int = option(32, "tokens shared by consecutive tiles of a long sequence")
    batch_tokens: int = option(0, "padded tokens per forward pass at most; 0: 16384 on CPU, 131072 on GPU")
    batch_rows: int = option(0, "tiles per forward pass at most; 0: 16 on CPU, 256 on GPU")
    bucket: bool = option(True, "sort tiles by length before batching (off only to measure what bucketing saves)")


@dataclasses.dataclass
class Rows:
    """Model inputs for a list of sequences: one row per tile, each framed by special tokens."""

    seq_index: np.ndarray  # (R,) which sequence a row belongs to
    ids: list[np.ndarray]  # token ids with specials
    spans: list[np.ndarray]  # (T, 2) base span of each token; (-1, -1) for specials
    weights: np.ndarray  # (R,) float: the row's token count, its weight when tiles are merged

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(r) for r in self.ids], dtype=np.int64)


def tile_starts(n: int, window: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``window`` tokens covering ``n`` tokens; the last tile ends at ``n``."""
    if n <= window:
        return [0]
    step = window - overlap
    starts = list(range(0, n - window, step))
    starts.append(n - window)
    return starts


def make_rows(tokenized: Sequence[Tokenized], tokenizer: LMTokenizer, window: int, overlap: int) -> Rows:
    """Tile every sequence's content tokens and frame each tile with the model's specials."""
    if window < 1:
        raise GenofmError(f"window must be at least 1 token (got {window})")
    if not 0 <= overlap < window:
        raise GenofmError(f"overlap must be between 0 and window-1 tokens (got overlap={overlap}, window={window})")
    prefix = np.asarray(tokenizer.prefix, dtype=np.int64)
    suffix = np.asarray(tokenizer.suffix, dtype=np.int64)
    special_span = np.full((1, 2), -1, dtype=np.int64)
    seq_index, ids, spans = [], [], []
    for i, tok in enumerate(tokenized):
        for start in tile_starts(len(tok.ids), window, overlap):
            content = tok.ids[start : start + window]
            content_spans = tok.spans[start : start + window]
            if len(content) == 0 and len(prefix) + len(suffix) == 0:
                content = np.array([tokenizer.pad_id], dtype=np.int64)  # a causal model needs one token
                content_spans = special_span
            ids.append(np.concatenate([prefix, content, suffix]))
            spans.append(
                np.concatenate([np.repeat(special_span, len(prefix), 0), content_spans, np.repeat(special_span, len(suffix), 0)])
            )
            seq_index.append(i)
    weights = np.array([len(r) for r in ids], dtype=np.float64)
    return Rows(np.asarray(seq_index, dtype=np.int64), ids, spans, weights)


def plan_batches(lengths: np.ndarray, batch_tokens: int, bucket: bool = True, max_rows: int | None = None) -> list[np.ndarray]:
    """Row indices of each forward pass, keeping rows x longest row within ``batch_tokens``.

    With ``bucket`` rows are visited shortest first, so rows of similar length share a pass.
    A single row longer than the budget still gets its own pass.
    """
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable") if bucket else np.arange(len(lengths))
    batches: list[np.ndarray] = []
    current: list[int] = []
    longest = 0
    for idx in order:
        new_longest = max(longest, int(lengths[idx]))
        too_many = max_rows is not None and len(current) >= max_rows
        if current and (new_longest * (len(current) + 1) > batch_tokens or too_many):
            batches.append(np.asarray(current, dtype=np.int64))
            current, new_longest = [], int(lengths[idx])
        current.append(int(idx))
        longest = new_longest
    if current:
        batches.append(np.asarray(current, dtype=np.int64))
    return batches


def padding_fraction(lengths: np.ndarray, batches: list[np.ndarray]) -> float:
    """Share of the token slots in the planned forward passes that are padding."""
    lengths = np.asarray(lengths)
    slots = sum(int(lengths[b].max()) * len(b) for b in batches)
    return 1.0 - float(lengths.sum()) / slots if slots else 0.0


def collate(ids: Sequence[np.ndarray], pad_id: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad rows into ``input_ids`` and a 0/1 ``attention_mask``."""
    width = max(len(r) for r in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device)


def pool_hidden(hidden: torch.Tensor, mask: torch.Tensor, pooling: str, summary_position: str) -> torch.Tensor:
    """(B, T, H) -> (B, H): masked mean, or the summary token ([CLS] first / last real token)."""
    if pooling == "mean":
        m = mask.to(hidden.dtype).unsqueeze(-1)
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
    if summary_position == "first":
        return hidden[:, 0]
    last = mask.sum(1).long() - 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def combine_rows(pooled: torch.Tensor, seq_index: torch.Tensor, weights: torch.Tensor, n: int) -> torch.Tensor:
    """Token-count weighted mean of the tiles of each sequence (differentiable)."""
    weights = weights.to(pooled.dtype)
    total = torch.zeros(n, pooled.shape[1], dtype=pooled.dtype, device=pooled.device)
    total.index_add_(0, seq_index, pooled * weights.unsqueeze(1))
    norm = torch.zeros(n, dtype=pooled.dtype, device=pooled.device).index_add_(0, seq_index, weights)
    return total / norm.clamp_min(1e-12).unsqueeze(1)


class LMEncoder(torch.nn.Module):
    """The interface genofm needs from a transformer, whatever its upstream implementation."""

    hidden_size: int
    num_layers: int

    def forward(  # noqa: D401 - documented on the subclasses
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, layer: int = -1, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Hidden states at ``layer`` (B, T, H) and, when asked, last-layer attention (B, heads, T, T)."""
        raise NotImplementedError

    def input_embeddings(self) -> torch.nn.Embedding:
        """The token embedding table (integrated gradients attribute to its output)."""
        raise NotImplementedError

    def lora_targets(self) -> list[str]:
        """Qualified names of the attention projections that LoRA adapters wrap."""
        raise NotImplementedError


def check_layer(layer: int, num_layers: int, backbone: str) -> int:
    """Resolve -1..-(L+1) and 0..L to 0..L (0 is the embedding output)."""
    resolved = layer if layer >= 0 else num_layers + 1 + layer
    if not 0 <= resolved <= num_layers:
        raise GenofmError(f"backbone {backbone!r} option layer={layer} is out of range; the model has {num_layers} layers (use -1 for the last)")
    return resolved


class LMBackbone(Backbone):
    """A DNA language model used as a frozen feature extractor; subclasses only load the folder."""

    Options = LMOptions
    needs_weights = True
    #: sequences per ``embed_batch`` call; large so that length bucketing has room to sort
    default_batch_size = 256
    feature_help = (
        "`dim_NNN`: component NNN of the language model's hidden state at the chosen layer (`-O layer`, default the "
        "last), averaged over the sequence's tokens (or the summary token with `-O pooling=cls`); a sequence longer "
        "than the model's window is cut into tiles whose vectors are averaged by token count. A component has no "
        "biological meaning on its own: the report's attention and integrated-gradient position scores show which "
        "bases drive the call."
    )
    #: content tokens per tile when ``window=0`` and the model has no hard limit
    default_window: ClassVar[int] = 510

    def __init__(self, options: LMOptions, weights: Path | None, device: "torch.device | str" = "cpu", precision: str = "fp32"):
        super().__init__(options, weights, device, precision)
        self.torch_device = resolve_device(str(device)) if str(device) == "auto" else torch.device(device)
        self.precision = resolve_precision(precision, self.torch_device)
        if options.pooling not in POOLINGS:
            raise GenofmError(f"backbone {self.name!r} option pooling={options.pooling!r}; choose one of {list(POOLINGS)}")
        self.encoder, self.tokenizer = self.load(self.weights)
        self.encoder.to(self.torch_device).eval()
        self.layer = check_layer(options.layer, self.encoder.num_layers, self.name)
        self.window = self.resolve_window(options.window, self.encoder, self.tokenizer)
        if not 0 <= options.overlap < self.window:
            raise GenofmError(f"backbone {self.name!r} option overlap={options.overlap} must be between 0 and window-1 ({self.window - 1})")
        if options.batch_tokens < 0 or options.batch_rows < 0:
            raise GenofmError(f"backbone {self.name!r} options batch_tokens and batch_rows must be >= 0 (0: automatic)")
        gpu = self.torch_device.type == "cuda"
        self.batch_tokens = options.batch_tokens or (131072 if gpu else 16384)
        self.batch_rows = options.batch_rows or (256 if gpu else 16)

    # --- what subclasses provide -----------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def load(cls, folder: Path, attention: str = "fast") -> tuple[LMEncoder, LMTokenizer]:
        """Build the encoder from ``folder`` and load its weights strictly; ``attention='eager'`` exposes attention maps."""

    @classmethod
    def window_limit(cls, encoder: LMEncoder, tokenizer: LMTokenizer) -> int | None:
        """Largest number of content tokens the model accepts per window (None: no hard limit)."""
        return None

    @classmethod
    def resolve_window(cls, window: int, encoder: LMEncoder, tokenizer: LMTokenizer) -> int:
        """Content tokens per tile for option ``window`` (0: the model's limit, or ``default_window``)."""
        return _window_for(window, cls.window_limit(encoder, tokenizer), cls.default_window, cls.name)

    # --- Backbone ---------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        width = max(3, len(str(self.encoder.hidden_size - 1)))
        return [f"dim_{i:0{width}d}" for i in range(self.encoder.hidden_size)]

    def embed_batch(self, sequences: Sequence[str]) -> np.ndarray:
        if len(sequences) == 0:
            return np.zeros((0, self.encoder.hidden_size), dtype=np.float32)
        rows = make_rows(self.tokenizer.tokenize_many(sequences), self.tokenizer, self.window, self.options.overlap)
        pooled = torch.empty(len(rows.ids), self.encoder.hidden_size, dtype=torch.float32)
        for batch in plan_batches(rows.lengths, self.batch_tokens, bucket=self.options.bucket, max_rows=self.batch_rows):
            input_ids, mask = collate([rows.ids[i] for i in batch], self.tokenizer.pad_id, self.torch_device)
            with torch.inference_mode(), autocast(self.torch_device, self.precision):
                hidden, _ = self.encoder(input_ids, mask, layer=self.layer)
            vectors = pool_hidden(hidden.float(), mask, self.options.pooling, self.tokenizer.summary_position)
            pooled[torch.from_numpy(batch)] = vectors.cpu()
        combined = combine_rows(pooled, torch.from_numpy(rows.seq_index), torch.from_numpy(rows.weights), len(sequences))
        return combined.numpy().astype(np.float32, copy=False)

    def provenance(self) -> dict[str, Any]:
        prov = super().provenance()
        prov["representation"] = {
            "layer": self.layer,
            "num_layers": self.encoder.num_layers,
            "pooling": self.options.pooling,
            "window_tokens": self.window,
            "overlap_tokens": self.options.overlap,
        }
        return prov


def _window_for(window: int, limit: int | None, default: int, backbone: str) -> int:
    if window < 0:
        raise GenofmError(f"backbone {backbone!r} option window must be >= 0 (0 uses the model's limit)")
    if window == 0:
        return limit if limit is not None else default
    if limit is not None and window > limit:
        raise GenofmError(f"backbone {backbone!r} option window={window} exceeds the model's limit of {limit} tokens per window")
    return window
