"""Sei (Chen et al., Nature Genetics 2022) as a feature extractor for sequence classification.

Sei predicts 21,907 chromatin profiles (TF binding, histone marks, accessibility across cell
types) from 4 kb of sequence. The intron-retention study this package builds on (Daoud &
Ben-Hur 2025) used those predictions, computed on 600 bp windows, as interpretable features for
a linear head: each coefficient then names a cell type, an assay and a data source.

Outputs (``-O output=``):

* ``chromatin`` (default): the 21,907 post-sigmoid probabilities, named ``cell | assay | source``
  as in ``target.names``; feature groups ``tf``, ``histone``, ``accessibility`` (see
  :mod:`genofm.backbones.sei_targets`).
* ``seqclass``: the 40 named sequence-class scores (``preds @ P.T / ||P_row||`` with
  ``projvec_targets.npy``), named as in ``seqclass.names``.
* ``trunk``: the 15,360 spline features the classifier reads (960 channels x 16 smooth
  positional summaries, channel-major, ``trunk_cCCC_sKK``); needs only ``sei.pth``.
* ``trunk_mean``: the 960 trunk channels averaged over positions (``trunk_cCCC_mean``).

Strands: like the official predictions, the sequence and its reverse complement go through the
network in one batched pass and the outputs are averaged (``strand_average``, default on), so
``--rc-average`` adds nothing (``averages_strands``). For ``trunk`` the reverse strand's spline
summaries are reversed first so that both describe the same genomic stretch.

Memory: the full model holds ~890M float32 parameters (3.3 GiB, almost all in the classifier).
The checkpoint is memory-mapped and assigned without a copy, so RAM use is the file's pages
plus activations: the inference trunk (:mod:`genofm.backbones.sei_fastpath`) runs dense batches
in chunks of 4 strands at 4,096 bp and keeps ~0.33 GB of per-tap CPU weights, so the peak stays
near weights + 0.9 GB whatever the batch size (measured for the default batch of 16 with both
strands); ~7 MB for a 200 bp
sequence with ``reuse_padding``; ``trunk`` outputs never read the classifier. On a
GPU the weights need ~3.3 GiB of device memory and bf16 autocast roughly halves activations.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from genofm.backbones.base import Backbone, BackboneOptions
from genofm.backbones.sei_fastpath import N_VALUE, PaddedTrunk
from genofm.backbones.sei_model import POOL_FACTOR, Sei
from genofm.backbones.sei_release import SeiRelease, load_sei, open_release
from genofm.backbones.sei_targets import feature_groups
from genofm.device import autocast
from genofm.errors import GenofmError
from genofm.options import option
from genofm.sequence import one_hot

log = logging.getLogger("genofm.sei")

OUTPUTS = ("chromatin", "seqclass", "trunk", "trunk_mean")


@dataclasses.dataclass
class SeiOptions(BackboneOptions):
    output: str = option("chromatin", "chromatin (21,907 profile probabilities), seqclass (40 sequence-class scores), "
                                      "trunk (15,360 spline features) or trunk_mean (960 position-averaged channels)")
    length: int = option(4096, "window in bp: sequences are centre-padded with N or centre-cropped to it; 4096 is native, "
                               "shorter windows (e.g. 600 as in the intron-retention study) work because the spline adapts; at least 256")
    strand_average: bool = option(True, "average outputs over the sequence and its reverse complement, as the official predictions do")
    reuse_padding: bool = option(True, "compute the N padding around short sequences once and reuse it (same result up to rounding, much "
                                       "faster for short sequences in a long window)")


def validate_length(length: int, df: int = 16) -> None:
    """Sei's spline needs at least ``df`` trunk positions, i.e. 16 * df bp."""
    minimum = POOL_FACTOR * df
    if length < minimum:
        raise GenofmError(f"backbone 'sei' option length={length} is too short: the trunk needs at least {minimum} bp (set -O length=256 or more)")
    if length % POOL_FACTOR:
        log.info(
            "sei: length %d is not a multiple of %d; like the official model, pooling drops the last %d positions "
            "before the dilated layers (they still reach the output through the first convolutions)",
            length, POOL_FACTOR, length % POOL_FACTOR,
        )


