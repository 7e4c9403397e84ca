"""A two-dimensional view of the embeddings coloured by label: do the classes separate at all?

Before reading coefficients it helps to see whether a backbone's features put the classes apart.
Features are standardised (as the heads see them) and projected by PCA; UMAP is added when the
optional ``umap-learn`` package is installed. At most ``max_points`` rows (original sequences,
all splits, sampled per class with the run's seed) are drawn, so the figure stays quick and legible.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from genofm.interpret import ReportSection

FIGURE = "embedding_2d.png"


def sample_rows(frame: pd.DataFrame, max_points: int, seed: int) -> pd.DataFrame:
    """Original (non-augmented) rows, at most ``max_points`` in all, balanced by class where possible."""
    original = frame[~frame["augmented"].fillna(False).astype(bool)]
    per_class = max(1, max_points // max(1, original["label"].nunique()))
    parts = [group.sample(n=min(len(group), per_class), random_state=seed) for _, group in original.groupby("label", sort=True)]
    return pd.concat(parts).sort_index() if parts else original


def project(X: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """``{"PCA": (n, 2), "UMAP": (n, 2)}`` of standardised features (UMAP only when installed)."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    Z = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    Z = np.nan_to_num(Z)
    out = {"PCA": PCA(n_components=2, random_state=seed).fit_transform(Z)}
    if importlib.util.find_spec("umap") is not None and len(Z) >= 10:
        umap = importlib.import_module("umap")  # optional: umap-learn is not a declared dependency
        out["UMAP"] = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(Z) - 1)).fit_transform(Z)
    return out


def _plot(views: dict[str, np.ndarray], labels: np.ndarray, classes: Sequence[str], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * len(views), 4.4))
    colours = [f"C{i % 10}" for i in range(len(classes))]
    for i, (name, points) in enumerate(views.items()):
        ax = fig.add_subplot(1, len(views), i + 1)
        for cls, colour in zip(classes, colours):
            members = labels == cls
            ax.scatter(points[members, 0], points[members, 1], s=6, alpha=0.6, color=colour, label=f"{cls} ({members.sum()})")
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.axes[0].legend(fontsize=7, markerscale=2, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def projection_section(X: np.ndarray, labels: np.ndarray, classes: Sequence[str], out_dir: Path, seed: int,
                       what: str) -> ReportSection:
    """The report section: the figure and one sentence saying what was projected."""
    views = project(X, seed)
    _plot(views, np.asarray(labels), classes, Path(out_dir) / FIGURE)
    umap_note = "" if "UMAP" in views else " (install umap-learn for a UMAP panel)"
    return ReportSection(
        "Embeddings in two dimensions",
        f"{len(labels)} sequences ({what}), standardised features projected by {' and '.join(views)}{umap_note}, "
        "coloured by label. Classes that overlap here can still be separable in the full feature space.",
        figures=[FIGURE],
    )
