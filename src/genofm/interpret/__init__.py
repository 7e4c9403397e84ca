"""Explaining trained models.

The generic part (ranking standardised coefficients, stability across refits, the HTML report)
lives in this package's modules owned by ``genofm-interpret``. Backbone-specific explanations
plug in through ``EXPLAINERS``: each returns report sections, so the report shows k-mer motif
matches, Sei chromatin-profile aggregates or language-model attention maps the same way.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

import pandas as pd

#: backbone -> "module:function" explaining a linear head's ranked features
#: function(ranked: pd.DataFrame, context: ExplainContext) -> list[ReportSection]
#: ``ranked`` has columns feature, class, coefficient, abs_coefficient, rank, stability
EXPLAINERS: dict[str, str] = {
    "kmer": "genofm.interpret.motifs:explain_kmers",
    "sei": "genofm.interpret.sei_features:explain",
    "tracks": "genofm.interpret.track_features:explain",
}

#: backbone -> "module:function" explaining a model trained end to end (fine-tuned language model, cnn) from sequences
#: function(model_dir: Path, frame: pd.DataFrame, context: ExplainContext) -> list[ReportSection]
SEQUENCE_EXPLAINERS: dict[str, str] = {
    "dnabert2": "genofm.interpret.attention:explain_finetuned",
    "dnabert6": "genofm.interpret.attention:explain_finetuned",
    "gpt2dna": "genofm.interpret.attention:explain_finetuned",
    "cnn": "genofm.interpret.cnn_attribution:explain_cnn",
}


@dataclasses.dataclass
class ExplainContext:
    """What an explainer may use besides the ranked features."""

    out_dir: Path  # write figures/tables here (already a temporary folder; renamed when done)
    model: dict[str, Any]  # the model folder's model.json
    weights: Path | None = None  # backbone weights (folder or file), when the user passed them
    dataset: pd.DataFrame | None = None  # prepared dataset rows, when passed
    classes: list[str] = dataclasses.field(default_factory=list)
    top: int = 30
    seed: int = 0
    options: dict[str, str] = dataclasses.field(default_factory=dict)  # -O key=value pairs


@dataclasses.dataclass
class ReportSection:
    """One section of the HTML report; tables are also written as TSV next to it."""

    title: str
    text: str = ""  # short plain-text paragraph; the report HTML-escapes it (no markup)
    tables: dict[str, pd.DataFrame] = dataclasses.field(default_factory=dict)  # file stem -> table
    figures: list[str] = dataclasses.field(default_factory=list)  # PNG file names inside out_dir


def resolve(spec: str):
    module_name, attr = spec.split(":")
    return getattr(importlib.import_module(module_name), attr)
