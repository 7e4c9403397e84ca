"""The Sei network (Chen et al., Nature Genetics 2022) in plain PyTorch.

Module names, ``nn.Sequential`` layouts and layer positions follow the official release so that
the state-dict keys of a downloaded ``sei.pth`` (after stripping its ``module.model.`` prefix)
load with strict matching: ``lconv1.{0,1}``, ``conv1.{0,2}``, ``lconv2.{2,3}``, ``conv2.{1,3}``,
``lconv3.{2,3}``, ``conv3.{1,3}``, ``dconv{1..5}.1`` and ``classifier.{0,2}``. Widths are
parameters so tests can build a tiny Sei with the same topology and key names.

The B-spline basis that turns the trunk's positions into 16 smooth positional summaries is not
stored in the checkpoint: it is derived from the spatial length the trunk produces, which is what
lets the network run on windows shorter than its native 4,096 bp (the intron-retention study
used 600 bp).
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import torch
from torch import nn

#: channel widths of the three resolution levels in the published model
SEI_CHANNELS = (480, 640, 960)
#: number of chromatin profiles the published model predicts
SEI_TARGETS = 21907
#: degrees of freedom of the spatial B-spline basis
SEI_SPLINE_DF = 16
#: total down-sampling of the two max-pool layers
POOL_FACTOR = 16
#: dilation of each ``dconv`` block (padding = 2 x dilation keeps the length with kernel 5)
DILATIONS = (2, 4, 8, 16, 25)


@functools.lru_cache(maxsize=64)
def _spline_basis_array(length: int, df: int, degree: int) -> np.ndarray:
    from scipy.interpolate import BSpline

    if length < 2:
        raise ValueError(f"a B-spline basis needs at least 2 positions, got {length}")
    x = np.arange(length, dtype=np.float64)
    n_inner = df - degree - 1  # the basis includes the intercept, so df = inner knots + order
    if n_inner < 0:
        raise ValueError(f"df={df} is too small for a degree-{degree} spline with intercept")
    inner = np.percentile(x, 100.0 * np.linspace(0.0, 1.0, n_inner + 2)[1:-1])
    knots = np.concatenate([[x[0]] * (degree + 1), inner, [x[-1]] * (degree + 1)])
    basis = BSpline.design_matrix(x, knots, degree).toarray()
    basis = np.ascontiguousarray(basis, dtype=np.float32)
    basis.setflags(write=False)
    return basis


def bspline_basis(length: int, df: int = SEI_SPLINE_DF, degree: int = 3) -> np.ndarray:
    """Cubic B-spline basis over positions ``0..length-1``, shape ``(length, df)``.

    Interior knots sit at evenly spaced percentiles of the positions and the boundary knots are
    repeated ``degree + 1`` times, matching the basis Sei was trained with; rows sum to one. The
    result is cached per length because every batch of one run shares it.
    """
    return _spline_basis_array(int(length), int(df), int(degree))


class BSplineTransformation(nn.Module):
    """Project (B, C, L) activations onto the spline basis: one matmul giving (B, C, df).

    Holds no parameters (the official checkpoint has none here); the basis tensor is cached per
    length, device and dtype so repeated batches do not rebuild or re-upload it.
    """

    def __init__(self, degrees_of_freedom: int = SEI_SPLINE_DF):
        super().__init__()
        self.df = degrees_of_freedom
        self._cache: dict[tuple, torch.Tensor] = {}

    def basis(self, length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        key = (length, str(device), dtype)
        tensor = self._cache.get(key)
        if tensor is None:
            tensor = torch.from_numpy(bspline_basis(length, self.df).copy()).to(device=device, dtype=dtype)
            self._cache[key] = tensor
        return tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.basis(x.shape[-1], x.device, x.dtype))


def _conv(cin: int, cout: int, kernel: int = 9, dilation: int = 1) -> nn.Conv1d:
    return nn.Conv1d(cin, cout, kernel_size=kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)


class Sei(nn.Module):
    """Sei: residual conv trunk, dilated conv tower, spline pooling, two-layer classifier.

    ``channels`` are the widths of the three resolution levels (480, 640, 960 published);
    ``n_targets`` the number of chromatin profiles (21,907); ``classifier=False`` builds the trunk
    only, for feature extraction or fine-tuning without the 3.3 GB output layers.
    """

    def __init__(
        self,
        channels: Sequence[int] = SEI_CHANNELS,
        n_targets: int = SEI_TARGETS,
        spline_df: int = SEI_SPLINE_DF,
        classifier: bool = True,
    ):
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        self.channels = (c1, c2, c3)
        self.n_targets = int(n_targets)
        self.spline_df = int(spline_df)
        self.lconv1 = nn.Sequential(_conv(4, c1), _conv(c1, c1))
        self.conv1 = nn.Sequential(_conv(c1, c1), nn.ReLU(inplace=True), _conv(c1, c1), nn.ReLU(inplace=True))
        self.lconv2 = nn.Sequential(nn.MaxPool1d(4, 4), nn.Dropout(0.2), _conv(c1, c2), _conv(c2, c2))
        self.conv2 = nn.Sequential(nn.Dropout(0.2), _conv(c2, c2), nn.ReLU(inplace=True), _conv(c2, c2), nn.ReLU(inplace=True))
        self.lconv3 = nn.Sequential(nn.MaxPool1d(4, 4), nn.Dropout(0.2), _conv(c2, c3), _conv(c3, c3))
        self.conv3 = nn.Sequential(nn.Dropout(0.2), _conv(c3, c3), nn.ReLU(inplace=True), _conv(c3, c3), nn.ReLU(inplace=True))
        for i, dilation in enumerate(DILATIONS, start=1):
            block = nn.Sequential(nn.Dropout(0.1), _conv(c3, c3, kernel=5, dilation=dilation), nn.ReLU(inplace=True))
            setattr(self, f"dconv{i}", block)
        self.spline_tr = nn.Sequential(nn.Dropout(0.5), BSplineTransformation(self.spline_df))
        if classifier:
            self.classifier = nn.Sequential(
                nn.Linear(c3 * self.spline_df, self.n_targets),
                nn.ReLU(inplace=True),
                nn.Linear(self.n_targets, self.n_targets),
                nn.Sigmoid(),
            )
        else:
            self.classifier = None

    @staticmethod
    def trunk_length(length: int) -> int:
        """Spatial length after the two floor-rounding max-pools (4096 -> 256, 600 -> 37)."""
        return (int(length) // 4) // 4

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, L) one-hot -> (B, C3, L // 16) activations of the dilated tower."""
        lout1 = self.lconv1(x)
        out1 = self.conv1(lout1)
        lout2 = self.lconv2(out1 + lout1)
        out2 = self.conv2(lout2)
        lout3 = self.lconv3(out2 + lout2)
        out3 = self.conv3(lout3)
        cum = out3 + self.dconv1(out3 + lout3)
        for block in (self.dconv2, self.dconv3, self.dconv4, self.dconv5):
            cum = cum + block(cum)
        return cum

    def spline_features(self, h: torch.Tensor) -> torch.Tensor:
        """(B, C3, L') trunk output -> (B, C3 * df) channel-major spline summaries."""
        out = self.spline_tr(h)
        return out.reshape(out.shape[0], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, L) one-hot -> (B, n_targets) chromatin-profile probabilities."""
        if self.classifier is None:
            raise RuntimeError("this Sei was built without its classifier; use trunk() / spline_features()")
        return self.classifier(self.spline_features(self.trunk(x)))
