"""What every backbone promises the embed, predict and interpret tools.

A backbone turns a batch of equal-role DNA strings into a fixed-length float vector per
sequence and names each vector component, so that heads trained on those features can be
explained in the backbone's own vocabulary (k-mers, SpliceAI channels, Sei chromatin profiles).
Backbone-specific settings are a dataclass of options; the CLI fills it from ``-O key=value``
pairs, and the options are recorded in the provenance so ``predict`` can rebuild the backbone.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from genofm import __version__
from genofm.catalogue import BY_NAME
from genofm.errors import GenofmError
from genofm.options import from_pairs
from genofm.sequence import reverse_complement

if TYPE_CHECKING:  # annotations only: importing the backbone base must not load torch
    import torch


@dataclasses.dataclass
class BackboneOptions:
    """Base class for a backbone's options; subclasses add documented fields with defaults."""

    @classmethod
    def from_pairs(cls, pairs: dict[str, str], backbone: str) -> "BackboneOptions":
        """Build options from ``key=value`` strings (genofm.options: one parser, unknown keys refused)."""
        return from_pairs(cls, pairs, f"backbone {backbone!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Backbone(abc.ABC):
    """A pre-trained (or weight-free) sequence encoder used as a feature extractor."""

    #: registry name, e.g. ``"spliceai"``
    name: ClassVar[str]
    #: options dataclass for this backbone
    Options: ClassVar[type[BackboneOptions]] = BackboneOptions
    #: whether ``--weights`` is required (a file or a folder, see ``weights_help``)
    needs_weights: ClassVar[bool] = False
    #: one line for ``--help`` and ``--list-backbones``: what ``--weights`` must point at; set
    #: from the backbone's catalogue entry (genofm.catalogue) for every catalogued backbone
    weights_help: ClassVar[str] = "no weights needed"
    #: default number of sequences per batch on CPU
    default_batch_size: ClassVar[int] = 64
    #: what each feature name means, for users: shown in the interpret report and in docs/features.md
    #: (a unit test keeps the two the same)
    feature_help: ClassVar[str] = ""
    #: True when ``embed_batch`` already gives the same features for a sequence and its reverse
    #: complement (it averages strands itself, or is strand-symmetric); ``--rc-average`` then
    #: skips the second pass. An instance may set it from its options.
    averages_strands: bool = False
    #: approximate peak working memory (bytes) of ``embed_batch`` per padded input base; the
    #: embedding loop sizes batches so rows x padded length x this stays within ``--memory-budget``
    #: and tiles longer sequences with ``embed_long``. 0: the backbone bounds its own memory (a
    #: fixed input window, or its own token tiling), so only ``--batch-size`` applies.
    bytes_per_base: ClassVar[int] = 0
    #: bases a forward pass adds to every row whatever its length (e.g. SpliceAI's 2 x 5,000 N flanks)
    row_overhead_bases: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        catalogued = BY_NAME.get(getattr(cls, "name", ""))
        if catalogued is not None:
            cls.weights_help = catalogued.weights or "no weights needed"

    def __init__(self, options: BackboneOptions, weights: Path | None, device: torch.device | str = "cpu", precision: str = "fp32"):
        self.options = options
        self.weights = Path(weights) if weights is not None else None
        self.device = device
        self.precision = precision
        if self.needs_weights and self.weights is None:
            raise GenofmError(f"backbone {self.name!r} needs --weights: {self.weights_help}")

    # --- what the tools use -------------------------------------------------------------
    @property
    @abc.abstractmethod
    def feature_names(self) -> list[str]:
        """Names of the output vector components, in order."""

    @abc.abstractmethod
    def embed_batch(self, sequences: Sequence[str]) -> np.ndarray:
        """Return a (len(sequences), len(feature_names)) float32 array."""

    def embed(self, sequences: Sequence[str], rc_average: bool = False) -> np.ndarray:
        """``embed_batch``, optionally averaged with the reverse-complement strand.

        Embed and predict both call this with the provenance's ``rc_average`` so that a head
        always sees features computed the same way it was trained on.
        """
        if not rc_average or self.averages_strands:
            return np.asarray(self.embed_batch(sequences), dtype=np.float32)
        sequences = list(sequences)
        both = np.asarray(self.embed_batch(sequences + [reverse_complement(s) for s in sequences]), dtype=np.float32)
        return (both[: len(sequences)] + both[len(sequences) :]) / 2

    def embed_long(self, sequence: str, tile_bases: int) -> np.ndarray:
        """(n_features,) features of one sequence too long for the memory budget, computed in tiles.

        Backbones with ``bytes_per_base > 0`` implement it so that the result equals
        ``embed_batch([sequence])[0]`` (up to float rounding) while holding at most ``tile_bases``
        (+ ``row_overhead_bases``) bases at a time.
        """
        raise NotImplementedError(f"backbone {self.name!r} declares bytes_per_base but cannot tile long sequences")

    def feature_groups(self) -> dict[str, np.ndarray]:
        """Named subsets of feature indices (e.g. Sei's TF / histone / accessibility profiles).

        Written into the embedding file so ``genofm-train --feature-group NAME`` can restrict a
        head to one family of features, as the Sei paper's TF, HM and ALL models did.
        """
        return {}

    @property
    def input_length(self) -> int | None:
        """Native input length in bp, or None when any length is accepted."""
        return None

    def provenance(self) -> dict[str, Any]:
        """What predict needs to rebuild this backbone and what a reader needs to trust the features."""
        import torch

        return {
            "backbone": self.name,
            "options": self.options.to_dict(),
            "weights_sha256": weights_checksum(self.weights) if self.weights is not None else None,
            "weights_name": self.weights.name if self.weights is not None else None,
            "n_features": len(self.feature_names),
            "genofm_version": __version__,
            "torch_version": torch.__version__,
        }


def weights_checksum(path: Path) -> str:
    """SHA-256 over a weights file, or over a folder's files (names and contents, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
