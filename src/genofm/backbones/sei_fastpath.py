"""Sei's trunk for inference: fewer multiply-adds, faster kernels, and no work on N padding.

Exact rewrites of :meth:`Sei.trunk` (eval mode, no dropout), each equal to the plain trunk
up to float rounding:

* **Merged convolution pairs.** ``lconv1``, ``lconv2`` and ``lconv3`` are two kernel-9 convolutions
  with nothing in between, so their composition is one kernel-17 convolution whose weights are
  the products of the two (computed once per set of weights). For ``lconv1`` (4 -> 480 -> 480)
  that removes the 480 x 480 x 9 convolution at full resolution, 16 % of the trunk's
  multiply-adds; for ``lconv2``/``lconv3`` it saves 19 % / 25 % of those blocks. The composition
  differs from the original only where the second convolution reads the first one's zero
  padding (the first and last 4 positions); there the merged result is corrected by subtracting
  the contribution of the first convolution's would-be outputs outside the sequence.
* **Convolutions as matrix products on CPU** (engine ``"gemm"``, the default on Intel).
  Activations are (B, C, 1, L) channels-last tensors, i.e. (B, L, C) in memory, so a
  convolution is a sum over its taps of ``x[:, shifted rows] @ W_tap`` (``baddbmm`` on row
  windows of the input, no copy); narrow inputs (the 4-channel one-hot) use one product over
  the unfolded taps instead. On one thread of an Intel Xeon this runs at ~0.85 of a large
  matmul's rate for every Sei layer, where oneDNN's ``conv2d`` (used on GPUs) reaches ~0.6-0.8
  and ``conv1d`` ~0.6. MKL runs AVX-512 only on Intel, so elsewhere (engine ``"winograd"``, the
  default on AMD) the convolutions stay oneDNN's (see :func:`cpu_engine`).
* **Winograd F(2, 3) for the undilated kernels** (kernel 9, and the merged kernel 17) on CPU:
  1.5x (1.42x) fewer multiply-adds by an exact identity whose transforms only add, subtract
  and halve, so results differ from the direct sum only by float rounding (measured: the same
  ~2e-6 as the direct products against a float64 convolution); 1.2-1.4x faster per layer. The
  products are MKL's ``baddbmm`` (engine ``"gemm"``) or one oneDNN ``conv2d`` of stride 2 and
  dilation 3 per transform (engine ``"winograd"``; 1.25-1.35x faster than plain ``conv2d`` on
  an AMD EPYC).
* **Padding reuse.** A 200 bp peak centred in Sei's 4,096 bp window is 95 % padding, and padding
  (0.25 in every channel) is the same for every sequence and both strands. Away from the
  sequence, every layer's output equals the output for an all-N window, which is computed once
  per window length and cached. Each layer is evaluated only on the "dirty" span its receptive
  field lets the sequence reach; the span widens layer by layer (by the conv radius, or is
  divided by the pooling stride) until the dilated tower covers the whole window.

Dense batches are cut into chunks of at most ``max_positions`` sequence positions, which bounds
activation memory (~0.1 GB per chunk at the default) whatever the batch size. On a CPU with
several torch threads, batch slices run as parallel single-threaded tasks
(:mod:`genofm.backbones.threads`) rather than through PyTorch's intra-op threads.
Only for inference; training uses :meth:`Sei.trunk`.
"""

from __future__ import annotations

import dataclasses
import functools
import platform

import torch
import torch.nn.functional as F
from torch import nn

from genofm.backbones.sei_model import Sei
from genofm.backbones.threads import cpu_workers, run_tasks

N_VALUE = 0.25
#: the order in which :meth:`Sei.trunk` uses its blocks
BLOCKS = ("lconv1", "conv1", "lconv2", "conv2", "lconv3", "conv3", "dconv1", "dconv2", "dconv3", "dconv4", "dconv5")
#: sequence positions (batch x length) per dense chunk: 4 strands of 4,096 bp
MAX_POSITIONS = 4 * 4096
#: dense batches are cut into at least this many tasks per CPU worker (load balance on a busy machine)
TASKS_PER_WORKER = 2
#: ... of at least this many sequences each, where the batch allows one such task per worker
MIN_TASK_ROWS = 2


