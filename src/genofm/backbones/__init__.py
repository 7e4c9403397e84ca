"""Backbone registry: names users pass to ``--backbone`` and where each implementation lives.

The names and classes come from :mod:`genofm.catalogue`, the one list of backbones.
Implementations are imported lazily so that a k-mer run never imports transformers, and a
missing optional dependency only affects the backbone that needs it.
"""

from __future__ import annotations

import importlib

from genofm.backbones.base import Backbone, BackboneOptions
from genofm.catalogue import embedders
from genofm.errors import GenofmError

#: name -> ``module:Class``, derived from the catalogue (genofm.catalogue) of backbones
REGISTRY: dict[str, str] = embedders()


def backbone_class(name: str) -> type[Backbone]:
    """Resolve a registry name to its class."""
    if name not in REGISTRY:
        raise GenofmError(f"unknown backbone {name!r}; choose one of {sorted(REGISTRY)}")
    module_name, attr = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


__all__ = ["REGISTRY", "Backbone", "BackboneOptions", "backbone_class"]
