"""Strand handling shared by the networks trained on one-hot DNA (the from-scratch CNN and FSei).

Both train with reverse-complement augmentation and predict strand-averaged by default, and both
must do it the same way, so the rules live here once: a one-hot batch in A, C, G, T channel order
is reverse-complemented by flipping channels and positions; augmentation flips a random half of a
batch; the strand-averaged prediction is the mean of the two strands' *probabilities* (not
logits, so one confident strand is not cancelled by a flat one), returned as log probabilities.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def reverse_complement_onehot(x: torch.Tensor) -> torch.Tensor:
    """(B, 4, L) one-hot in A, C, G, T order: reversing both the channels and positions is the reverse complement."""
    return x.flip(1, 2)


def random_strand(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Reverse-complement augmentation: each row of a (B, 4, L) batch flipped to the other strand with probability 1/2."""
    flip = torch.from_numpy(rng.random(x.shape[0]) < 0.5).to(x.device)
    return torch.where(flip[:, None, None], reverse_complement_onehot(x), x)


def strand_mean_log_proba(forward_logits: torch.Tensor, reverse_logits: torch.Tensor) -> torch.Tensor:
    """Log of the mean of both strands' class probabilities (float32; clamped away from log 0)."""
    probs = (torch.softmax(forward_logits.float(), dim=-1) + torch.softmax(reverse_logits.float(), dim=-1)) / 2
    return torch.log(probs.clamp_min(1e-12))


class StrandAveraged(nn.Module):
    """Logits averaged over a sequence and its reverse complement (what attributions explain)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.net(x) + self.net(reverse_complement_onehot(x))) / 2
