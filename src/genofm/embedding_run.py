"""Embedding a whole dataset frame in memory, for on-the-fly prediction.

``genofm-embed`` streams batches into an HDF5 file; ``genofm-predict`` without ``--embeddings``
needs the same features for a (usually smaller) frame in memory. Both go through
``Backbone.embed`` under ``torch.inference_mode`` and the resolved autocast precision, so features
computed on the fly match the ones a head was trained on (same strand averaging, same precision).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genofm.backbones.base import Backbone
from genofm.errors import GenofmError


def embed_frame(backbone: Backbone, frame: pd.DataFrame, batch_size: int, rc_average: bool = False) -> np.ndarray:
    """(len(frame), n_features) float32 features of the frame's ``sequence`` column, in row order."""
    import torch

    from genofm.device import autocast

    device = backbone.device if isinstance(backbone.device, torch.device) else torch.device(backbone.device)
    sequences = frame["sequence"].tolist()
    out = np.empty((len(sequences), len(backbone.feature_names)), dtype=np.float32)
    with torch.inference_mode(), autocast(device, backbone.precision):
        for start in range(0, len(sequences), batch_size):
            features = backbone.embed(sequences[start : start + batch_size], rc_average=rc_average)
            if not np.isfinite(features).all():
                raise GenofmError(
                    f"{backbone.name} produced non-finite features for a batch starting at id {frame['id'].iloc[start]!r}; "
                    "try --precision fp32"
                )
            out[start : start + features.shape[0]] = features
    return out
