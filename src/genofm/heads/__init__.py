"""Classification heads fitted on frozen embeddings, saved without pickle.

``HEADS`` maps the names accepted by ``genofm-train --head`` to their classes; every head follows
scikit-learn's estimator API (``fit``, ``predict_proba``, ``get_params``) and saves its fitted
parameters as arrays (safetensors) plus JSON, see :mod:`genofm.heads.store`.
"""

from __future__ import annotations

from genofm.errors import GenofmError
from genofm.heads.base import Head
from genofm.heads.gboost import GBoostHead
from genofm.heads.logreg import LogRegHead
from genofm.heads.mlp import MLPHead

HEADS: dict[str, type[Head]] = {"logreg": LogRegHead, "mlp": MLPHead, "gboost": GBoostHead}


def head_class(name: str) -> type[Head]:
    if name not in HEADS:
        raise GenofmError(f"unknown head {name!r}; choose one of {sorted(HEADS)}")
    return HEADS[name]


__all__ = ["HEADS", "Head", "LogRegHead", "MLPHead", "GBoostHead", "head_class"]
