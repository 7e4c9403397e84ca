"""SpliceAI-10k (Jaganathan et al., Cell 2019) in PyTorch, with an exact fast path for short inputs.

The official model sees a sequence of length L padded with 5,000 N (all-zero one-hot) on each
side, runs 16 dilated residual units with 'same' padding over all L + 10,000 positions and keeps
the central L. For the 200-600 bp windows genofm embeds, almost all of that work is spent far out
in the N flanks, where it is wasted twice over:

* a kept output only needs each layer on the positions its remaining layers can still reach, so
  the layer after the c-th dilated convolution is needed within ``radius_after(c)`` of the sequence;
* every layer maps a constant input to a constant output (conv: sum of the taps times the
  constant plus the bias; BN, ReLU, residual and skip additions act per position), so outside
  ``radius_before(c)`` of the sequence a layer's value is one known vector per layer.

``SpliceAINet.forward`` therefore computes each layer only on the window
``L + 2 * min(radius_before, radius_after)`` and stands in the tracked constant wherever a
convolution reads beyond that window: it subtracts the constant so that the convolution's own
zero padding represents it and adds it back through the bias, which avoids copying windows. The
BatchNorm that follows each unit's first convolution is folded into that convolution. For
L = 200 this is about 5x fewer multiply-adds than the full computation.

Keras' own zero padding at the two ends of the L + 10,000 tensor cannot reach a kept position:
the receptive radius of the whole network (sum over the 32 dilated convolutions of
dilation * (kernel - 1) / 2 = 5,000) does not exceed the crop (5,000): a pad value read by the
c-th convolution changes only positions within ``radius(c) + radius_after(c) <= 5,000`` of the
tensor's end, which stops just short of the first kept position. ``forward_full`` is the plain full-length computation that the tests and the
benchmark compare against.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: (kernel size, dilation) of the 16 residual units of SpliceAI-10k, four groups of four
SPLICEAI_10K_UNITS: tuple[tuple[int, int], ...] = ((11, 1),) * 4 + ((11, 4),) * 4 + ((21, 10),) * 4 + ((41, 25),) * 4
#: residual-stream positions read by the 1x1 skip convolutions (0 = stem output, i = after unit i)
SPLICEAI_10K_SKIPS: tuple[int, ...] = (0, 4, 8, 12, 16)


class ResidualUnit(nn.Module):
    """BN, ReLU, dilated conv, BN, ReLU, dilated conv, plus the input (pre-activation residual)."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, eps: float):
        super().__init__()
        self.bn1 = nn.BatchNorm1d(channels, eps=eps)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.bn2 = nn.BatchNorm1d(channels, eps=eps)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        #: half-width of one convolution's receptive field
        self.radius = dilation * (kernel_size - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Full-length computation on a (B, C, 1, T) tensor with Keras 'same' (zero) padding."""
        r, d = self.radius, self.conv1.dilation[0]
        y = F.relu(_bn(x, self.bn1))
        y = _conv(y, self.conv1.weight, self.conv1.bias, dilation=d, padding=r)
        y = F.relu(_bn(y, self.bn2))
        y = _conv(y, self.conv2.weight, self.conv2.bias, dilation=d, padding=r)
        return x + y


class SpliceAINet(nn.Module):
    """One SpliceAI model: stem 1x1 conv, residual units, summed 1x1 skips, crop, 1x1 conv to 3 classes.

    Both forward methods return ``(probabilities, penultimate)`` over the kept positions:
    (B, 3, L) softmax over (neither, acceptor, donor) and (B, C, L) summed skip features, the
    32-channel representation the output layer reads. Parameters are stored as Conv1d/BatchNorm1d;
    the computation runs as (B, C, 1, W) channels-last 2D convolutions, which oneDNN executes about
    twice as fast on CPU as the equivalent 1D ones.
    """

    def __init__(
        self,
        unit_shapes: Sequence[tuple[int, int]] = SPLICEAI_10K_UNITS,
        skip_points: Sequence[int] = SPLICEAI_10K_SKIPS,
        channels: int = 32,
        crop: int = 5000,
        eps: float = 1e-3,
        n_outputs: int = 3,
    ):
        super().__init__()
        self.stem = nn.Conv1d(4, channels, 1)
        self.units = nn.ModuleList(ResidualUnit(channels, k, d, eps) for k, d in unit_shapes)
        self.skips = nn.ModuleList(nn.Conv1d(channels, channels, 1) for _ in skip_points)
        self.head = nn.Conv1d(channels, n_outputs, 1)
        self.skip_points = tuple(skip_points)
        self.crop = crop
        #: how far (bp) the whole network looks to either side of an output position
        self.receptive_radius = sum(2 * unit.radius for unit in self.units)
        if self.receptive_radius > crop:
            raise ValueError(f"receptive radius {self.receptive_radius} exceeds the crop {crop}; end padding would leak in")
        if any(not 0 <= p <= len(self.units) for p in self.skip_points):
            raise ValueError(f"skip points {self.skip_points} outside the residual stream")

    def _skip(self, index: int, h: torch.Tensor, total: torch.Tensor | None) -> torch.Tensor | None:
        for skip, point in zip(self.skips, self.skip_points):
            if point == index:
                term = _conv(h, skip.weight, skip.bias)
                total = term if total is None else total + term
        return total

    def _output(self, penultimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = _conv(penultimate, self.head.weight, self.head.bias)
        probs = torch.softmax(logits.float(), dim=1)
        return probs.squeeze(2).contiguous(), penultimate.float().squeeze(2).contiguous()

    def forward_full(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference computation: ``x`` is (B, 4, L + 2 * crop), the flanks already N-padded."""
        h = _conv(_as_2d(x), self.stem.weight, self.stem.bias)
        total = self._skip(0, h, None)
        for index, unit in enumerate(self.units, start=1):
            h = unit(h)
            total = self._skip(index, h, total)
        if self.crop:
            total = total[..., self.crop : total.shape[-1] - self.crop]
        return self._output(total)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact equivalent of ``forward_full`` on ``x`` (B, 4, L) padded with ``crop`` Ns per side."""
        length = x.shape[-1]
        total_radius = self.receptive_radius
        h = _conv(_as_2d(x), self.stem.weight, self.stem.bias)
        # the stem applied to an N (all-zero) column; the constants are tracked in float64 (32-vectors:
        # free) so that their rounding does not add up over the 32 convolutions
        h_const = self.stem.bias.double()
        h_width, reach = 0, 0  # half-width held beyond the sequence; how far values can differ from the constant
        total = self._skip(0, h, None)
        for index, unit in enumerate(self.units, start=1):
            r, d = unit.radius, unit.conv1.dilation[0]
            unit_reach = reach
            y, y_const = _bn_relu(h, h_const, unit.bn1)
            # conv1 with bn2 folded in (an exact per-channel affine map), then ReLU
            scale, shift = _bn_affine(unit.bn2)
            weight = unit.conv1.weight * scale[:, None, None]
            bias = unit.conv1.bias * scale + shift
            reach += r
            width = min(reach, total_radius - reach)
            y, y_const = _windowed_conv(y, y_const, h_width, width, unit_reach, weight, bias, d, r)
            y, y_const = F.relu_(y), torch.relu(y_const)
            mid_reach = reach
            reach += r
            out_width = min(reach, total_radius - reach)
            y, y_const = _windowed_conv(y, y_const, width, out_width, mid_reach, unit.conv2.weight, unit.conv2.bias, d, r)
            h = _add_window(y, h, h_const, h_width, out_width, unit_reach)
            h_const = y_const + h_const
            h_width = out_width
            if index in self.skip_points:
                total = self._skip(index, h[..., h_width : h_width + length], total)
        return self._output(total)


def _as_2d(x: torch.Tensor) -> torch.Tensor:
    """(B, C, W) -> (B, C, 1, W) in channels-last memory order."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int = 1, padding: int = 0) -> torch.Tensor:
    """A Conv1d's parameters applied to a (B, C, 1, W) tensor, zero-padding ``padding`` per side."""
    return F.conv2d(x, weight.unsqueeze(2), bias, padding=(0, padding), dilation=(1, dilation))


def _channels(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return vector.to(like.dtype).view(1, -1, 1, 1)


def _bn(x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _bn_affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference-mode BatchNorm as ``x * scale + shift``."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _bn_relu(x: torch.Tensor, const: torch.Tensor, bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference-mode BatchNorm then ReLU, on the window and on the constant outside it."""
    scale, shift = _bn_affine(bn)
    return F.relu_(_bn(x, bn)), torch.relu(const * scale.double() + shift.double())


def _windowed_conv(
    x: torch.Tensor, const: torch.Tensor, have: int, want: int, reach: int, weight: torch.Tensor, bias: torch.Tensor, dilation: int, radius: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Convolve ``x`` (held ``have`` positions beyond the sequence) to ``want`` positions beyond it.

    When the output needs inputs beyond the held window, those inputs equal ``const`` (the held
    window already covers the tensor's whole non-constant ``reach``). Rather than concatenating
    constant columns, the constant is subtracted in place so that the convolution's own zero
    padding stands for it, and it is added back through the bias: conv(x - c) + (W c + b).
    ``x`` must be a temporary the caller no longer needs. Returns the output and its constant.
    """
    out_const = weight.double().sum(dim=-1) @ const + bias.double()
    need = want + radius
    if need <= have:
        cut = have - need
        window = x[..., cut : x.shape[-1] - cut] if cut else x
        return _conv(window, weight, bias, dilation=dilation), out_const
    if have < reach:
        raise RuntimeError(f"internal error: window {have} narrower than the non-constant reach {reach}")
    x = x.sub_(_channels(const, x))
    return _conv(x, weight, out_const.to(bias.dtype), dilation=dilation, padding=need - have), out_const


def _add_window(y: torch.Tensor, h: torch.Tensor, h_const: torch.Tensor, have: int, want: int, reach: int) -> torch.Tensor:
    """``y + h`` on ``y``'s window (``want`` beyond the sequence), ``h`` being ``h_const`` beyond its window."""
    if want <= have:
        cut = have - want
        return y.add_(h[..., cut : h.shape[-1] - cut] if cut else h)
    if have < reach:
        raise RuntimeError(f"internal error: window {have} narrower than the non-constant reach {reach}")
    pad = want - have
    y[..., pad : y.shape[-1] - pad] += h
    edge = _channels(h_const, y)
    y[..., :pad] += edge
    y[..., y.shape[-1] - pad :] += edge
    return y
