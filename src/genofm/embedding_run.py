"""Running a backbone over many sequences in batches: shared by genofm-embed and on-the-fly prediction.

Keeping one implementation means features computed on the fly by ``genofm-predict`` are exactly
the features a head was trained on (same batching, same strand averaging, same precision).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from genofm.backbones.base import Backbone
from genofm.sequence import reverse_complement


def iter_embeddings(backbone: Backbone, sequences: Sequence[str], batch_size: int, rc_average: bool = False) -> Iterator[np.ndarray]:
    """Yield (batch, n_features) float32 arrays in input order.

    ``rc_average`` averages each sequence's features with its reverse complement's, unless the
    backbone already averages strands itself (class attribute ``averages_strands``).
    """
    import torch

    from genofm.device import autocast

    device = torch.device(backbone.device) if not isinstance(backbone.device, torch.device) else backbone.device
    average = rc_average and not getattr(backbone, "averages_strands", False)
    with torch.inference_mode(), autocast(device, backbone.precision):
        for start in range(0, len(sequences), batch_size):
            batch = list(sequences[start : start + batch_size])
            features = np.asarray(backbone.embed_batch(batch), dtype=np.float32)
            if average:
                features = (features + np.asarray(backbone.embed_batch([reverse_complement(s) for s in batch]), dtype=np.float32)) / 2
            yield features


def embed_frame(backbone: Backbone, frame: pd.DataFrame, batch_size: int, rc_average: bool = False) -> np.ndarray:
    """All features of a dataset frame's ``sequence`` column, (len(frame), n_features) float32."""
    out = np.empty((len(frame), len(backbone.feature_names)), dtype=np.float32)
    row = 0
    for features in iter_embeddings(backbone, frame["sequence"].tolist(), batch_size, rc_average):
        out[row : row + features.shape[0]] = features
        row += features.shape[0]
    return out
