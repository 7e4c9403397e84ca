"""What a head learnt from epigenomic tracks: weights aggregated by cell type, assay and statistic.

Track features are named ``cell_type|assay|statistic|bin`` (see :mod:`genofm.tracks.features`),
so, as for Sei's ``cell | assay`` profiles, single coefficients add up to the questions a user
asks: which assay carries the call (DNase or H3K27ac?), which cell type's tracks (when every track
is its own block), which statistic (mean or max signal, peak coverage, a chromatin state) and
where in the window (bin). Shares are of the summed absolute standardised coefficients per class;
stability is the mean bootstrap stability of the group's features (when computed).
"""

from __future__ import annotations

import pandas as pd

from genofm.interpret import ExplainContext, ReportSection

PARTS = ("cell_type", "assay", "statistic", "bin")


def split_names(ranked: pd.DataFrame) -> pd.DataFrame:
    """``ranked`` with the four parts of each track feature name as columns (other names dropped)."""
    parts = ranked["feature"].astype(str).str.split("|", expand=True, n=3)
    if parts.shape[1] < 4:
        return ranked.iloc[0:0].assign(**{p: pd.Series(dtype=str) for p in PARTS})
    keep = parts.notna().all(axis=1)
    out = ranked[keep].copy()
    for i, part in enumerate(PARTS):
        out[part] = parts.loc[keep, i].to_numpy()
    return out


def aggregate(named: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per class and group: summed |coefficient|, its share within the class, signed sum, stability, top feature."""
    rows = []
    for (name, *keys), part in named.groupby(["class", *by], sort=False):
        rows.append({
            "class": name,
            **dict(zip(by, keys)),
            "n_features": len(part),
            "weight": float(part["abs_coefficient"].sum()),
            "signed_weight": float(part["coefficient"].sum()),
            "stability": float(part["stability"].mean()) if part["stability"].notna().any() else None,
            "best_feature": part.sort_values("rank")["feature"].iloc[0],
            "best_rank": int(part["rank"].min()),
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["share"] = table["weight"] / table.groupby("class")["weight"].transform("sum").where(lambda s: s > 0, 1.0)
    return table.sort_values(["class", "weight"], ascending=[True, False]).reset_index(drop=True)


def explain(ranked: pd.DataFrame, context: ExplainContext) -> list[ReportSection]:
    named = split_names(ranked)
    if named.empty:
        return [ReportSection("Epigenomic tracks", "No feature follows the cell_type|assay|statistic|bin naming; nothing to aggregate.")]
    tables = {
        "tracks_by_assay": aggregate(named, ["assay"]),
        "tracks_by_cell_type": aggregate(named, ["cell_type"]),
        "tracks_by_statistic": aggregate(named, ["assay", "statistic"]),
        "tracks_by_bin": aggregate(named, ["assay", "bin"]),
    }
    own = (named["cell_type"] == "own").all()
    text = ("Weights of the track features (standardised coefficients, or permutation importances for non-linear heads) "
            "summed by assay, cell type, statistic and bin; share = fraction of the class's summed absolute weight; "
            "signed_weight > 0 pushes towards the positive class; stability = mean bootstrap stability of the group's features. "
            + ("Every example read its own cell type's tracks (cell type 'own')." if own else ""))
    return [ReportSection("Epigenomic tracks", text, tables=tables)]
