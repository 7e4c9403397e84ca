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
``L + 2 * min(radius_before, radius_after)``; where a convolution reads beyond that window, the
activation it reads (BatchNorm and ReLU, or ReLU) is written straight into a wider buffer whose
ends hold the tracked constant (``_wider``: no separate padding copy). Letting oneDNN pad with
zeros and adding the constant's share to the edge outputs instead cost more (~15 small operators
per convolution: 24 against 13 ms of padding copies per 10-kb call of the five models on two
sequences, 2026-12-02). An earlier version subtracted the constant from the whole window,
convolved with zero padding and added ``W c + b`` back through the bias; where a layer's
constant is large next to its values that cancellation cost float32 digits: against the float64
full-length computation, one pooled feature of a 1-kb benchmark sequence was off by 2.1e-5
(relative), 5.3e-6 with the constant padded (the full-length float32 computation: 6.9e-6). The
BatchNorm that follows each unit's first convolution is folded into that convolution. For
L = 200 this is about 5x fewer multiply-adds than the full computation.

What is left at 5-10 kb is mostly the dilated convolutions. On float32 CPU tensors, ``fft_conv``
computes the 41-tap ones (dilation 25) by FFT where a fixed, measured rule (``fft_length``) says
it is faster: each dilation phase is an undilated convolution, transformed whole (a 5-smooth
length) or, for phases longer than ``WHOLE_PHASE_MAX``, in overlap-save blocks of 64-512
positions, the channels mixed per frequency by one complex matrix product (about 10x fewer
operations than the direct convolution). Whole phases are transformed in the window's own
channels-last memory order, where they are columns (``_whole_phase_conv``), so no layout change
surrounds the convolution. The 11- and 21-tap
convolutions stay direct: on the AVX-512 EPYC machine of 2026-12-02 oneDNN ran them at 200-240
GFLOP/s, 2.4x MKL's matrix products (see ``fft_length``). The FFT's float32 rounding is below
the direct convolution's (about 2e-6 against up to 9e-6 for 41 taps, both against float64).
Forwards with gradients to the weights stay direct (the cached spectra are detached).
``benchmarks/bench_spliceai.py`` and docs/spliceai.md give the measurements.

Keras' own zero padding at the two ends of the L + 10,000 tensor cannot reach a kept position:
the receptive radius of the whole network (sum over the 32 dilated convolutions of
dilation * (kernel - 1) / 2 = 5,000) does not exceed the crop (5,000): a pad value read by the
c-th convolution changes only positions within ``radius(c) + radius_after(c) <= 5,000`` of the
tensor's end, which stops just short of the first kept position. ``forward_full`` is the plain full-length computation that the tests and the
benchmark compare against.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import scipy.fft
import torch
import torch.nn.functional as F
from torch import nn

#: (kernel size, dilation) of the 16 residual units of SpliceAI-10k, four groups of four
SPLICEAI_10K_UNITS: tuple[tuple[int, int], ...] = ((11, 1),) * 4 + ((11, 4),) * 4 + ((21, 10),) * 4 + ((41, 25),) * 4
#: residual-stream positions read by the 1x1 skip convolutions (0 = stem output, i = after unit i)
SPLICEAI_10K_SKIPS: tuple[int, ...] = (0, 4, 8, 12, 16)


