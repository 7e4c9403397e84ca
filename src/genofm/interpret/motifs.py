"""Naming the transcription-factor motifs behind a k-mer head's top features.

A k-mer is too short to be a motif, but it can be the best-scoring slice of one. Each top k-mer is
slid along every JASPAR matrix (both strands, up to ``OVERHANG`` positions past either end) and
scored with the matrix's log-odds. A raw score is not comparable across matrices (informative
columns give high scores to many k-mers), so each score is turned into an exact p-value: the
fraction of all 4^k k-mers scoring at least as high on that window, computed by meet-in-the-middle
over the two halves of the window. The best window's p-value is Bonferroni-corrected for the number
of windows the matrix offers, so long matrices do not win by having more chances.

Per side of the model (the class the k-mers push towards), a motif's support is the sum over the
top k-mers of (share of the side's absolute coefficients) x -log10(corrected p). Motifs that
explain several heavily weighted k-mers rise to the top: for Oct4 vs MafK ChIP peaks these are
POU-domain matrices on one side and Maf/NFE2/Bach matrices on the other.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Sequence

import numpy as np
import pandas as pd

from genofm.errors import GenofmError
from genofm.interpret import ExplainContext, ReportSection
from genofm.interpret.jaspar import BASES, DEFAULT_RELEASE, Motif, load_motifs
from genofm.options import from_pairs, option

OVERHANG = 2  # k-mer positions allowed past a matrix end (scored 0 bits, i.e. background)
MIN_RELATIVE = 0.75  # only windows where the k-mer reaches 75% of the (max - min) score range get an exact p-value
MATCH_P = 0.05  # corrected p-value for counting a k-mer as matched by a motif
_KMER = re.compile(r"(?:[A-Za-z0-9]+[:_])?([ACGT]{2,})(?:/[ACGT]{2,})?(?:@[0-9]+)?")


def kmer_of(feature: str) -> str | None:
    """The k-mer a feature name stands for (``ACGTAC``, ``kmer:ACGTAC``, ``ACGTAC/GTACGT``, positional ``ACG@12``), else None."""
    found = _KMER.fullmatch(str(feature).strip().upper())
    return found.group(1) if found else None


def _encode(kmers: Sequence[str], k: int) -> np.ndarray:
    onehot = np.zeros((len(kmers), k, 4))
    lookup = {b: i for i, b in enumerate(BASES)}
    for row, kmer in enumerate(kmers):
        onehot[row, np.arange(k), [lookup[b] for b in kmer]] = 1.0
    return onehot.reshape(len(kmers), k * 4)


class WindowTable:
    """Every length-k window of every matrix on both strands, stacked for one matrix product."""

    def __init__(self, motifs: Sequence[Motif], k: int, overhang: int = OVERHANG):
        mats, motif_idx, strands, offsets = [], [], [], []
        self.n_windows = np.zeros(len(motifs), dtype=np.int64)
        for m, motif in enumerate(motifs):
            lo = motif.log_odds
            for strand, mat in ((1, lo), (-1, lo[::-1, ::-1])):  # reversing A,C,G,T columns complements
                padded = np.vstack([np.zeros((overhang, 4)), mat, np.zeros((overhang, 4))])
                n = padded.shape[0] - k + 1
                if n <= 0:
                    continue
                view = np.lib.stride_tricks.sliding_window_view(padded, (k, 4))[:, 0]  # (n, k, 4)
                mats.append(view)
                motif_idx.append(np.full(n, m))
                strands.append(np.full(n, strand))
                offsets.append(np.arange(n) - overhang)
                self.n_windows[m] += n
        self.k = k
        self.matrix = np.concatenate(mats) if mats else np.zeros((0, k, 4))
        self.motif = np.concatenate(motif_idx) if mats else np.zeros(0, dtype=np.int64)
        self.strand = np.concatenate(strands) if mats else np.zeros(0, dtype=np.int64)
        self.offset = np.concatenate(offsets) if mats else np.zeros(0, dtype=np.int64)
        self.best = self.matrix.max(axis=2).sum(axis=1)
        self.worst = self.matrix.min(axis=2).sum(axis=1)


@functools.lru_cache(maxsize=8)
def _window_table(release: str, collection: str, tax_group: str, k: int) -> WindowTable:
    return WindowTable(load_motifs(release, collection, tax_group), k)


def _all_sums(columns: np.ndarray) -> np.ndarray:
    """Scores of all 4^n base combinations over ``columns`` (n, 4)."""
    sums = np.zeros(1)
    for column in columns:
        sums = (sums[:, None] + column[None, :]).ravel()
    return sums


def tail_probability(window: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Exact P(score >= s) of a uniformly random k-mer on a (k, 4) log-odds window, for each s."""
    k = window.shape[0]
    half = k // 2
    left = _all_sums(window[:half])
    right = np.sort(_all_sums(window[half:]))
    thresholds = np.asarray(scores, dtype=np.float64)[:, None] - left[None, :] - 1e-9
    counts = right.size - np.searchsorted(right, thresholds, side="left")
    return counts.sum(axis=1) / float(4**k)


