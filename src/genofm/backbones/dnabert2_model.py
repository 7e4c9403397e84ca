"""DNABERT-2 in plain PyTorch, with parameter names matching the official checkpoint.

Upstream ships DNABERT-2 as remote code (a MosaicBERT variant with unpadding and a triton flash
attention kernel) that breaks with current transformers and triton releases. This is the same
computation written out: token + token-type embeddings (no position embeddings), post-LN blocks
with a fused ``Wqkv`` projection laid out q|k|v x heads x head_dim, a symmetric ALiBi bias
``-slope * |i - j|`` plus ``-10000`` on padded keys, and a GEGLU feed-forward with exact GELU.

Like upstream, batches with padding are unpadded: the real tokens of all rows are packed into one
(N, hidden) matrix, so the dense layers (95 % of the multiply-adds) never touch a padded slot.
Upstream then pads the packed tensor back to (B, T) for attention and masks padded keys with
-10000, which makes their weights exactly 0 in float32; genofm instead attends within each row's
own tokens (``scaled_dot_product_attention`` per row with that row's ALiBi block), which gives
the same values without computing, adding or normalising the padded T x T entries and without
the scatter/gather of every layer. Because rows never interact, inference on a CPU with several
torch threads sends groups of rows through all blocks as parallel single-threaded tasks
(:mod:`genofm.backbones.threads`: no fork/join per operator; on 2 cores 1.46x faster than intra-op
threads on a padded batch), and dense batches take that path too. Otherwise batches without padding, and requests for attention maps,
take the padded path (one batched attention, ``fused_attention`` choosing SDPA or the plain
softmax that returns the probabilities).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from genofm.backbones.lm_common import LMEncoder
from genofm.backbones.threads import cpu_workers, run_tasks
from genofm.errors import GenofmError


@dataclasses.dataclass
class DNABERT2Config:
    """The ``config.json`` fields the architecture depends on (defaults: DNABERT-2-117M)."""

    vocab_size: int = 4096
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.0
    pad_token_id: int = 0

    REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")

    @classmethod
    def from_dict(cls, config: dict, source: Path | str = "config.json") -> "DNABERT2Config":
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in config.items() if k in names and v is not None}
        out = cls(**values)
        if out.hidden_size % out.num_attention_heads:
            raise GenofmError(f"{source}: hidden_size {out.hidden_size} is not a multiple of num_attention_heads {out.num_attention_heads}")
        return out


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """ALiBi head slopes: a geometric series for the nearest power of two, then every other slope of the next one."""

    def power_of_two(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n_heads).is_integer():
        slopes = power_of_two(n_heads)
    else:
        closest = 2 ** math.floor(math.log2(n_heads))
        slopes = power_of_two(closest) + power_of_two(2 * closest)[0::2][: n_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


def attention_bias(slopes: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Additive attention bias as two broadcastable parts: ALiBi (heads, T, T) and padding (B, 1, 1, T).

    ALiBi is the symmetric ``-slope * |i - j|``; padded keys get -10000 as in upstream. Keeping the
    parts separate avoids materialising a (B, heads, T, T) tensor on the plain path.
    """
    length = mask.shape[1]
    pos = torch.arange(length, device=mask.device)
    distance = (pos[None, :] - pos[:, None]).abs().float()
    alibi = -slopes.to(mask.device)[:, None, None] * distance
    padding = (1.0 - mask.float())[:, None, None, :] * -10000.0
    return alibi, padding


