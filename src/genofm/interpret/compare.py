"""``genofm-interpret compare``: one table and one page across model folders.

The pipeline trains every (dataset x backbone x head) combination and calls this once, so the
question "which representation works best for which task" is answered by a single TSV with test
metrics and their bootstrap intervals, plus a bar chart of AUROC with its interval.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd

from genofm.atomic import atomic_path
from genofm.errors import GenofmError
from genofm.evaluation.metrics import METRICS
from genofm.interpret import report as html

COMPARISON_TSV = "comparison.tsv"
COMPARISON_HTML = "comparison.html"


def comparison_row(model_dir: Path, dataset_name: str | None = None) -> dict:
    """Test metrics and identity of one model folder."""
    from genofm.heads.store import read_model

    document = read_model(model_dir)
    path = model_dir / "metrics.json"
    if not path.is_file():
        raise GenofmError(f"{path}: not found; the model folder is incomplete, re-run genofm-train")
    try:
        metrics = json.loads(path.read_text())["metrics"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise GenofmError(f"{path}: not a genofm metrics file; re-run genofm-train") from None
    data = document.get("dataset") or {}
    dataset = dataset_name or data.get("name") or model_dir.name
    backbone = document["backbone"].get("backbone", "?")
    head = document.get("head") if document["kind"] == "head" else "finetuned"
    row = {
        "name": f"{dataset} {backbone} {head}" + (f" [{document['feature_group']}]" if document.get("feature_group") else ""),
        "dataset": dataset,
        "backbone": backbone,
        "head": head,
        "feature_group": document.get("feature_group") or "",
        "n_features": len(document.get("feature_names", [])) or None,
        "n_train": data.get("n_train"),
        "n_test": data.get("n_test"),
        "classes": ",".join(document["classes"]),
    }
    for name in METRICS:
        entry = metrics.get(name) or {}
        row[name] = entry.get("value")
        row[f"{name}_ci_low"] = entry.get("ci_low")
        row[f"{name}_ci_high"] = entry.get("ci_high")
    row["model_dir"] = str(model_dir)
    return row


def compare_models(model_dirs: Sequence[Path], names: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per model folder, sorted by dataset then AUROC (best first)."""
    if not model_dirs:
        raise GenofmError("no model folders given; pass one or more genofm-train output folders")
    if names and len(names) != len(model_dirs):
        raise GenofmError(f"{len(names)} --name value(s) for {len(model_dirs)} model folders; give one per folder or none")
    rows = [comparison_row(Path(d), names[i] if names else None) for i, d in enumerate(model_dirs)]
    table = pd.DataFrame(rows)
    return table.sort_values(["dataset", "auroc"], ascending=[True, False], na_position="last").reset_index(drop=True)


def write_comparison(table: pd.DataFrame, output: Path) -> None:
    """comparison.tsv, an AUROC bar chart and comparison.html, written into ``output`` atomically."""
    from genofm.plots import metric_bar_plot

    with atomic_path(output, directory=True) as tmp:
        table.to_csv(tmp / COMPARISON_TSV, sep="\t", index=False, na_rep="")
        metric_bar_plot(table, "auroc", tmp / "auroc.png")
        metric_bar_plot(table, "auprc", tmp / "auprc.png")
        shown = table.copy()
        for name in METRICS:
            shown[f"{name} (95% CI)"] = [
                f"{v:.3f} ({lo:.3f}-{hi:.3f})" if pd.notna(v) and pd.notna(lo) else ("" if pd.isna(v) else f"{v:.3f}")
                for v, lo, hi in zip(table[name], table[f"{name}_ci_low"], table[f"{name}_ci_high"])
            ]
        columns = ["dataset", "backbone", "head", "feature_group", "n_train", "n_test", *[f"{m} (95% CI)" for m in METRICS]]
        blocks = [
            html.paragraph(f"{len(table)} models compared on their own held-out test splits. Intervals are class-stratified "
                           "bootstrap 95% intervals; models of different datasets are not comparable with each other."),
            html.section("Test metrics", html.table(shown[columns], max_rows=500, note=f"Full table: {COMPARISON_TSV}")),
            html.section("AUROC", html.image(tmp / "auroc.png", "Test AUROC with 95% interval")),
            html.section("AUPRC", html.image(tmp / "auprc.png", "Test AUPRC with 95% interval")),
        ]
        (tmp / COMPARISON_HTML).write_text(html.page("genofm model comparison", blocks), encoding="utf-8")
