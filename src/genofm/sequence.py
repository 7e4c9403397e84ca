"""DNA string helpers shared by prepare and every backbone.

Encodings follow the upstream models: channel order A, C, G, T; what an ambiguous base becomes
differs per model (Sei: 0.25 in each channel, SpliceAI: all zeros), so it is a parameter.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i


def reverse_complement(sequence: str) -> str:
    """Reverse complement; any non-ACGT character becomes N."""
    return sequence.translate(_COMPLEMENT)[::-1]


def encode(sequence: str) -> np.ndarray:
    """Integer codes 0-3 for A, C, G, T and 4 for anything else."""
    return _CODE[np.frombuffer(sequence.encode("ascii", "replace"), dtype=np.uint8)]


def center_pad(sequence: str, length: int) -> str:
    """Pad with N on both sides (floor left, ceil right) or keep the centre ``length`` bases."""
    n = len(sequence)
    if n >= length:
        start = (n - length) // 2
        return sequence[start : start + length]
    left = (length - n) // 2
    return "N" * left + sequence + "N" * (length - n - left)


def one_hot(sequences: Sequence[str], length: int | None = None, unknown: float = 0.0) -> np.ndarray:
    """(B, 4, L) float32 one-hot; sequences are centre-padded/cropped to ``length`` when given."""
    if length is None:
        length = max(len(s) for s in sequences)
    out = np.zeros((len(sequences), 5, length), dtype=np.float32)
    rows = np.arange(length)
    for i, seq in enumerate(sequences):
        codes = encode(center_pad(seq, length))
        out[i, codes, rows] = 1.0
    result = out[:, :4, :]
    if unknown:
        result = result + out[:, 4:5, :] * unknown
    return np.ascontiguousarray(result)