def _as_2d(x: torch.Tensor) -> torch.Tensor:
    """(B, C, L) -> (B, C, 1, L) channels-last, the layout oneDNN's fast convolutions use."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def _weight_2d(weight: torch.Tensor) -> torch.Tensor:
    """A Conv1d weight as a (out, in, 1, k) view: no copy of the 0.3 GB trunk (oneDNN reorders it per call anyway)."""
    return weight.detach().unsqueeze(2)


# --- the operations of the inference graph -------------------------------------------------------

#: below this many input channels a convolution unfolds its taps into one product (im2col)
NARROW_INPUT = 64
#: how CPU convolutions run ("auto" resolves to one of the others by :func:`cpu_engine`); see :class:`_Conv`
ENGINES = ("auto", "gemm", "winograd", "conv2d")


def cpu_engine() -> str:
    """The faster CPU engine for this processor: ``"gemm"`` on Intel, ``"winograd"`` elsewhere.

    The two differ in which library does the multiply-adds. MKL (``matmul``/``baddbmm``) runs
    its AVX-512 kernels only on Intel processors; on others (AMD) it falls back to AVX2 at about
    half the rate, while oneDNN (``conv2d``) uses AVX-512 wherever the processor has it. Measured
    per Sei layer, one thread: on an Intel Xeon MKL's products ran at 177 GFLOP/s and oneDNN's
    convolutions at 110; on an AMD EPYC (Zen 5) MKL at 90-95 and oneDNN at 180-230, where the
    oneDNN Winograd layers took 0.75-0.8x the time of plain ``conv2d`` and 0.45x of MKL's.
    A fixed rule rather than a timing at start-up, so that a machine always gives the same numbers.
    """
    return "gemm" if _cpu_vendor() == "GenuineIntel" else "winograd"


def resolve_engine(engine: str) -> str:
    """``engine`` checked against :data:`ENGINES`, with ``"auto"`` replaced by :func:`cpu_engine`'s choice."""
    if engine not in ENGINES:
        raise ValueError(f"unknown Sei convolution engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return cpu_engine() if engine == "auto" else engine


@functools.lru_cache(maxsize=1)
def _cpu_vendor() -> str:
    """``vendor_id`` from /proc/cpuinfo (Linux), else the platform's processor string (which names
    no vendor on macOS: there the rule picks ``"winograd"``, also on the Intel Macs)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _taps(weight: torch.Tensor) -> torch.Tensor:
    """A Conv1d weight (out, in, k) as (k, in, out): one (in, out) matrix per tap, for ``x_rows @ W``."""
    return weight.detach().permute(2, 1, 0).contiguous()


def conv_rows(x: torch.Tensor, taps: torch.Tensor, bias: torch.Tensor | None, dilation: int, left: int, right: int) -> torch.Tensor:
    """Convolution of (B, n, C) rows (positions x channels) zero-padded by ``left``/``right``, as matrix products.

    ``taps``: (k, C, O). Returns (B, left + n + right - dilation * (k - 1), O) contiguous, equal to
    ``conv1d`` on the transposed input up to float rounding. Wide inputs: for each tap, the
    shifted window of the padded rows times that tap's matrix, accumulated in place (``baddbmm``
    on strided row windows: no copies besides the padding). Narrow inputs (C < ``NARROW_INPUT``):
    the taps are unfolded into (B * L_out, k * C) rows and multiplied once.
    """
    batch, n, channels = x.shape
    kernel, _, width = taps.shape
    padded = F.pad(x, (0, 0, left, right)) if left or right else x.contiguous()
    rows = padded.shape[1] - dilation * (kernel - 1)
    if channels < NARROW_INPUT:
        unfolded = padded.as_strided((batch, rows, kernel, channels), (padded.stride(0), channels, dilation * channels, 1))
        flat = unfolded.reshape(batch * rows, kernel * channels)
        weight = taps.reshape(kernel * channels, width)
        out = torch.addmm(bias, flat, weight) if bias is not None else flat @ weight
        return out.view(batch, rows, width)
    start = bias.expand(batch, rows, width) if bias is not None else padded.new_zeros(batch, rows, width)
    out = torch.baddbmm(start, padded[:, :rows], taps[0].expand(batch, -1, -1))
    for tap in range(1, kernel):
        shift = tap * dilation
        out.baddbmm_(padded[:, shift : shift + rows], taps[tap].expand(batch, -1, -1))
    return out


def winograd_taps(taps: torch.Tensor) -> torch.Tensor:
    """Per-tap matrices (k, C, O) -> Winograd F(2, 3) filter transforms (4, G, C, O), G = ceil(k / 3).

    The kernel is cut into G groups of 3 taps (zero taps fill the last group); each group
    ``(w0, w1, w2)`` becomes ``(w0, (w0 + w1 + w2) / 2, (w0 - w1 + w2) / 2, w2)`` (computed in
    float64, then rounded once).
    """
    kernel, channels, width = taps.shape
    groups = -(-kernel // 3)
    padded = torch.cat([taps, taps.new_zeros(3 * groups - kernel, channels, width)]).view(groups, 3, channels, width).double()
    w0, w1, w2 = padded[:, 0], padded[:, 1], padded[:, 2]
    return torch.stack([w0, (w0 + w1 + w2) / 2, (w0 - w1 + w2) / 2, w2]).to(taps.dtype).contiguous()


def conv_winograd(x: torch.Tensor, transformed: torch.Tensor, bias: torch.Tensor | None, kernel: int, left: int, right: int) -> torch.Tensor:
    """:func:`conv_rows` for undilated kernels with Winograd's F(2, 3): 4 products per 2 outputs and 3 taps, not 6.

    For a pair of outputs ``(y0, y1)`` and one group of 3 taps over inputs ``d0..d3``, the
    minimal filtering algorithm computes ``m_j = D_j @ U_j`` with ``D = (d0 - d2, d1 + d2, d2 - d1,
    d1 - d3)`` and ``U`` from :func:`winograd_taps`, then ``y0 = m0 + m1 + m2``, ``y1 = m1 - m2 - m3``:
    an exact identity, whose transforms only add, subtract and halve (float32 results differ
    from the direct sum by rounding, as much as two summation orders do). A kernel of 9 taps
    (3 groups) costs 12 products over half the rows, i.e. 1.5x fewer multiply-adds than 9 over
    all rows; the input transforms are 4 element-wise passes, the products read every other row.

    ``transformed`` is (4, G, C, O) from :func:`winograd_taps`: the products are ``baddbmm`` on
    strided row windows (MKL). Or it is (4, O, C, 1, G) from :func:`winograd_filters`: each
    component's products are then one oneDNN ``conv2d`` over the transformed rows, stride 2 and
    dilation 3 (output pair ``i`` and group ``g`` read the tile at row ``2 i + 3 g``).
    """
    batch, n, channels = x.shape
    onednn = transformed.dim() == 5
    groups, width = (transformed.shape[-1], transformed.shape[1]) if onednn else transformed.shape[1::2]
    rows = left + n + right - (kernel - 1)
    half = -(-rows // 2)
    total = 2 * half + 3 * groups - 1  # padded rows the last output pair's last group reads
    padded = F.pad(x, (0, 0, left, total - n - left))
    a, b, c, d = padded[:, :-3], padded[:, 1:-2], padded[:, 2:-1], padded[:, 3:]
    out = x.new_empty(batch, half, 2, width)
    even, odd = out[:, :, 0], out[:, :, 1]
    # one transformed input and one product alive at a time (activation memory), folded into the outputs
    for j, transform in enumerate((torch.sub, torch.add, lambda p, q: torch.sub(q, p), torch.sub)):
        tiles = transform(*((a, c), (b, c), (b, c), (b, d))[j])
        if onednn:  # (B, O, 1, half) channels-last: (B, half, O) rows
            m = _to_rows(F.conv2d(_from_rows(tiles), transformed[j], stride=(1, 2), dilation=(1, 3)))
        else:  # output pair i, group g reads the tile starting at row 2 i + 3 g
            m = torch.bmm(tiles[:, 0 : 2 * half : 2], transformed[j, 0].expand(batch, -1, -1))
            for g in range(1, groups):
                m.baddbmm_(tiles[:, 3 * g : 3 * g + 2 * half : 2], transformed[j, g].expand(batch, -1, -1))
        del tiles
        if j == 0:  # y0 = m0 + m1 + m2, y1 = m1 - m2 - m3
            even.copy_(m)
        elif j == 1:
            even.add_(m)
            odd.copy_(m)
        elif j == 2:
            even.add_(m)
            odd.sub_(m)
        else:
            odd.sub_(m)
        del m
    if bias is not None:
        out.add_(bias)
    out = out.view(batch, 2 * half, width)
    return out if rows == 2 * half else out[:, :rows].contiguous()


def winograd_filters(taps: torch.Tensor) -> torch.Tensor:
    """Per-tap matrices (k, C, O) -> the Winograd transforms of :func:`winograd_taps` as 4 conv2d
    weights (4, O, C, 1, G), each channels-last (the layout oneDNN reads without a reorder of the input)."""
    transformed = winograd_taps(taps)  # (4, G, C, O)
    four, groups, channels, width = transformed.shape
    stacked = transformed.permute(0, 3, 1, 2).contiguous()  # (4, O, G, C) in memory
    return stacked.view(four, width, 1, groups, channels).permute(0, 1, 4, 2, 3)


def conv_unfolded(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int, left: int, right: int) -> torch.Tensor:
    """:func:`conv_rows` for a few rows with the weight in its Conv1d layout (out, in, k), not copied.

    The (in, k) windows are unfolded and multiplied by the weight viewed as (out, in * k),
    transposed; for the merged pairs' edge corrections (a handful of rows), where a per-call
    weight reorder would cost more than the product.
    """
    batch, n, channels = x.shape
    width, _, kernel = weight.shape
    padded = F.pad(x, (0, 0, left, right)) if left or right else x.contiguous()
    rows = padded.shape[1] - dilation * (kernel - 1)
    windows = padded.as_strided((batch, rows, channels, kernel), (padded.stride(0), channels, 1, dilation * channels))
    flat, matrix = windows.reshape(batch * rows, channels * kernel), weight.reshape(width, channels * kernel).T
    out = torch.addmm(bias, flat, matrix) if bias is not None else flat @ matrix
    return out.view(batch, rows, width)


def _to_rows(x: torch.Tensor) -> torch.Tensor:
    """(B, C, 1, L) channels-last -> (B, L, C) rows (a view; a copy only for other layouts)."""
    batch, channels, _, n = x.shape
    return x.permute(0, 2, 3, 1).reshape(batch, n, channels)


def _from_rows(rows: torch.Tensor) -> torch.Tensor:
    """(B, L, C) rows -> (B, C, 1, L) with channels-last strides (a view)."""
    return rows.unsqueeze(1).permute(0, 3, 1, 2)


class _Conv:
    """One length-preserving convolution (optionally followed by ReLU) on (B, C, 1, L) tensors.

    On CPU the ``engine`` (see :data:`ENGINES`) decides: ``"gemm"`` runs it as matrix products
    on the channels-last rows (:func:`conv_rows`, or :func:`conv_winograd` for undilated wide
    kernels); ``"winograd"`` runs the undilated wide kernels as :func:`conv_winograd` with
    oneDNN products and the others as oneDNN's ``conv2d``; ``"conv2d"`` always uses ``conv2d``
    (also for a merged pair's parts, and on GPUs, where cuDNN picks its own algorithm).
    """

    def __init__(self, conv: nn.Conv1d, relu: bool, engine: str = "auto"):
        self.engine = resolve_engine(engine)
        (kernel,), (dilation,), (padding,) = conv.kernel_size, conv.dilation, conv.padding
        self.radius = dilation * (kernel - 1) // 2
        if padding != self.radius or conv.stride != (1,) or kernel % 2 == 0:
            raise ValueError("the Sei fast path expects length-preserving convolutions")
        self.dilation = dilation
        self.relu = relu
        self.weight = _weight_2d(conv.weight)
        self.bias = conv.bias.detach() if conv.bias is not None else None
        self.kernel = kernel
        self._taps = self._cpu_weights(conv.weight)
        self._conv2d_layout()

    def _conv2d_layout(self) -> None:
        """On the winograd engine, a weight that ``conv2d`` reads is copied once to channels-last:
        ``conv2d`` would otherwise convert it to its input's layout on every call (2-3 ms for a
        dilated Sei layer, as much as a one-strand task's 2-tap product)."""
        if self.engine == "winograd" and not self._taps and self.weight.device.type == "cpu":
            self.weight = self.weight.contiguous(memory_format=torch.channels_last)

    def _cpu_weights(self, weight: torch.Tensor) -> dict[torch.dtype, torch.Tensor]:
        """The CPU engine's weights by dtype: per-tap matrices, or their Winograd transforms for
        undilated wide kernels (see :func:`conv_winograd`); none where ``conv2d`` reads the weight as is."""
        if self.engine == "conv2d" or weight.device.type != "cpu":
            return {}
        wide = self.dilation == 1 and self.kernel >= 5 and weight.shape[1] >= NARROW_INPUT
        if self.engine == "winograd":
            return {weight.dtype: winograd_filters(_taps(weight))} if wide else {}
        return {weight.dtype: winograd_taps(_taps(weight)) if wide else _taps(weight)}

    def taps(self, dtype: torch.dtype) -> torch.Tensor:
        if dtype not in self._taps:  # autocast: the taps in the compute dtype, made once
            self._taps[dtype] = next(iter(self._taps.values())).to(dtype)
        return self._taps[dtype]

    def apply(self, x: torch.Tensor, left: int, right: int, out_start: int, length: int) -> torch.Tensor:
        """Convolve a window of the input zero-padded by ``left``/``right`` (only at the tensor's ends)."""
        if self._taps and x.device.type == "cpu":
            out = self._products(x, left, right)
        else:
            if left or right:
                x = F.pad(x, (left, right))
            out = F.conv2d(x, self.weight, self.bias, dilation=(1, self.dilation))
        return F.relu_(out) if self.relu else out

    def _products(self, x: torch.Tensor, left: int, right: int) -> torch.Tensor:
        dtype = _compute_dtype(x)
        bias = self.bias.to(dtype) if self.bias is not None else None
        rows, taps = _to_rows(x).to(dtype), self.taps(dtype)
        if taps.dim() >= 4:
            return _from_rows(conv_winograd(rows, taps, bias, self.kernel, left, right))
        return _from_rows(conv_rows(rows, taps, bias, self.dilation, left, right))


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.get_autocast_dtype("cpu") if x.device.type == "cpu" and torch.is_autocast_enabled("cpu") else x.dtype


class _ConvPair(_Conv):
    """``conv_b(conv_a(x))`` with no activation in between, run as one merged convolution.

    The merged kernel is ``W[t] = sum_{a + b = t} W_b[b] @ W_a[a]`` and the merged bias
    ``b_b + sum_b W_b[b] @ b_a``. Zero padding differs: the original pads ``conv_a``'s output
    with zeros, the merged convolution instead sees ``conv_a`` evaluated past the ends. Output
    positions within ``conv_b``'s radius of an end are corrected by subtracting ``conv_b``
    applied to those would-be values (which depend only on the first ``radius_a`` inputs).
    """

    def __init__(self, conv_a: nn.Conv1d, conv_b: nn.Conv1d, engine: str = "auto"):
        self.engine = resolve_engine(engine)
        self.a, self.b = _Conv(conv_a, relu=False, engine="conv2d"), _Conv(conv_b, relu=False, engine="conv2d")
        if self.a.dilation != 1 or self.b.dilation != 1:
            raise ValueError("merged convolution pairs must be undilated")
        self.radius = self.a.radius + self.b.radius
        self.dilation = 1
        self.relu = False
        wa, wb = conv_a.weight.detach(), conv_b.weight.detach()  # (mid, in, ka), (out, mid, kb)
        ka, kb = wa.shape[-1], wb.shape[-1]
        merged = wa.new_zeros(wb.shape[0], wa.shape[1], ka + kb - 1)
        for b in range(kb):
            # every tap a of conv_a pairs with tap b of conv_b at merged tap a + b
            merged[:, :, b : b + ka] += torch.einsum("om,mik->oik", wb[:, :, b], wa)
        bias = conv_b.bias.detach() + wb.sum(-1) @ conv_a.bias.detach()
        self.weight, self.bias = _weight_2d(merged), bias
        self.kernel = ka + kb - 1
        self._taps = self._cpu_weights(merged)
        self._conv2d_layout()
        self.wb_no_bias = self.b.weight

    def _edge(self, x_end: torch.Tensor, left_edge: bool) -> torch.Tensor:
        """``conv_b`` (no bias) applied to ``conv_a``'s values just outside one end, for the
        ``radius_b`` output positions next to that end. ``x_end``: the first (or last) ``radius_a`` inputs."""
        ra, rb = self.a.radius, self.b.radius
        if self.engine != "conv2d" and x_end.device.type == "cpu":
            dtype = _compute_dtype(x_end)
            wa, wb = self.a.weight.squeeze(2).to(dtype), self.wb_no_bias.squeeze(2).to(dtype)
            left, right = (ra + rb, 0) if left_edge else (0, ra + rb)
            outside = conv_unfolded(_to_rows(x_end).to(dtype), wa, self.a.bias.to(dtype), 1, left, right)
            left, right = (0, 2 * rb) if left_edge else (2 * rb, 0)
            return _from_rows(conv_unfolded(outside, wb, None, 1, left, right))
        pad = (ra + rb, 0) if left_edge else (0, ra + rb)
        outside = F.conv2d(F.pad(x_end, pad), self.a.weight, self.a.bias)  # conv_a at the rb positions past the end
        pad = (0, 2 * rb) if left_edge else (2 * rb, 0)
        return F.conv2d(F.pad(outside, pad), self.wb_no_bias)

    def apply(self, x: torch.Tensor, left: int, right: int, out_start: int, length: int) -> torch.Tensor:
        out = super().apply(x, left, right, out_start, length)
        ra, rb = self.a.radius, self.b.radius
        out_stop = out_start + out.shape[-1]
        if out_start < rb:  # the window starts at the tensor's start
            stop = min(rb, out_stop)
            out[..., : stop - out_start] -= self._edge(x[..., :ra], True)[..., out_start:stop]
        if out_stop > length - rb:  # the window ends at the tensor's end
            first, edge_start = max(out_start, length - rb), length - rb
            fix = self._edge(x[..., x.shape[-1] - ra :], False)
            out[..., first - out_start :] -= fix[..., first - edge_start : out_stop - edge_start]
        return out


class _Pool:
    """Non-overlapping floor max-pooling along the length."""

    def __init__(self, pool: nn.MaxPool1d):
        size = pool.kernel_size if isinstance(pool.kernel_size, int) else pool.kernel_size[0]
        stride = pool.stride if isinstance(pool.stride, int) else pool.stride[0]
        if size != stride or pool.padding not in (0, (0,)) or pool.ceil_mode:
            raise ValueError("the Sei fast path expects non-overlapping floor max-pooling")
        self.size = size

    def dense(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, (1, self.size), (1, self.size))


def _compile_block(block: nn.Sequential, engine: str = "auto") -> list:
    """A trunk block as fast-path operations: dropout dropped, ReLU fused into its conv, conv pairs merged."""
    layers = [layer for layer in block if not isinstance(layer, nn.Dropout)]
    ops, i = [], 0
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, nn.Conv1d) and isinstance(nxt, nn.Conv1d) and _merging_saves(layer, nxt):
            ops.append(_ConvPair(layer, nxt, engine))
            i += 2
        elif isinstance(layer, nn.Conv1d):
            relu = isinstance(nxt, nn.ReLU)
            ops.append(_Conv(layer, relu, engine))
            i += 2 if relu else 1
        elif isinstance(layer, nn.MaxPool1d):
            ops.append(_Pool(layer))
            i += 1
        else:
            raise TypeError(f"unsupported layer in Sei trunk: {layer}")
    return ops


