"""Sei's trunk without recomputing the N padding around short sequences.

A 200 bp peak centred in Sei's 4,096 bp window is 95 % padding, and padding (0.25 in every
channel) is the same for every sequence and both strands. Away from the sequence, every layer's
output therefore equals the output the trunk gives for an all-N window, which is computed once
per window length and cached. Each layer is evaluated only on the "dirty" span its receptive
field lets the sequence reach; the span widens layer by layer (by the conv radius, or is divided
by the pooling stride) until the dilated tower covers the whole window. On the bundled 200 bp
data this removes most of the work of the expensive full-resolution layers; the result equals
the dense trunk up to float rounding.

Only for inference (eval mode, no dropout); training uses :meth:`Sei.trunk`.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from genofm.backbones.sei_model import Sei

N_VALUE = 0.25


@dataclasses.dataclass
class _Act:
    """An activation equal to the background ``bg`` (1, C, L) except on ``[lo, hi)`` (``patch``)."""

    bg: torch.Tensor
    patch: torch.Tensor  # (B, C, hi - lo)
    lo: int
    hi: int

    @property
    def length(self) -> int:
        return self.bg.shape[-1]

    def window(self, start: int, stop: int) -> torch.Tensor:
        """Values on ``[start, stop)`` (which must contain the patch when it is not empty)."""
        batch = self.patch.shape[0]
        if self.hi <= self.lo:
            return self.bg[:, :, start:stop].expand(batch, -1, -1)
        parts = []
        if start < self.lo:
            parts.append(self.bg[:, :, start : self.lo].expand(batch, -1, -1))
        parts.append(self.patch)
        if stop > self.hi:
            parts.append(self.bg[:, :, self.hi : stop].expand(batch, -1, -1))
        return torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]

    def dense(self) -> torch.Tensor:
        return self.window(0, self.length).contiguous()


class PaddedTrunk:
    """Runs ``model.trunk`` on N-padded batches, reusing a cached all-N background per length."""

    def __init__(self, model: Sei):
        self.model = model
        self._backgrounds: dict[tuple, list[torch.Tensor]] = {}

    # --- the layer graph of Sei.trunk, written once for both the dense and the patched walk ------
    def _graph(self, x, op):
        m = self.model
        lout1 = op.seq(m.lconv1, x)
        out1 = op.seq(m.conv1, lout1)
        lout2 = op.seq(m.lconv2, op.add(out1, lout1))
        out2 = op.seq(m.conv2, lout2)
        lout3 = op.seq(m.lconv3, op.add(out2, lout2))
        out3 = op.seq(m.conv3, lout3)
        cum = op.add(out3, op.seq(m.dconv1, op.add(out3, lout3)))
        for block in (m.dconv2, m.dconv3, m.dconv4, m.dconv5):
            cum = op.add(cum, op.seq(block, cum))
        return cum

    def background(self, length: int, device: torch.device, dtype: torch.dtype) -> list[torch.Tensor]:
        key = (length, str(device), dtype, torch.is_autocast_enabled(device.type))
        if key not in self._backgrounds:
            recorder = _Recorder()
            x = torch.full((1, 4, length), N_VALUE, device=device, dtype=dtype)
            self._graph(x, recorder)
            self._backgrounds[key] = recorder.outputs
        return self._backgrounds[key]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, L) one-hot with 0.25 for N -> (B, C3, L // 16), equal to ``model.trunk(x)``."""
        if self.model.training:
            raise RuntimeError("PaddedTrunk is for inference; call model.trunk() when training")
        length = x.shape[-1]
        informative = (x != N_VALUE).any(dim=1).any(dim=0)
        where = torch.nonzero(informative).flatten()
        if where.numel() == 0:
            lo = hi = 0
        else:
            lo, hi = int(where[0]), int(where[-1]) + 1
        if hi - lo > 0.9 * length:  # little to save: the plain dense trunk is simpler and as fast
            return self.model.trunk(x)
        bg = self.background(length, x.device, x.dtype)
        walker = _Patched(bg)
        act = _Act(bg=torch.full((1, 4, length), N_VALUE, device=x.device, dtype=x.dtype), patch=x[:, :, lo:hi], lo=lo, hi=hi)
        return self._graph(act, walker).dense()


