"""PNG figures for model folders and reports.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas, never through
pyplot's global state, so tools run headless (containers, clusters) and in parallel threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from genofm.atomic import atomic_path


def _save(fig: Figure, path: str | Path) -> None:
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")


def _curve_classes(classes: Sequence[str]) -> list[int]:
    """Binary tasks draw the positive (last) class only; multi-class tasks draw each class vs rest."""
    return [len(classes) - 1] if len(classes) == 2 else list(range(len(classes)))


def roc_plot(truth: np.ndarray, proba: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> None:
    fig = Figure(figsize=(4.8, 4.4))
    ax = fig.add_subplot()
    for k in _curve_classes(classes):
        fpr, tpr, _ = roc_curve(truth == k, proba[:, k])
        area = np.trapezoid(tpr, fpr)
        ax.plot(fpr, tpr, lw=1.6, label=f"{classes[k]} (AUROC {area:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01), title=title or "ROC, test split")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)


def pr_plot(truth: np.ndarray, proba: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> None:
    fig = Figure(figsize=(4.8, 4.4))
    ax = fig.add_subplot()
    for k in _curve_classes(classes):
        precision, recall, _ = precision_recall_curve(truth == k, proba[:, k])
        line = ax.step(recall, precision, where="post", lw=1.6, label=f"{classes[k]}")
        ax.axhline(np.mean(truth == k), ls=":", lw=0.8, color=line[0].get_color())
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01), title=title or "Precision-recall, test split")
    ax.legend(loc="lower left", fontsize=8, title="dotted: class prevalence", title_fontsize=7)
    _save(fig, path)


def feature_bar_plot(
    ranked: pd.DataFrame, path: str | Path, top: int = 30, xlabel: str = "standardised coefficient",
    classes: Sequence[str] = (),
) -> None:
    """Horizontal bars of signed importance for the top features of each class panel."""
    panels = list(dict.fromkeys(ranked["class"]))
    height = max(2.5, 0.22 * min(top, len(ranked)) + 1.2)
    fig = Figure(figsize=(6.4 * len(panels), height), layout="constrained")
    for i, name in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        rows = ranked[ranked["class"] == name].nsmallest(top, "rank")[::-1]
        colours = np.where(rows["coefficient"] >= 0, "#b2182b", "#2166ac")
        ax.barh(np.arange(len(rows)), rows["coefficient"], color=colours)
        ax.set_yticks(np.arange(len(rows)), [_short(f) for f in rows["feature"]], fontsize=7)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_xlabel(xlabel)
        if len(classes) == 2:
            ax.set_title(f"red: towards {classes[-1]}, blue: towards {classes[0]}", fontsize=9)
        else:
            ax.set_title(f"{name}: red raises, blue lowers its probability", fontsize=9)
    _save(fig, path)


def metric_bar_plot(table: pd.DataFrame, metric: str, path: str | Path) -> None:
    """Bars of a test metric with its bootstrap interval, one per compared model."""
    fig = Figure(figsize=(max(4.0, 0.55 * len(table) + 2), 4.2))
    ax = fig.add_subplot()
    values = table[metric].to_numpy(dtype=float)
    low = values - table[f"{metric}_ci_low"].to_numpy(dtype=float)
    high = table[f"{metric}_ci_high"].to_numpy(dtype=float) - values
    x = np.arange(len(table))
    ax.bar(x, values, yerr=np.vstack([np.nan_to_num(low), np.nan_to_num(high)]), capsize=3, color="#4393c3")
    if f"chance_{metric}" in table.columns:  # what a random ranking scores, per model's own test split
        chance = table[f"chance_{metric}"].to_numpy(dtype=float)
        ax.hlines(chance, x - 0.45, x + 0.45, colors="black", linestyles="dashed", linewidth=1, label="chance")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xticks(x, [_short(n, 40) for n in table["name"]], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"test {metric.upper()} (95% CI)")
    ax.set_ylim(0, 1.0)
    _save(fig, path)


def _short(text: str, limit: int = 48) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