def _merging_saves(a: nn.Conv1d, b: nn.Conv1d) -> bool:
    """Merge only undilated pairs whose merged kernel costs fewer multiply-adds than the two."""
    if a.dilation != (1,) or b.dilation != (1,):
        return False
    ka, kb = a.kernel_size[0], b.kernel_size[0]
    separate = a.in_channels * a.out_channels * ka + b.in_channels * b.out_channels * kb
    return a.in_channels * b.out_channels * (ka + kb - 1) < separate


@dataclasses.dataclass
class _Act:
    """An activation equal to the background ``bg`` (1, C, 1, L) except on ``[lo, hi)`` (``patch``)."""

    bg: torch.Tensor
    patch: torch.Tensor  # (B, C, 1, hi - lo)
    lo: int
    hi: int

    @property
    def length(self) -> int:
        return self.bg.shape[-1]

    def window(self, start: int, stop: int) -> torch.Tensor:
        """Values on ``[start, stop)``: the patch where it lies, the background elsewhere."""
        batch = self.patch.shape[0]
        lo, hi = max(self.lo, start), min(self.hi, stop)
        if hi <= lo:
            return self.bg[..., start:stop].expand(batch, -1, -1, -1)
        parts = []
        if start < lo:
            parts.append(self.bg[..., start:lo].expand(batch, -1, -1, -1))
        parts.append(self.patch[..., lo - self.lo : hi - self.lo])
        if stop > hi:
            parts.append(self.bg[..., hi:stop].expand(batch, -1, -1, -1))
        out = torch.cat(parts, dim=3) if len(parts) > 1 else parts[0]
        return out.contiguous(memory_format=torch.channels_last)

    def dense(self) -> torch.Tensor:
        return self.window(0, self.length)