class _Recorder:
    """Dense walk over the all-N window that keeps every op's output as the background."""

    def __init__(self):
        self.outputs: list[torch.Tensor] = []

    def _keep(self, t: torch.Tensor) -> torch.Tensor:
        self.outputs.append(t)
        return t

    def seq(self, block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        for layer in block:
            if isinstance(layer, nn.Dropout):
                continue
            if isinstance(layer, nn.ReLU):
                x = self._keep(F.relu(x))  # not in place: the conv output is kept too
            else:
                x = self._keep(layer(x))
        return x

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self._keep(a + b)


class _Patched:
    """Patched walk: each op is evaluated on the span the sequence can influence."""

    def __init__(self, backgrounds: list[torch.Tensor]):
        self.backgrounds = backgrounds
        self.index = 0

    def _next_bg(self) -> torch.Tensor:
        bg = self.backgrounds[self.index]
        self.index += 1
        return bg

    def seq(self, block: nn.Sequential, act: _Act) -> _Act:
        for layer in block:
            if isinstance(layer, nn.Dropout):
                continue
            if isinstance(layer, nn.Conv1d):
                act = self._conv(layer, act)
            elif isinstance(layer, nn.ReLU):
                act = _Act(self._next_bg(), F.relu(act.patch), act.lo, act.hi)
            elif isinstance(layer, nn.MaxPool1d):
                act = self._pool(layer, act)
            else:
                raise TypeError(f"unsupported layer in Sei trunk: {layer}")
        return act

    def _conv(self, conv: nn.Conv1d, act: _Act) -> _Act:
        bg = self._next_bg()
        length = act.length
        (kernel,), (dilation,), (padding,) = conv.kernel_size, conv.dilation, conv.padding
        radius = dilation * (kernel - 1) // 2
        if padding != radius or conv.stride != (1,):
            raise ValueError("PaddedTrunk expects length-preserving convolutions")
        if act.hi <= act.lo:
            return _Act(bg, act.patch.new_empty(act.patch.shape[0], conv.out_channels, 0), 0, 0)
        lo, hi = max(0, act.lo - radius), min(length, act.hi + radius)
        start, stop = max(0, lo - radius), min(length, hi + radius)
        inp = act.window(start, stop)
        left, right = radius - (lo - start), radius - (stop - hi)
        if left or right:
            inp = F.pad(inp, (left, right))
        out = F.conv1d(inp, conv.weight, conv.bias, dilation=dilation)
        return _Act(bg, out, lo, hi)

    def _pool(self, pool: nn.MaxPool1d, act: _Act) -> _Act:
        bg = self._next_bg()
        size = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
        stride = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
        if size != stride or pool.padding not in (0, (0,)) or pool.ceil_mode:
            raise ValueError("PaddedTrunk expects non-overlapping floor max-pooling")
        out_len = bg.shape[-1]
        lo, hi = act.lo // size, min(out_len, -(-act.hi // size))
        if act.hi <= act.lo or hi <= lo:
            return _Act(bg, act.patch.new_empty(act.patch.shape[0], act.patch.shape[1], 0), 0, 0)
        out = F.max_pool1d(act.window(lo * size, hi * size), size, size)
        return _Act(bg, out, lo, hi)

    def add(self, a: _Act, b: _Act) -> _Act:
        bg = self._next_bg()
        spans = [(s.lo, s.hi) for s in (a, b) if s.hi > s.lo]
        if not spans:
            return _Act(bg, a.patch, 0, 0)
        lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
        return _Act(bg, a.window(lo, hi) + b.window(lo, hi), lo, hi)
