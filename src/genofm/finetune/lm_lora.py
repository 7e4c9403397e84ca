"""Low-rank adapters (LoRA) for the attention projections of a frozen language model.

Fine-tuning all ~100M parameters of a DNA language model per dataset is slow and stores a full
copy of the model each time. LoRA keeps the pre-trained projection ``W`` frozen and learns
``W + (alpha / r) * B @ A`` with ``A`` (r x in) and ``B`` (out x r); ``B`` starts at zero so the
adapted model starts out identical to the pre-trained one, and only ``A``, ``B`` (and the
classification head) need saving. Written with plain torch because peft is not a dependency.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genofm.errors import GenofmError


def _in_out(module: nn.Module, name: str) -> tuple[int, int]:
    """Input and output widths of a Linear, or of transformers' Conv1D (weight stored in x out)."""
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    if hasattr(module, "nf") and getattr(module, "weight", None) is not None and module.weight.dim() == 2:
        return int(module.weight.shape[0]), int(module.nf)
    raise GenofmError(f"LoRA cannot wrap {name} ({module.__class__.__name__}); only linear projections are supported")


class LoRAAdapter(nn.Module):
    """``base(x) + scaling * (dropout(x) @ A.T) @ B.T`` with the base projection frozen."""

    def __init__(self, base: nn.Module, rank: int, alpha: float, dropout: float = 0.0, name: str = "projection"):
        super().__init__()
        in_features, out_features = _in_out(base, name)
        self.base = base
        self.rank = rank
        self.scaling = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout)
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = (self.dropout(x) @ self.lora_A.t().to(x.dtype)) @ self.lora_B.t().to(x.dtype)
        return self.base(x) + update * self.scaling


def apply_lora(model: nn.Module, targets: list[str], rank: int, alpha: float, dropout: float = 0.0) -> list[str]:
    """Freeze ``model`` and replace each named projection with a LoRA adapter; return the adapter names."""
    if rank < 1:
        raise GenofmError(f"LoRA rank must be >= 1 (got {rank})")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, attr, LoRAAdapter(getattr(parent, attr), rank, alpha, dropout, name))
    return list(targets)


def lora_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter matrices, the part of the model LoRA fine-tuning changes."""
    return {k: v for k, v in model.state_dict().items() if k.endswith(".lora_A") or k.endswith(".lora_B")}