class DNABERT2Embeddings(nn.Module):
    def __init__(self, config: DNABERT2Config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        token_type = self.token_type_embeddings.weight[0]
        return self.dropout(self.LayerNorm(self.word_embeddings(input_ids) + token_type))


class DNABERT2SelfAttention(nn.Module):
    def __init__(self, config: DNABERT2Config):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.dropout_p = config.attention_probs_dropout_prob
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(self, hidden: torch.Tensor, bias, fused: bool, need_probs: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``bias`` is (ALiBi, padding, their (B, heads, T, T) sum or None); the fused path needs the sum.

        On packed input (``hidden`` (N, H) and ``bias`` a :class:`Packed`) each row attends within its own tokens.
        """
        if isinstance(bias, Packed):
            return self._forward_packed(hidden, bias), None
        batch, length, _ = hidden.shape
        qkv = self.Wqkv(hidden).view(batch, length, 3, self.num_heads, self.head_dim)
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))  # (B, heads, T, head_dim)
        dropout = self.dropout_p if self.training else 0.0
        probs = None
        if fused and not need_probs:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias[2].to(q.dtype), dropout_p=dropout)
        else:
            alibi, padding, _ = bias
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
            scores = scores + alibi
            scores += padding
            probs = torch.softmax(scores.float(), dim=-1).to(v.dtype)
            out = torch.matmul(F.dropout(probs, dropout, self.training), v)
        return out.transpose(1, 2).reshape(batch, length, -1), probs

    def _forward_packed(self, hidden: torch.Tensor, packed: "Packed") -> torch.Tensor:
        """(N, H) real tokens of all rows -> (N, H) attention context, row by row without padding."""
        qkv = self.Wqkv(hidden).view(hidden.shape[0], 3, self.num_heads, self.head_dim)
        out = torch.empty(hidden.shape[0], self.num_heads, self.head_dim, dtype=qkv.dtype, device=qkv.device)
        dropout = self.dropout_p if self.training else 0.0
        for start, stop in packed.rows:
            n = stop - start
            q, k, v = qkv[start:stop].permute(1, 2, 0, 3)  # each (heads, n, head_dim)
            bias = packed.alibi[:, :n, :n].to(q.dtype)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout)
            out[start:stop] = context.transpose(0, 1)
        return out.view(hidden.shape[0], -1)


@dataclasses.dataclass
class Packed:
    """Where each row's real tokens sit in a packed (N, H) batch, and the ALiBi bias (heads, T, T)."""

    rows: list[tuple[int, int]]
    alibi: torch.Tensor


class DNABERT2SelfOutput(nn.Module):
    def __init__(self, config: DNABERT2Config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class DNABERT2Attention(nn.Module):
    def __init__(self, config: DNABERT2Config):
        super().__init__()
        self.self = DNABERT2SelfAttention(config)
        self.output = DNABERT2SelfOutput(config)

    def forward(self, hidden: torch.Tensor, bias: tuple, fused: bool, need_probs: bool):
        context, probs = self.self(hidden, bias, fused, need_probs)
        return self.output(context, hidden), probs


class DNABERT2MLP(nn.Module):
    """GEGLU: ``wo(gelu(h[:, :I]) * h[:, I:])`` with a post-LN residual."""

    def __init__(self, config: DNABERT2Config):
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.act = nn.GELU(approximate="none")
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = self.gated_layers(hidden)
        gated, linear = h[..., : self.intermediate_size], h[..., self.intermediate_size :]
        if torch.is_grad_enabled() and (hidden.requires_grad or h.requires_grad):
            product = self.act(gated) * linear
        else:  # inference: multiply in place, one (tokens, intermediate) temporary fewer per layer
            product = self.act(gated).mul_(linear)
        return self.layernorm(self.wo(self.dropout(product)) + hidden)


class DNABERT2Layer(nn.Module):
    def __init__(self, config: DNABERT2Config):
        super().__init__()
        self.attention = DNABERT2Attention(config)
        self.mlp = DNABERT2MLP(config)

    def forward(self, hidden: torch.Tensor, bias: tuple, fused: bool, need_probs: bool):
        attended, probs = self.attention(hidden, bias, fused, need_probs)
        return self.mlp(attended), probs


class DNABERT2Stack(nn.Module):
    """``encoder.layer.{i}`` in the checkpoint; the ALiBi slopes are derived, not stored."""

    def __init__(self, config: DNABERT2Config):
        super().__init__()
        self.layer = nn.ModuleList(DNABERT2Layer(config) for _ in range(config.num_hidden_layers))
        self.register_buffer("alibi_slopes", alibi_slopes(config.num_attention_heads), persistent=False)


def _left_aligned(mask: torch.Tensor) -> bool:
    """True when every row's ones come first (right padding, as ``collate`` produces)."""
    ones = mask.ne(0)
    return bool((ones[:, 1:] <= ones[:, :-1]).all())


def _row_groups(rows: list[tuple[int, int]], groups: int) -> list[tuple[list[tuple[int, int]], tuple[int, int]]]:
    """Consecutive rows cut into at most ``groups`` runs of about equal token counts, with each run's token span."""
    total = rows[-1][1] - rows[0][0]
    out, current = [], []
    for start, stop in rows:
        current.append((start, stop))
        if len(out) < groups - 1 and stop - rows[0][0] >= total * (len(out) + 1) / groups:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return [(group, (group[0][0], group[-1][1])) for group in out]


class DNABERT2Model(LMEncoder):
    """DNABERT-2 encoder; ``state_dict()`` keys equal the official ones without the ``bert.`` prefix."""

    def __init__(self, config: DNABERT2Config, fused_attention: bool | None = None, unpad: bool = True):
        super().__init__()
        self.config = config
        self.hidden_size = config.hidden_size
        self.num_layers = config.num_hidden_layers
        #: None: fused SDPA on GPU, plain attention on CPU (padded path)
        self.fused_attention = fused_attention
        #: pack the real tokens of padded batches (off only to measure what it saves)
        self.unpad = unpad
        #: CPU inference on packed rows as parallel single-threaded tasks (off only to measure what it saves)
        self.row_tasks = True
        self.embeddings = DNABERT2Embeddings(config)
        self.encoder = DNABERT2Stack(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, layer: int = -1, output_attentions: bool = False):
        """Hidden states after ``layer`` blocks (0: embeddings, -1: all); attention of the last block on request.

        Blocks after the requested layer are skipped unless the last block's attention is wanted.
        """
        target = self.num_layers if layer < 0 else layer
        stop = self.num_layers if output_attentions else target
        if self.unpad and not output_attentions and (not bool(attention_mask.all()) or self._row_tasks_apply(input_ids)):
            return self._forward_unpadded(input_ids, attention_mask, target), None
        fused = self.fused_attention if self.fused_attention is not None else input_ids.device.type == "cuda"
        hidden = self.embeddings(input_ids)
        alibi, padding = attention_bias(self.encoder.alibi_slopes, attention_mask)
        bias = (alibi, padding, alibi[None] + padding if fused else None)
        selected, probs = hidden, None
        for i, block in enumerate(self.encoder.layer[:stop]):
            hidden, layer_probs = block(hidden, bias, fused, output_attentions and i == self.num_layers - 1)
            if i + 1 == target:
                selected = hidden
            if layer_probs is not None:
                probs = layer_probs
        return selected, probs

    def _forward_unpadded(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, target: int) -> torch.Tensor:
        """Hidden states after ``target`` blocks, computed on real tokens only; padded slots are 0."""
        batch, length = input_ids.shape
        real = attention_mask.reshape(-1) != 0
        index = torch.nonzero(real).squeeze(1)  # row-major: each row's tokens are one contiguous run
        counts = attention_mask.ne(0).sum(1).tolist()
        starts = [0]
        for count in counts:
            starts.append(starts[-1] + count)
        rows = [(a, b) for a, b in zip(starts[:-1], starts[1:]) if b > a]
        if index.numel() != starts[-1] or (index.numel() and not _left_aligned(attention_mask)):
            raise ValueError("attention_mask must mark each row's tokens as one run at the start of the row")
        longest = max(counts) if counts else 0
        alibi, _ = attention_bias(self.encoder.alibi_slopes, attention_mask.new_ones(1, longest))
        # embeddings on the padded (B, T) ids, as upstream: cheap, and hooks on the embedding layer
        # (integrated gradients) keep seeing (B, T, H)
        hidden = self.embeddings(input_ids).reshape(batch * length, -1)[index]
        if len(rows) > 1 and self._row_tasks_apply(input_ids):
            # rows never interact: groups of rows go through all blocks as parallel single-threaded tasks
            workers = cpu_workers(hidden.device)
            tasks = [functools.partial(self._encode_packed, hidden[a:b], [(s - a, e - a) for s, e in group], alibi, target)
                     for group, (a, b) in _row_groups(rows, workers)]
            hidden = torch.cat(run_tasks(tasks, workers))
        else:
            hidden = self._encode_packed(hidden, rows, alibi, target)
        out = hidden.new_zeros(batch * length, hidden.shape[-1])
        out[index] = hidden
        return out.view(batch, length, -1)

    def _row_tasks_apply(self, input_ids: torch.Tensor) -> bool:
        """CPU inference with several threads: rows as parallel tasks, which pays off for dense batches too."""
        return self.row_tasks and input_ids.shape[0] > 1 and cpu_workers(input_ids.device) > 1 and not torch.is_grad_enabled()

    def _encode_packed(self, hidden: torch.Tensor, rows: list[tuple[int, int]], alibi: torch.Tensor, target: int) -> torch.Tensor:
        packed = Packed(rows, alibi)
        for block in self.encoder.layer[:target]:
            hidden, _ = block(hidden, packed, False, False)
        return hidden

    def input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def lora_targets(self) -> list[str]:
        return [f"encoder.layer.{i}.attention.self.Wqkv" for i in range(self.num_layers)]
