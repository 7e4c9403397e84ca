"""Backbone registry: names users pass to ``--backbone`` and where each implementation lives.

Implementations are imported lazily so that a k-mer run never imports transformers, and a
missing optional dependency only affects the backbone that needs it.
"""

from __future__ import annotations

import importlib

from genofm.backbones.base import Backbone, BackboneOptions
from genofm.errors import GenofmError

REGISTRY: dict[str, str] = {
    "kmer": "genofm.backbones.kmer:KmerBackbone",
    "spliceai": "genofm.backbones.spliceai:SpliceAIBackbone",
    "sei": "genofm.backbones.sei:SeiBackbone",
    "dnabert2": "genofm.backbones.dnabert2:DNABERT2Backbone",
    "dnabert6": "genofm.backbones.hf_lm:DNABERT6Backbone",
    "gpt2dna": "genofm.backbones.hf_lm:GPT2DNABackbone",
}


def backbone_class(name: str) -> type[Backbone]:
    """Resolve a registry name to its class."""
    if name not in REGISTRY:
        raise GenofmError(f"unknown backbone {name!r}; choose one of {sorted(REGISTRY)}")
    module_name, attr = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


__all__ = ["REGISTRY", "Backbone", "BackboneOptions", "backbone_class"]