class SeiBackbone(Backbone):
    name = "sei"
    feature_help = (
        "`cell | assay | source` (`-O output=chromatin`, the default): Sei's predicted probability of that chromatin "
        "profile, e.g. `K562 | CTCF | ENCODE` (TF binding, histone mark or accessibility in one cell type), named as in "
        "the release's target.names. `-O output=seqclass`: the 40 Sei sequence classes by name (e.g. `P Promoter`, "
        "`E1 Stem cell`), each the projection of the 21,907 predictions on that class's vector. `trunk_cCCC_sKK`: "
        "channel CCC of the network's last convolution, KK-th smooth positional summary; `trunk_cCCC_mean`: channel "
        "CCC averaged over positions (trunk channels have no biological name)."
    )
    Options = SeiOptions
    needs_weights = True
    default_batch_size = 16
    averages_strands = True

    def __init__(self, options: SeiOptions, weights: Path | None, device="cpu", precision: str = "fp32"):
        super().__init__(options, weights, device, precision)
        if options.output not in OUTPUTS:
            raise GenofmError(f"backbone 'sei' option output={options.output!r} is not one of {', '.join(OUTPUTS)}")
        trunk_only = options.output in ("trunk", "trunk_mean")
        release = open_release(self.weights, need_metadata=not trunk_only)
        self._setup(load_sei(release.checkpoint, classifier=not trunk_only), release)

    @classmethod
    def from_model(cls, model: Sei, options: SeiOptions, release: SeiRelease | None = None, device="cpu", precision: str = "fp32") -> "SeiBackbone":
        """Wrap an in-memory Sei (benchmarks, random full-size models); names need ``release``."""
        self = cls.__new__(cls)
        self.options, self.weights, self.device, self.precision = options, None, device, precision
        if options.output not in OUTPUTS:
            raise GenofmError(f"backbone 'sei' option output={options.output!r} is not one of {', '.join(OUTPUTS)}")
        self._setup(model.eval(), release)
        return self

    def _setup(self, model: Sei, release: SeiRelease | None) -> None:
        options = self.options
        self.averages_strands = bool(options.strand_average)
        self.release = release
        self.model: Sei = model.to(self.device)
        validate_length(options.length, self.model.spline_df)
        if options.output in ("chromatin", "seqclass") and self.model.classifier is None:
            raise GenofmError(f"backbone 'sei' option output={options.output} needs the classifier layers of sei.pth")
        if release is not None and release.targets is not None:
            n_names = len(release.targets)
            if n_names != self.model.n_targets:
                raise GenofmError(
                    f"{self.weights}: target.names lists {n_names} profiles but sei.pth predicts {self.model.n_targets}; "
                    "the files come from different releases"
                )
            n_classes = len(release.seqclass_names)
            proj = torch.from_numpy(np.asarray(release.projection[:n_classes], dtype=np.float32))
            self._projection = (proj / proj.norm(dim=1, keepdim=True).clamp_min(1e-12)).to(self.device)
        elif options.output == "seqclass":
            raise GenofmError("backbone 'sei' option output=seqclass needs projvec_targets.npy and seqclass.names from the release folder")
        self._padded = PaddedTrunk(self.model)

    # --- what the tools use -------------------------------------------------------------
    @property
    def input_length(self) -> int:
        return self.options.length

    @property
    def feature_names(self) -> list[str]:
        output = self.options.output
        if output == "chromatin":
            if self.release is None or self.release.targets is None:
                return [f"sei_target_{i:05d}" for i in range(self.model.n_targets)]
            return [t.name for t in self.release.targets]
        if output == "seqclass":
            return list(self.release.seqclass_names)
        channels = self.model.channels[2]
        if output == "trunk_mean":
            return [f"trunk_c{c:03d}_mean" for c in range(channels)]
        return [f"trunk_c{c:03d}_s{k:02d}" for c in range(channels) for k in range(self.model.spline_df)]

    def feature_groups(self) -> dict[str, np.ndarray]:
        if self.options.output != "chromatin" or self.release is None or self.release.targets is None:
            return {}
        return feature_groups(self.release.targets, self.release.histone_inds)

    def provenance(self) -> dict[str, Any]:
        prov = super().provenance()
        prov["sei"] = {
            "channels": list(self.model.channels),
            "n_targets": self.model.n_targets,
            "spline_df": self.model.spline_df,
            "trunk_length": Sei.trunk_length(self.options.length),
            "strands_averaged": self.averages_strands,
        }
        return prov

    def one_hot(self, sequences: Sequence[str]) -> torch.Tensor:
        """(B, 4, length) A/C/G/T one-hot, 0.25 in every channel for N and padding (as upstream)."""
        return torch.from_numpy(one_hot(list(sequences), self.options.length, unknown=N_VALUE))

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The inference trunk (merged, channels-last convolutions); with ``reuse_padding`` also the cached N background."""
        return self._padded(x) if self.options.reuse_padding else self._padded.dense(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, L) one-hot -> (B, n_features) for the configured output, strands averaged if set."""
        batch = x.shape[0]
        if self.averages_strands:
            x = torch.cat([x, x.flip(1, 2)])  # reverse complement: A<->T, C<->G is a channel flip
        h = self.trunk(x)
        output = self.options.output
        if output == "trunk_mean":
            feats = h.float().mean(dim=-1)
        elif output == "trunk":
            spline = self.model.spline_tr(h).float()  # (n, C, df)
            if self.averages_strands:
                spline = torch.cat([spline[:batch], spline[batch:].flip(-1)])
            feats = spline.reshape(spline.shape[0], -1)
        else:
            feats = self.model.classifier(self.model.spline_features(h)).float()
        if self.averages_strands:
            feats = (feats[:batch] + feats[batch:]) / 2
        if output == "seqclass":
            with torch.autocast(feats.device.type, enabled=False):  # the projection stays in float32
                feats = feats @ self._projection.T
        return feats

    def embed_batch(self, sequences: Sequence[str]) -> np.ndarray:
        if len(sequences) == 0:
            return np.zeros((0, len(self.feature_names)), dtype=np.float32)
        x = self.one_hot(sequences).to(self.device)
        with torch.inference_mode(), autocast(torch.device(self.device), self.precision):
            feats = self.forward(x)
        return feats.float().cpu().numpy()