def match_kmers(kmers: Sequence[str], motifs: Sequence[Motif], table: WindowTable) -> pd.DataFrame:
    """Best match of each k-mer (all of length ``table.k``) to each motif it resembles.

    Columns: kmer, motif (index into ``motifs``), bits, p_value (best window), p_adjusted
    (x number of windows of that motif), strand (+1: k-mer on the matrix as published), offset.
    """
    columns = ["kmer", "motif", "bits", "p_value", "p_adjusted", "strand", "offset"]
    if not kmers or table.matrix.shape[0] == 0:
        return pd.DataFrame(columns=columns)
    scores = _encode(kmers, table.k) @ table.matrix.reshape(len(table.matrix), -1).T  # (n_kmers, n_windows)
    relative = (scores - table.worst) / np.maximum(table.best - table.worst, 1e-9)
    candidates = (relative >= MIN_RELATIVE) & (scores > 0)
    records = []
    for w in np.unique(np.nonzero(candidates)[1]):
        rows = np.flatnonzero(candidates[:, w])
        p = tail_probability(table.matrix[w], scores[rows, w])
        for r, pv in zip(rows, p):
            records.append((r, table.motif[w], scores[r, w], pv, table.strand[w], table.offset[w]))
    if not records:
        return pd.DataFrame(columns=columns)
    found = pd.DataFrame(records, columns=["row", "motif", "bits", "p_value", "strand", "offset"])
    found = found.sort_values(["row", "motif", "p_value", "bits"], ascending=[True, True, True, False])
    found = found.drop_duplicates(["row", "motif"]).reset_index(drop=True)
    found["p_adjusted"] = np.minimum(1.0, found["p_value"] * table.n_windows[found["motif"].to_numpy()])
    found["kmer"] = np.asarray(kmers, dtype=object)[found["row"].to_numpy()]
    return found[columns]