class PaddedTrunk:
    """Runs ``model.trunk`` for inference: merged, channels-last, reusing a cached all-N background.

    Calling it equals ``model.trunk(x)`` up to float rounding; :meth:`dense` is the same without
    padding reuse. The compiled weights and backgrounds are rebuilt whenever the model's
    parameters change (fine-tuning, ``load_state_dict``, moving devices).
    """

    def __init__(self, model: Sei, max_positions: int = MAX_POSITIONS, engine: str = "auto", tasks_per_worker: int = TASKS_PER_WORKER):
        self.model = model
        #: how CPU convolutions run (see :data:`ENGINES`); "conv2d" is kept to measure the difference
        self.engine = resolve_engine(engine)
        self.tasks_per_worker = max(1, int(tasks_per_worker))
        self.max_positions = int(max_positions)
        self._backgrounds: dict[tuple, list[torch.Tensor]] = {}
        self._ops: dict[str, list] | None = None
        self._stamp: tuple | None = None

    def _plan(self) -> dict[str, list]:
        stamp = tuple((p.data_ptr(), p._version, p.device, p.dtype) for p in self.model.parameters())
        if self._ops is None or stamp != self._stamp:
            with torch.no_grad():
                self._ops = {name: _compile_block(getattr(self.model, name), self.engine) for name in BLOCKS}
            self._stamp = stamp
            self._backgrounds.clear()
        return self._ops

    # --- the layer graph of Sei.trunk, written once for the dense and the patched walk ------------
    def _graph(self, x, walk):
        ops = self._plan()
        lout1 = walk.seq(ops["lconv1"], x)
        out1 = walk.seq(ops["conv1"], lout1)
        lout2 = walk.seq(ops["lconv2"], walk.add(out1, lout1))
        out2 = walk.seq(ops["conv2"], lout2)
        lout3 = walk.seq(ops["lconv3"], walk.add(out2, lout2))
        out3 = walk.seq(ops["conv3"], lout3)
        cum = walk.add(out3, walk.seq(ops["dconv1"], walk.add(out3, lout3)))
        for name in ("dconv2", "dconv3", "dconv4", "dconv5"):
            cum = walk.add(cum, walk.seq(ops[name], cum))
        return cum

    def _check(self) -> None:
        if self.model.training:
            raise RuntimeError("PaddedTrunk is for inference; call model.trunk() when training")

    def background(self, length: int, device: torch.device, dtype: torch.dtype) -> list[torch.Tensor]:
        self._plan()
        key = (length, str(device), dtype, torch.is_autocast_enabled(device.type))
        if key not in self._backgrounds:
            recorder = _Dense(keep=True)
            self._graph(_as_2d(torch.full((1, 4, length), N_VALUE, device=device, dtype=dtype)), recorder)
            self._backgrounds[key] = recorder.outputs
        return self._backgrounds[key]

    def dense(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, L) -> (B, C3, L // 16) over every position, in chunks of ``max_positions``.

        On a CPU with several torch threads the chunks run as single-threaded tasks in parallel
        (:mod:`genofm.backbones.threads`), each at most ``max_positions / threads`` positions, and
        at least two tasks per thread when the batch allows: on a shared machine a thread that
        loses its core for a while then takes fewer tasks instead of holding up the others. A
        task holds at least ``MIN_TASK_ROWS`` sequences when every worker still gets one.
        """
        self._check()
        self._plan()
        workers = cpu_workers(x.device)
        per_task = -(-x.shape[0] // (self.tasks_per_worker * workers)) if workers > 1 else x.shape[0]
        # but not one strand per task while two can go to each worker: per strand that costs 1.2x
        # (the per-call weight reorders and loop overheads are paid for half the work)
        per_task = max(per_task, min(MIN_TASK_ROWS, -(-x.shape[0] // workers)))
        rows = max(1, min(self.max_positions // max(1, x.shape[-1]) // workers, per_task))
        tasks = [functools.partial(self._dense_chunk, chunk) for chunk in x.split(rows)]
        outs = run_tasks(tasks, workers)
        return _as_1d(torch.cat(outs) if len(outs) > 1 else outs[0])

    def _dense_chunk(self, x: torch.Tensor) -> torch.Tensor:
        return self._graph(_as_2d(x), _Dense())

    def _patched_rows(self, x: torch.Tensor, bg: list[torch.Tensor], lo: int, hi: int) -> torch.Tensor:
        length = x.shape[-1]
        start = _Act(bg=_as_2d(torch.full((1, 4, length), N_VALUE, device=x.device, dtype=x.dtype)),
                     patch=_as_2d(x[:, :, lo:hi]), lo=lo, hi=hi)
        return self._graph(start, _Patched(bg)).dense()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, L) one-hot with 0.25 for N -> (B, C3, L // 16), equal to ``model.trunk(x)``."""
        self._check()
        length = x.shape[-1]
        informative = (x != N_VALUE).any(dim=1).any(dim=0)
        where = torch.nonzero(informative).flatten()
        if where.numel() == 0:
            lo = hi = 0
        else:
            lo, hi = int(where[0]), int(where[-1]) + 1
        if hi - lo > 0.9 * length:  # little to save: the dense walk is simpler and as fast
            return self.dense(x)
        bg = self.background(length, x.device, x.dtype)  # computed here, shared read-only by the tasks
        workers = cpu_workers(x.device)
        tasks = [functools.partial(self._patched_rows, part, bg, lo, hi) for part in x.tensor_split(min(workers, x.shape[0]))]
        outs = run_tasks(tasks, workers)
        return _as_1d(torch.cat(outs) if len(outs) > 1 else outs[0])


def _as_1d(h: torch.Tensor) -> torch.Tensor:
    return h.squeeze(2).contiguous()


class _Dense:
    """Dense walk; with ``keep`` it records every op's output (the all-N background)."""

    def __init__(self, keep: bool = False):
        self.keep = keep
        self.outputs: list[torch.Tensor] = []

    def _out(self, t: torch.Tensor) -> torch.Tensor:
        if self.keep:
            self.outputs.append(t)
        return t

    def seq(self, ops: list, x: torch.Tensor) -> torch.Tensor:
        for op in ops:
            if isinstance(op, _Pool):
                x = self._out(op.dense(x))
            else:
                length = x.shape[-1]
                x = self._out(op.apply(x, op.radius, op.radius, 0, length))
        return x

    def add(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self._out(a + b)


class _Patched:
    """Patched walk: each op is evaluated on the span the sequence can influence."""

    def __init__(self, backgrounds: list[torch.Tensor]):
        self.backgrounds = backgrounds
        self.index = 0

    def _next_bg(self) -> torch.Tensor:
        bg = self.backgrounds[self.index]
        self.index += 1
        return bg

    def seq(self, ops: list, act: _Act) -> _Act:
        for op in ops:
            act = self._pool(op, act) if isinstance(op, _Pool) else self._conv(op, act)
        return act

    def _empty(self, bg: torch.Tensor, like: torch.Tensor) -> _Act:
        return _Act(bg, like.new_empty(like.shape[0], bg.shape[1], 1, 0), 0, 0)

    def _conv(self, op: _Conv, act: _Act) -> _Act:
        bg = self._next_bg()
        if act.hi <= act.lo:
            return self._empty(bg, act.patch)
        length, radius = act.length, op.radius
        lo, hi = max(0, act.lo - radius), min(length, act.hi + radius)
        start, stop = max(0, lo - radius), min(length, hi + radius)
        left, right = radius - (lo - start), radius - (stop - hi)
        return _Act(bg, op.apply(act.window(start, stop), left, right, lo, length), lo, hi)

    def _pool(self, op: _Pool, act: _Act) -> _Act:
        bg = self._next_bg()
        size = op.size
        lo, hi = act.lo // size, min(bg.shape[-1], -(-act.hi // size))
        if act.hi <= act.lo or hi <= lo:
            return self._empty(bg, act.patch)
        return _Act(bg, op.dense(act.window(lo * size, hi * size)), lo, hi)

    def add(self, a: _Act, b: _Act) -> _Act:
        bg = self._next_bg()
        spans = [(s.lo, s.hi) for s in (a, b) if s.hi > s.lo]
        if not spans:
            return _Act(bg, a.patch, 0, 0)
        lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
        return _Act(bg, a.window(lo, hi) + b.window(lo, hi), lo, hi)