class UnitConstants(NamedTuple):
    """What the fast path needs of one residual unit beyond its window, from the weights alone.

    The ``*_const`` vectors (float64) are the unit's values outside the window: its input, after
    BN1 and ReLU (what conv1 reads there), and after conv1 (BN2 folded in) and ReLU (what conv2
    reads there).
    """

    bn1_scale: torch.Tensor
    bn1_shift: torch.Tensor
    in_const: torch.Tensor
    act_const: torch.Tensor
    weight1: torch.Tensor  # conv1's weight with BN2 folded in
    bias1: torch.Tensor
    mid_act_const: torch.Tensor


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
        #: the fast path's cached weight spectra of conv1 (BN2 folded in) and conv2 (see ``SpectrumCache``)
        self.spectra = (SpectrumCache(), SpectrumCache())

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
        #: whether ``forward`` may compute the long dilated convolutions by FFT (see ``fft_length``)
        self.use_fft = True
        #: how far (bp) the whole network looks to either side of an output position
        self.receptive_radius = sum(2 * unit.radius for unit in self.units)
        #: (state key, per-unit constants, the keyed storages) of the fast path, see ``_unit_constants``
        self._constants: tuple[tuple, tuple[UnitConstants, ...], list] | None = None
        if self.receptive_radius > crop:
            raise ValueError(f"receptive radius {self.receptive_radius} exceeds the crop {crop}; end padding would leak in")
        if any(not 0 <= p <= len(self.units) for p in self.skip_points):
            raise ValueError(f"skip points {self.skip_points} outside the residual stream")

    def _skip(self, index: int, h: torch.Tensor, total: torch.Tensor | None) -> torch.Tensor | None:
        for skip, point in zip(self.skips, self.skip_points):
            if point == index:
                term = _pointwise(h, skip.weight, skip.bias)
                total = term if total is None else total.add_(term)
        return total

    def _output(self, penultimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = _pointwise(penultimate, self.head.weight, self.head.bias)
        probs = torch.softmax(logits.float(), dim=1)
        return probs.squeeze(2).contiguous(), penultimate.float().squeeze(2).contiguous()

    def forward_full(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reference computation: ``x`` is (B, 4, L + 2 * crop), the flanks already N-padded."""
        h = _pointwise(_as_2d(x), self.stem.weight, self.stem.bias)
        total = self._skip(0, h, None)
        for index, unit in enumerate(self.units, start=1):
            h = unit(h)
            total = self._skip(index, h, total)
        if self.crop:
            total = total[..., self.crop : total.shape[-1] - self.crop]
        return self._output(total)

    def _unit_constants(self) -> tuple[UnitConstants, ...]:
        """Per-unit constants of the fast path, computed once per state of the parameters and buffers.

        They depend only on the weights (the stem's output on an N column, pushed through every
        layer), so recomputing them on each call cost ~900 small operators (8-10 ms of a 10-kb
        forward of ~130 ms). The key is each tensor's storage address and version counter (bumped
        by every in-place change: ``load_state_dict``, an optimizer step; ``.to`` gives new
        storage); the cache holds those storages, so that no later tensor can be given one of their
        addresses (a round trip such as ``.half().float()`` could otherwise meet the key again). With
        gradients enabled nothing is cached or reused: the constants must then be in the graph (to
        the weights), and tensors made under ``torch.inference_mode`` cannot be saved for backward
        (gradients to the input).
        """
        tensors = [*self.parameters(), *self.buffers()]
        key = None if torch.is_grad_enabled() else _state_key(tensors)
        cached = self._constants
        if cached is not None and key is not None and cached[0] == key:
            return cached[1]
        constants = []
        # the stem applied to an N (all-zero) column; the constants are tracked in float64 (32-vectors:
        # free) so that their rounding does not add up over the 32 convolutions
        h_const = self.stem.bias.double()
        for unit in self.units:
            scale1, shift1 = _bn_affine(unit.bn1)
            act_const = torch.relu(h_const * scale1.double() + shift1.double())
            scale2, shift2 = _bn_affine(unit.bn2)
            weight1 = unit.conv1.weight * scale2[:, None, None]
            bias1 = unit.conv1.bias * scale2 + shift2
            mid_const = weight1.double().sum(dim=-1) @ act_const + bias1.double()
            mid_act_const = torch.relu(mid_const)
            out_const = unit.conv2.weight.double().sum(dim=-1) @ mid_act_const + unit.conv2.bias.double()
            constants.append(UnitConstants(scale1, shift1, h_const, act_const, weight1, bias1, mid_act_const))
            h_const = out_const + h_const
        constants = tuple(constants)
        if key is not None:
            self._constants = (key, constants, [t.untyped_storage() for t in tensors])
        return constants

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact equivalent of ``forward_full`` on ``x`` (B, 4, L) padded with ``crop`` Ns per side."""
        length = x.shape[-1]
        total_radius = self.receptive_radius
        h = _pointwise(_as_2d(x), self.stem.weight, self.stem.bias)
        h_width, reach = 0, 0  # half-width held beyond the sequence; how far values can differ from the constant
        total = self._skip(0, h, None)
        for index, (unit, c) in enumerate(zip(self.units, self._unit_constants()), start=1):
            h, h_width, reach = _unit_forward(unit, c, h, h_width, reach, total_radius, self.use_fft)
            if index in self.skip_points:
                total = self._skip(index, h[..., h_width : h_width + length], total)
        return self._output(total)


def _unit_forward(
    unit: ResidualUnit,
    c: UnitConstants,
    h: torch.Tensor,
    h_width: int,
    reach: int,
    total_radius: int,
    use_fft: bool,
) -> tuple[torch.Tensor, int, int]:
    """One residual unit of the windowed forward: ``h`` (B, C, 1, W) channels-last, held ``h_width``
    beyond the sequence, values differing from the constant up to ``reach``; returns the new
    (h, h_width, reach)."""
    r, d = unit.radius, unit.conv1.dilation[0]
    spectra = unit.spectra if use_fft else (None, None)

    def held_for(x, have, want, fill, reach, activation):
        """``activation(x, out)`` written into a window wide enough for the next convolution's output
        ``want`` (the constant ``fill`` beyond ``have``: no separate padding copy)."""
        extra = max(0, want + r - have)
        wider = _wider(x, extra, fill, have, reach)
        if wider is None:
            return activation(x, None), have
        if torch.is_grad_enabled():  # out= records no gradients: the activation is copied in
            wider[1].copy_(activation(x, None))
        else:
            activation(x, wider[1])
        return wider[0], have + extra

    def bn_relu(x, out):
        return _affine_relu(x, unit.bn1, c.bn1_scale, c.bn1_shift, out)

    unit_reach = reach
    # conv1 with bn2 folded in (an exact per-channel affine map), then ReLU
    reach += r
    width = min(reach, total_radius - reach)
    y, held = held_for(h, h_width, width, c.act_const, unit_reach, bn_relu)
    y = _windowed_conv(y, held, width, c.weight1, c.bias1, d, r, spectra[0])
    mid_reach = reach
    reach += r
    out_width = min(reach, total_radius - reach)
    y, held = held_for(y, width, out_width, c.mid_act_const, mid_reach, _relu)
    y = _windowed_conv(y, held, out_width, unit.conv2.weight, unit.conv2.bias, d, r, spectra[1])
    return _add_window(y, h, c.in_const, h_width, out_width, unit_reach), out_width, reach


def _relu(x: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    """ReLU in place, or into ``out``."""
    return F.relu_(x) if out is None else torch.clamp(x, min=0, out=out)


def _wider(x: torch.Tensor, extra: int, fill: torch.Tensor, have: int, reach: int):
    """(buffer, middle): a (B, C, 1, W) channels-last window ``extra`` positions wider than ``x`` at
    each end, the ends holding ``fill`` (a C-vector: the layer's constant, its value
    beyond the non-constant ``reach``), for the caller to write ``x``'s successor into the middle;
    None when ``extra`` is 0. Writing the activation there saves copying it into a padded buffer."""
    if extra <= 0:
        return None
    if have < reach:
        raise RuntimeError(f"internal error: window {have} narrower than the non-constant reach {reach}")
    shape = (*x.shape[:-1], x.shape[-1] + 2 * extra)
    buffer = torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    edge = _channels(fill, x)
    buffer[..., :extra] = edge
    buffer[..., extra + x.shape[-1] :] = edge
    return buffer, buffer[..., extra : extra + x.shape[-1]]


def _state_key(tensors: list[torch.Tensor]) -> tuple | None:
    """Storage, version counter and dtype of each tensor; None for inference tensors (no version counter)."""
    try:
        return tuple((t.data_ptr(), t._version, t.dtype) for t in tensors)
    except RuntimeError:
        return None


def _as_2d(x: torch.Tensor) -> torch.Tensor:
    """(B, C, W) -> (B, C, 1, W) in channels-last memory order."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int = 1, padding: int = 0) -> torch.Tensor:
    """A Conv1d's parameters applied to a (B, C, 1, W) tensor, zero-padding ``padding`` per side."""
    return F.conv2d(x, weight.unsqueeze(2), bias, padding=(0, padding), dilation=(1, dilation))


def _pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 1x1 Conv1d's parameters applied to a (B, C, 1, W) channels-last tensor, as one matrix product.

    Channels-last rows are a (positions, C) matrix, so the convolution is ``rows @ weight.T + bias``
    in place: oneDNN sends 1x1 convolutions to a slower im2col path on these shapes. Returns a
    (B, C_out, 1, W) channels-last tensor.
    """
    rows = x.squeeze(2).transpose(1, 2)  # (B, W, C), no copy
    matrix = weight.squeeze(-1).t()
    if rows.shape[0] == 1:
        out = torch.addmm(bias, rows[0], matrix).unsqueeze(0)
    else:
        out = torch.baddbmm(bias, rows, matrix.expand(rows.shape[0], *matrix.shape))
    return out.transpose(1, 2).unsqueeze(2)


def _channels(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A C-vector shaped to broadcast over the channels of a (B, C, 1, W) tensor like ``like``."""
    return vector.to(like.dtype).view(1, -1, 1, 1)


def _bn(x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _bn_affine(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference-mode BatchNorm as ``x * scale + shift``."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _affine_relu(
    x: torch.Tensor, bn: nn.BatchNorm1d, scale: torch.Tensor, shift: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    """Inference-mode BatchNorm then ReLU on the window, ``scale`` and ``shift`` being ``_bn_affine(bn)``;
    into ``out`` when given.

    In float32/64 as one ``addcmul`` (one pass; the inference BatchNorm kernel ran ~2x slower); in
    reduced precision through BatchNorm itself, which keeps the scale and shift in float32. (The
    values outside the window are :meth:`SpliceAINet._unit_constants`' job.)
    """
    if x.dtype not in (torch.float32, torch.float64):
        y = F.relu_(_bn(x, bn))
        return y if out is None else out.copy_(y)
    return torch.addcmul(_channels(shift, x), x, _channels(scale, x), out=out).relu_()


def _windowed_conv(
    x: torch.Tensor,
    have: int,
    want: int,
    weight: torch.Tensor,
    bias: torch.Tensor,
    dilation: int,
    radius: int,
    spectra: SpectrumCache | None = None,
) -> torch.Tensor:
    """Convolve ``x`` (held ``have`` positions beyond the sequence) to ``want`` positions beyond it,
    cutting the window to what those outputs read (``have`` covers it: see :func:`_wider`)."""
    cut = have - want - radius
    if cut < 0:
        raise RuntimeError(f"internal error: window {have} narrower than the {want + radius} the convolution reads")
    window = x[..., cut : x.shape[-1] - cut] if cut else x
    return _dilated_conv(window, weight, bias, dilation, 0, spectra)


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


#: FFT lengths a block may use when a phase is too long for one transform (powers of two: the measured ones)
FFT_SIZES: tuple[int, ...] = (64, 128, 256, 512)
#: float32 elements of one FFT chunk: the overlap-save blocks of one sequence transformed at a
#: time (8 MB). Chunks of 512 KB (kept in the 2 MB L2 cache) cut the per-frequency complex
#: products to 10-30 rows, which MKL ran at about half the rate of 150 rows; the whole forward at
#: 10 kb was 4-7% faster with one chunk in interleaved runs
FFT_CHUNK_ELEMENTS = 1 << 21
#: the fewest taps and outputs for which ``fft_length`` picks the FFT (see there)
FFT_MIN_TAPS, FFT_MIN_OUTPUTS = 41, 1000
#: the longest phase (inputs per dilation phase) transformed whole, in one block
WHOLE_PHASE_MAX = 4096


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def smooth_length(minimum: int) -> int:
    """The smallest 2^a 3^b 5^c >= ``minimum``: a length MKL transforms with its fast radices."""
    best, power2 = None, 1
    while True:
        power3 = power2
        while True:
            power5 = power3
            while power5 < minimum:
                power5 *= 5
            best = power5 if best is None else min(best, power5)
            if power3 >= minimum:
                break
            power3 *= 3
        if power2 >= minimum:
            return best
        power2 *= 2


def fft_length(kernel_size: int, dilation: int, out_len: int) -> int | None:
    """FFT length for :func:`fft_conv` on this convolution, or None where the direct one is faster.

    A fixed rule from measured crossovers, not a run-time timing, so the same input always takes
    the same path: kernels of at least ``FFT_MIN_TAPS`` (41) taps over at least ``FFT_MIN_OUTPUTS``
    (1,000) outputs, SpliceAI's dilation-25 units. On the 2-core AMD EPYC (AVX-512) machine of
    2026-12-02, oneDNN ran the direct convolutions at 200-240 GFLOP/s, 2.4x the rate of MKL's
    matrix products (~100 GFLOP/s), so the FFT's ~10x fewer operations at 41 taps made it 1.3-1.9x
    faster than direct, while at 21 taps (dilation 10) it was 1.05-1.5x slower (both FFT layouts),
    and at 11 taps 2.5-3x slower; an earlier Intel machine (MKL at 177, oneDNN at ~110 GFLOP/s)
    also took the 21-tap units by FFT. Where each phase's inputs (``out_len / dilation`` outputs
    plus ``K - 1``) fit ``WHOLE_PHASE_MAX``, the length is the smallest 5-smooth one that holds
    them, so that each phase is one transform (:func:`smooth_length`); longer phases are cut into
    blocks of the ``FFT_SIZES`` length with the fewest transformed positions, the smaller on a tie.
    """
    if kernel_size < FFT_MIN_TAPS or out_len < FFT_MIN_OUTPUTS:
        return None
    per_phase = _ceil_div(out_len, dilation)
    if per_phase + kernel_size - 1 <= WHOLE_PHASE_MAX:
        return smooth_length(per_phase + kernel_size - 1)
    best = None
    for n in FFT_SIZES:
        step = n - kernel_size + 1
        if step < kernel_size:
            continue
        work = _ceil_div(per_phase, step) * n
        if best is None or work < best[0]:
            best = (work, n)
    return None if best is None else best[1]


def conv_flops(channels_in: int, channels_out: int, kernel_size: int, dilation: int, out_len: int, batch: int = 1) -> int:
    """FLOPs the fast path executes for one convolution: direct, or FFT where :func:`fft_length` picks it.

    Direct: 2 per multiply-add. FFT: the complex channel mixing at 8 real FLOPs per complex
    multiply-add, plus 2.5 n log2 n per real transform of length n (the usual count for a real
    FFT) for the C_in forward and C_out inverse transforms of every block and phase.
    """
    n = fft_length(kernel_size, dilation, out_len)
    if n is None:
        return 2 * channels_in * channels_out * kernel_size * out_len * batch
    step = n - kernel_size + 1
    transforms = batch * dilation * _ceil_div(_ceil_div(out_len, dilation), step)  # (sequence, phase, block) triples
    frequencies = n // 2 + 1
    mixing = 8 * frequencies * channels_in * channels_out
    fft = 2.5 * n * math.log2(n) * (channels_in + channels_out)
    return int(transforms * (mixing + fft))


class SpectrumCache:
    """One convolution's weight spectra, per FFT length, computed once and reused.

    The fast path folds BatchNorm into conv1's weights on every call, so the cache keeps the
    weights it transformed and recomputes when they differ (a comparison of C x C x K values,
    far cheaper than the transform). Spectra are computed in float64 and stored as complex64.
    A whole-phase length follows the window (:func:`fft_length`), so batches of other lengths ask
    for other lengths: the ``SPECTRUM_LENGTHS`` most recently used are kept (a 41-tap spectrum
    of length 640 is 2.6 MB; a miss costs one float64 transform of the C x C taps, ~1 ms).
    """

    SPECTRUM_LENGTHS = 4

    def __init__(self):
        self._entries: dict[tuple[int, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}

    def get(self, weight: torch.Tensor, n: int) -> torch.Tensor:
        """(n/2 + 1, C_in, C_out) spectrum of ``weight`` (C_out, C_in, K), conjugated for correlation."""
        key = (n, weight.device)
        entry = self._entries.pop(key, None)
        if entry is None or entry[0].shape != weight.shape or not torch.equal(entry[0], weight):
            spectrum = torch.fft.rfft(weight.detach().double(), n=n, dim=-1).conj().permute(2, 1, 0)
            entry = (weight.detach().clone(), spectrum.to(torch.complex64).resolve_conj().contiguous())
        self._entries[key] = entry  # (re)inserted last: the dict's order is the order of use
        while len(self._entries) > self.SPECTRUM_LENGTHS:
            del self._entries[next(iter(self._entries))]
        return entry[1]


def _fft_allowed(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Float32 CPU tensors without gradients to the weights (the cached spectra are detached)."""
    trains = torch.is_grad_enabled() and weight.requires_grad
    return not trains and x.device.type == "cpu" and x.dtype == torch.float32


def _dilated_conv(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    dilation: int,
    padding: int,
    spectra: SpectrumCache | None,
) -> torch.Tensor:
    """``_conv`` by FFT where :func:`fft_length` says that is faster, else directly.

    Only for float32 CPU tensors, and only without gradients to the weights: the cached spectra
    are detached, so a forward that trains the weights takes the direct convolution.
    """
    kernel_size = weight.shape[-1]
    out_len = x.shape[-1] + 2 * padding - dilation * (kernel_size - 1)
    n = fft_length(kernel_size, dilation, out_len) if spectra is not None and _fft_allowed(x, weight) else None
    if n is None:
        return _conv(x, weight, bias, dilation=dilation, padding=padding)
    return fft_conv(x, spectra.get(weight, n), bias, kernel_size, dilation, padding, n)


def _chunks(blocks: int, per_chunk: int, span: int, overlap: int, padding: int, width: int) -> list[tuple[int, int]]:
    """(first block, block count) of each chunk: at most ``per_chunk`` blocks, and the blocks that
    read the zero padding at either end in chunks of their own, so that only those few are copied
    into a padded buffer. Block s reads inputs ``s * span - padding`` to ``(s + 1) * span + overlap - padding``.

    Blocks that fit one chunk (every SpliceAI window up to ~60 kb) go as one chunk, padded whole:
    one copy of the input cost less than the two extra rounds of transforms, products and copies
    of separate end chunks (the 16 FFT convolutions of a 10-kb forward: 78.8 -> 73.3 and 81.0 ->
    74.8 ms of CPU, interleaved, best of 12, load 2.7-2.9).
    """
    if blocks <= per_chunk:
        return [(0, blocks)]
    left = min(blocks, _ceil_div(padding, span)) if padding > 0 else 0  # blocks starting before input 0
    inside = max(0, (width + padding - overlap) // span)  # blocks ending within the input
    cuts = sorted({0, left, max(left, min(blocks, inside)), blocks} | set(range(0, blocks, per_chunk)))
    return [(a, b - a) for a, b in zip(cuts, cuts[1:]) if b > a]


def fft_conv(
    x: torch.Tensor,
    spectrum: torch.Tensor,
    bias: torch.Tensor,
    kernel_size: int,
    dilation: int,
    padding: int,
    n: int,
) -> torch.Tensor:
    """The dilated convolution of ``_conv`` computed by FFT: polyphase split, then overlap-save blocks.

    With dilation d, the outputs at positions ``t = q * d + p`` read only inputs of the same phase
    ``p``, through an undilated kernel of K taps, so the convolution is d independent undilated
    ones over ``W / d`` positions each. Each phase is cut into blocks of ``n`` inputs that overlap
    by ``K - 1`` and give ``n - K + 1`` outputs each (overlap-save); per frequency, mixing the
    channels is one complex (rows x C_in) @ (C_in x C_out) product over the blocks and phases of a
    chunk, and the bias enters through the zero frequency. Multiply-adds per output: about
    4 * C_in * C_out * n / (n - K + 1) / 2 for the mixing plus two real FFTs of C channels, against
    C_in * C_out * K directly. Inputs longer than ``FFT_CHUNK_ELEMENTS`` go in chunks, and then only
    the chunks at the two ends are zero-padded (see :func:`_chunks`).

    Where ``n`` holds a whole phase (``out_len / d`` outputs plus ``K - 1`` inputs), each phase is
    one transform instead, in the window's own memory order (:func:`_whole_phase_conv`).

    ``x`` is (B, C, 1, W) channels-last; ``spectrum`` is (n/2 + 1, C_in, C_out) from
    :class:`SpectrumCache`. Returns (B, C_out, 1, W + 2 * padding - dilation * (K - 1)).
    """
    batch, channels, _, width = x.shape
    out_channels = spectrum.shape[-1]
    out_len = width + 2 * padding - dilation * (kernel_size - 1)
    phase_in = _ceil_div(out_len, dilation) + kernel_size - 1
    if phase_in <= n:  # each phase in one transform
        return _whole_phase_conv(x, spectrum, bias, kernel_size, dilation, padding, n)
    step = n - kernel_size + 1
    blocks = _ceil_div(_ceil_div(out_len, dilation), step)  # blocks per phase
    per_chunk = max(1, FFT_CHUNK_ELEMENTS // (dilation * channels * n))
    rows_x = x.squeeze(2).transpose(1, 2)  # (B, W, C): channels-last memory, no copy
    # output position (s * step + j) * d + p comes from block s, tap j, phase p
    out = torch.empty(batch, blocks * step * dilation, out_channels, dtype=x.dtype, device=x.device)
    zero_frequency = bias.to(spectrum.real.dtype) * n  # a constant over the block: n times it at frequency 0
    chunks = _chunks(blocks, per_chunk, step * dilation, (kernel_size - 1) * dilation, padding, width)  # same for every sequence
    for b in range(batch):
        for first, count in chunks:
            lo = first * step * dilation - padding  # the chunk's inputs in x's coordinates
            hi = lo + (count * step + kernel_size - 1) * dilation
            chunk = rows_x[b, max(lo, 0) : min(hi, width)]
            if lo < 0 or hi > width:
                chunk = F.pad(chunk, (0, 0, max(0, -lo), max(0, hi - width)))  # zero rows
            segments = chunk.reshape(count * step + kernel_size - 1, dilation * channels).unfold(0, n, step)  # (count, d*C, n)
            spectra_in = torch.fft.rfft(segments, dim=-1).view(count * dilation, channels, -1)
            mixed = torch.bmm(spectra_in.permute(2, 0, 1).contiguous(), spectrum)  # (F, rows, C_out); one copy, not one per frequency
            mixed[0] += zero_frequency
            y = torch.fft.irfft(mixed.permute(1, 2, 0), n=n, dim=-1).view(count, dilation, out_channels, n)
            target = out[b, first * step * dilation : (first + count) * step * dilation].view(count, step, dilation, out_channels)
            target.copy_(y[..., :step].permute(0, 3, 1, 2))
    return out[:, :out_len].transpose(1, 2).unsqueeze(2)


def _whole_phase_conv(
    x: torch.Tensor,
    spectrum: torch.Tensor,
    bias: torch.Tensor,
    kernel_size: int,
    dilation: int,
    padding: int,
    n: int,
) -> torch.Tensor:
    """:func:`fft_conv` with each dilation phase in one transform of ``n`` >= its inputs, computed
    in the window's channels-last memory order, with no layout change.

    Channels-last rows of a window are a (Q, d * C) matrix: row q holds positions ``q * d`` to
    ``q * d + d - 1``, so column ``p * C + c`` is phase p of channel c. The transforms run down
    those columns (scipy's pocketfft transforms neighbouring columns together, in SIMD lanes, and
    reads and writes strided arrays as given). With the batch as the middle axis of the input view
    the spectra come out frequency-major, so each frequency's (B * d, C_in) block is contiguous and
    mixed by one complex product with the (C_in, C_out) weight spectrum for the whole batch; read
    back batch-major, the inverse transforms give each sequence's output window in channels-last
    order. Zero padding to ``n`` at the end of a phase reaches only outputs past the window (no
    wrap-around). Before, the phases were transposed to rows, transformed along memory and
    transposed back (four copies per convolution). A 10-kb forward of the five models on two
    sequences (one thread, interleaved, best of 8; 2026-12-03, AMD EPYC) took 0.604 s against
    0.629 s with one product per sequence; one product per batch then took a 41-tap convolution of
    two 13,000-output windows from 6.99 to 6.58 ms (median of 60). PyTorch's FFT (MKL) down the
    columns was slower than both (0.672 s against 0.629 s); it serves forwards that need
    gradients to the input (pocketfft runs on NumPy arrays).

    Returns (B, C_out, 1, out_len), channels-last within each sequence (the sequences of a batch
    are views into one buffer of ``n`` rows each; every later operator accepts that).
    """
    batch, channels, _, width = x.shape
    frequencies, _, out_channels = spectrum.shape
    out_len = width + 2 * padding - dilation * (kernel_size - 1)
    phase_out = _ceil_div(out_len, dilation)
    phase_in = phase_out + kernel_size - 1
    rows = x.squeeze(2).transpose(1, 2)  # (B, W, C): channels-last memory, no copy
    if padding or phase_in * dilation != width:
        rows = F.pad(rows, (0, 0, padding, phase_in * dilation - width - padding))  # zero rows
    # transformed down positions with the batch as a middle axis, the spectra come out frequency-major:
    # each frequency's (B * d, C_in) block is contiguous, mixed by one product for the whole batch
    columns = rows.reshape(batch, phase_in, dilation * channels).transpose(0, 1)  # (Q, B, d * C): a view
    spectra_in = _fft_columns(columns, n, dim=0).view(frequencies, batch * dilation, channels)  # (F, B * d, C)
    mixed = torch.matmul(spectra_in, spectrum)  # (F, B * d, C_out)
    mixed[0] += bias.to(spectrum.real.dtype) * n  # the bias: a constant over the phase, n times it at frequency 0
    # read back batch-major (a strided view), the inverse transforms come out as the sequences' windows
    y = _fft_columns(mixed.view(frequencies, batch, dilation * out_channels).transpose(0, 1), n, dim=1, inverse=True)  # (B, n, d * C_out)
    return y[:, :phase_out].reshape(batch, phase_out * dilation, out_channels)[:, :out_len].transpose(1, 2).unsqueeze(2)


def _fft_columns(x: torch.Tensor, n: int, dim: int, inverse: bool = False) -> torch.Tensor:
    """Real FFT of ``x`` (float32, CPU, any strides) along ``dim``, zero-padded to ``n``: complex64
    with ``n/2 + 1`` frequencies along ``dim``; ``inverse``: back to ``n`` real values. Contiguous.

    By scipy's pocketfft (as many threads as PyTorch's intra-op setting), which reads and writes
    strided arrays as given, unless gradients to ``x`` are recorded: by ``torch.fft`` then.
    """
    if torch.is_grad_enabled() and x.requires_grad:
        transform = torch.fft.irfft if inverse else torch.fft.rfft
        return transform(x, n=n, dim=dim).contiguous()
    transform = scipy.fft.irfft if inverse else scipy.fft.rfft
    return torch.from_numpy(transform(x.detach().numpy(), n=n, axis=dim, workers=torch.get_num_threads()))