def _sides(ranked: pd.DataFrame, classes: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Features grouped by the class they push towards (binary: sign of the coefficient)."""
    positive = ranked[ranked["coefficient"] > 0]
    if len(classes) == 2:
        return {classes[-1]: positive, classes[0]: ranked[ranked["coefficient"] < 0]}
    return {c: positive[positive["class"] == c] for c in classes}


def score_side(features: pd.DataFrame, motifs: Sequence[Motif], tables: dict[int, WindowTable]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-motif support and per-k-mer best matches for one side's top k-mer features."""
    features = features.assign(kmer=features["feature"].map(kmer_of)).dropna(subset=["kmer"])
    features = features.drop_duplicates("kmer")
    weight = features["abs_coefficient"].to_numpy(dtype=float)
    features = features.assign(weight=weight / weight.sum() if weight.sum() > 0 else weight)
    matches = []
    for k, group in features.groupby(features["kmer"].str.len()):
        found = match_kmers(group["kmer"].tolist(), motifs, tables[k])
        matches.append(found)
    matches = pd.concat(matches, ignore_index=True) if matches else pd.DataFrame(columns=["kmer", "motif", "p_adjusted"])
    matches = matches.merge(features[["kmer", "weight"]], on="kmer")
    matches["evidence"] = -np.log10(np.clip(matches["p_adjusted"].astype(float), 1e-300, 1.0))
    matches["support"] = matches["weight"] * matches["evidence"]

    scored = matches[matches["support"] > 0]
    strong = matches[matches["p_adjusted"] <= MATCH_P].sort_values("support", ascending=False)
    by_motif = scored.groupby("motif")
    per_motif = pd.DataFrame({
        "support": by_motif["support"].sum().round(5),
        "best_p_adjusted": by_motif["p_adjusted"].min(),
    })
    per_motif["n_kmers"] = strong.groupby("motif").size().reindex(per_motif.index, fill_value=0).astype(int)
    per_motif["kmers"] = strong.groupby("motif")["kmer"].agg(lambda k: ",".join(k.head(8))).reindex(per_motif.index, fill_value="")
    index = per_motif.index.to_numpy(dtype=np.int64)
    for column, attribute in (("matrix_id", "matrix_id"), ("tf_name", "name"), ("tf_class", "tf_class"),
                              ("tf_family", "tf_family"), ("consensus", "consensus")):
        per_motif[column] = [getattr(motifs[m], attribute) for m in index]
    per_motif = per_motif[["matrix_id", "tf_name", "tf_class", "tf_family", "consensus", "support", "n_kmers",
                           "best_p_adjusted", "kmers"]]
    per_motif = per_motif.sort_values(["support", "n_kmers"], ascending=False).reset_index(drop=True)
    per_motif.insert(0, "motif_rank", np.arange(1, len(per_motif) + 1))

    top_hits = strong.sort_values("p_adjusted").groupby("kmer").head(3)
    named = {
        kmer: "; ".join(f"{motifs[int(m)].name} {motifs[int(m)].matrix_id} (p={p:.2g})" for m, p in zip(hits["motif"], hits["p_adjusted"]))
        for kmer, hits in top_hits.groupby("kmer", sort=False)
    }
    best = features[["kmer", "coefficient"]].copy()
    best["rank"] = features["rank"] if "rank" in features else np.nan
    best["stability"] = features["stability"] if "stability" in features else np.nan
    best["best_motifs"] = [named.get(k, "") for k in best["kmer"]]
    return per_motif, best.reset_index(drop=True)


@dataclasses.dataclass
class KmerExplainOptions:
    """``genofm-interpret -O key=value`` options of the k-mer explainer."""

    jaspar_release: str = option(DEFAULT_RELEASE, "JASPAR release bundled with pyjaspar")
    jaspar_collection: str = option("CORE", "JASPAR collection")
    jaspar_tax_group: str = option("vertebrates", "JASPAR taxonomic group")
    motif_kmers: int = option(0, "top k-mers per side matched to motifs; 0: --top")
    motif_show: int = option(10, "motifs named per side in the text and plot")
    logo_show: int = option(3, "sequence logos of the best-supported motifs per side (0: none)")

    def check(self) -> "KmerExplainOptions":
        if self.motif_kmers < 0 or self.motif_show < 1:
            raise GenofmError(f"k-mer interpretation options motif_kmers={self.motif_kmers} and motif_show={self.motif_show} must be >= 0 and >= 1")
        return self


def explain_kmers(ranked: pd.DataFrame, context: ExplainContext) -> list[ReportSection]:
    """JASPAR motifs matching each side's top k-mers (``motifs.tsv``, ``kmer_motifs.tsv``, a bar plot).

    Options (``-O``): :class:`KmerExplainOptions`.
    """
    settings = from_pairs(KmerExplainOptions, context.options, "k-mer interpretation").check()
    release, collection, tax_group = settings.jaspar_release, settings.jaspar_collection, settings.jaspar_tax_group
    n_kmers = settings.motif_kmers or context.top
    show = settings.motif_show
    classes = list(context.classes or context.model.get("classes", []))
    title = f"K-mers matched to {release} {collection} {tax_group} motifs"

    kmer_rows = ranked[ranked["feature"].map(kmer_of).notna()]
    if kmer_rows.empty:
        return [ReportSection(title, "No feature name is a k-mer, so no motif matching was done.")]
    motifs = load_motifs(release, collection, tax_group)
    lengths = sorted({len(kmer_of(f)) for f in kmer_rows["feature"]})
    tables = {k: _window_table(release, collection, tax_group, k) for k in lengths}

    per_motif, per_kmer, leads = [], [], []
    for side, features in _sides(kmer_rows, classes).items():
        top = features.nlargest(n_kmers, "abs_coefficient")
        if top.empty:
            continue
        motif_table, kmer_table = score_side(top, motifs, tables)
        per_motif.append(motif_table.assign(towards=side))
        per_kmer.append(kmer_table.assign(towards=side))
        named = ", ".join(f"{r.tf_name} ({r.matrix_id}, {r.tf_family or r.tf_class})" for r in motif_table.head(5).itertuples())
        families = family_table(motif_table.assign(towards=side))
        family = f" (leading family: {families['tf_family'].iloc[0]})" if not families.empty else ""
        leads.append(f"towards {side}: {named or 'no convincing match'}{family}")
    motif_all = pd.concat(per_motif, ignore_index=True) if per_motif else pd.DataFrame()
    kmer_all = pd.concat(per_kmer, ignore_index=True) if per_kmer else pd.DataFrame()
    if not motif_all.empty:
        motif_all = motif_all[["towards", *[c for c in motif_all.columns if c != "towards"]]]
        kmer_all = kmer_all[["towards", *[c for c in kmer_all.columns if c != "towards"]]]
    figures = []
    if not motif_all.empty:
        _support_plot(motif_all, context.out_dir / "motif_support.png", show)
        figures.append("motif_support.png")
        if _logos(motif_all, motifs, context.out_dir / "motif_logos.png", settings.logo_show):
            figures.append("motif_logos.png")
    text = (
        f"The top {n_kmers} k-mers pushing towards each class were scored against {len(motifs)} {release} {collection} "
        f"{tax_group} matrices (both strands; exact p-value of the k-mer's log-odds score among all k-mers, "
        "Bonferroni-corrected for the matrix's windows). A motif's support sums, over the k-mers it matches, the "
        "k-mer's share of the absolute coefficients times -log10 of the corrected p-value. Leading motifs "
        + "; ".join(leads) + ". Short k-mers match several related matrices; read the families rather than single factors."
    )
    tables = {"motifs": motif_all, "motif_families": family_table(motif_all), "kmer_motifs": kmer_all}
    return [ReportSection(title, text, tables=tables, figures=figures)]


explain_kmers.options = KmerExplainOptions  # its -O keys (genofm.interpret.model_report checks them)


def _logos(per_motif: pd.DataFrame, motifs: Sequence[Motif], path, per_side: int) -> bool:
    """Logos of each side's best-supported matched motifs (``-O logo_show=N`` per side; 0: none)."""
    from genofm.interpret.logos import motif_logo_figure

    by_id = {m.matrix_id: m for m in motifs}
    chosen = []
    for side, rows in per_motif.groupby("towards", sort=False):
        for row in rows.sort_values("support", ascending=False).head(max(0, per_side)).itertuples():
            if row.matrix_id in by_id:
                chosen.append((f"{row.tf_name} ({row.matrix_id}), towards {side}", by_id[row.matrix_id]))
    return motif_logo_figure(chosen, path)


def family_table(per_motif: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """TF families among each side's ``top`` motifs: best support and members (a heterodimer counts for both)."""
    columns = ["towards", "tf_family", "best_support", "n_motifs", "motifs"]
    if per_motif.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for side, motifs in per_motif.groupby("towards", sort=False):
        leading = motifs.head(top)
        families: dict[str, list] = {}
        for motif in leading.itertuples():
            for family in filter(None, (motif.tf_family or motif.tf_class or "unclassified").split("; ")):
                families.setdefault(family, []).append(motif)
        for family, members in families.items():
            rows.append({"towards": side, "tf_family": family, "best_support": max(m.support for m in members),
                         "n_motifs": len(members), "motifs": ", ".join(m.tf_name for m in members[:8])})
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["towards", "best_support", "n_motifs"], ascending=[True, False, False]).reset_index(drop=True)


def _support_plot(table: pd.DataFrame, path, show: int) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sides = list(dict.fromkeys(table["towards"]))
    fig = Figure(figsize=(5.6 * len(sides), max(2.5, 0.3 * show + 1.0)), layout="constrained")
    FigureCanvasAgg(fig)
    for i, side in enumerate(sides):
        ax = fig.add_subplot(1, len(sides), i + 1)
        rows = table[table["towards"] == side].head(show)[::-1]
        ax.barh(np.arange(len(rows)), rows["support"], color="#762a83" if i % 2 else "#1b7837")
        ax.set_yticks(np.arange(len(rows)), [f"{n} ({m})" for n, m in zip(rows["tf_name"], rows["matrix_id"])], fontsize=8)
        ax.set_xlabel("motif support")
        ax.set_title(f"towards {side}", fontsize=9)
    fig.savefig(path, format="png", dpi=120, bbox_inches="tight")
