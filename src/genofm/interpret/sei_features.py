"""Reading a head trained on Sei features as biology: which factors, marks and cell types drive it.

A coefficient on one of Sei's 21,907 outputs names a cell type, an assay (TF, histone mark or
accessibility) and a data source. One factor is usually profiled in many cell types and labs,
so single profiles are noisy evidence; the aggregates here ask instead whether a factor's
profiles *as a group* push towards a class - the mean standardised coefficient over its profiles
and the fraction of them with a positive sign (1.0: every profile of that factor points towards
the class; 0.5: no consistent direction) - and how each assay family (TFs, histone marks,
accessibility) contributes. With ``--weights`` and ``--dataset`` it also runs Sei on the dataset
and reports the mean sequence-class score per label (e.g. whether positives look more like
promoters or Polycomb regions).

Families come from ``histone_inds.npy`` when ``--weights`` is given, else from assay names
(:mod:`genofm.backbones.sei_targets`; both give the same split on the official release).
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from genofm.backbones.sei_targets import FAMILIES, assay_family, normalise_assay, parse_target
from genofm.errors import GenofmError
from genofm.interpret import ExplainContext, ReportSection
from genofm.options import from_pairs, option

log = logging.getLogger("genofm.interpret")

TOP_PNG = "sei_top_features.png"
ASSAY_PNG = "sei_assay_aggregate.png"
SEQCLASS_PNG = "sei_seqclass_by_label.png"
#: cap on sequences embedded for the sequence-class profile (override with -O seqclass_max=N)
SEQCLASS_MAX = 2000
_SEQCLASS_GROUP = re.compile(r"^([A-Za-z]+)\d*\b")


def explain(ranked: pd.DataFrame, context: ExplainContext) -> list[ReportSection]:
    """Report sections for a head on Sei features (chromatin profiles or sequence classes)."""
    annotated = annotate(ranked, _histone_names(context.weights))
    sections: list[ReportSection] = []
    if annotated.empty:
        sections.append(_non_profile_section(ranked))
    else:
        sections += [
            _top_section(annotated, context),
            _assay_section(annotated, context),
            _family_section(annotated, context),
        ]
    sections.append(_seqclass_section(context))
    return sections


# --- tables ------------------------------------------------------------------------------------

def annotate(ranked: pd.DataFrame, histone_names: set[str] | None = None) -> pd.DataFrame:
    """Rows of ``ranked`` that name a chromatin profile, split into cell type, assay, source, family."""
    parsed = [parse_target(f) for f in ranked["feature"]]
    keep = np.array([p is not None for p in parsed], dtype=bool)
    rows = ranked.loc[keep].copy()
    targets = [p for p in parsed if p is not None]
    rows["cell_type"] = [t.cell_type for t in targets]
    rows["assay"] = [t.assay for t in targets]
    rows["source"] = [t.source for t in targets]
    rows["replicate"] = [t.replicate for t in targets]
    if histone_names is not None:
        rows["family"] = [assay_family(t.assay, t.name in histone_names) for t in targets]
    else:
        rows["family"] = [assay_family(t.assay) for t in targets]
    rows["assay_key"] = [normalise_assay(t.assay) for t in targets]
    return rows.reset_index(drop=True)


def assay_aggregate(annotated: pd.DataFrame) -> pd.DataFrame:
    """One row per class and factor/assay (spelling variants merged) across cell types and sources.

    Sorted by ``score`` = sum of coefficients / sqrt(number of profiles), which ranks a factor
    whose many profiles agree above one carried by a single strong profile.
    """
    records = []
    for (klass, key), group in annotated.groupby(["class", "assay_key"], sort=False):
        coef = group["coefficient"].to_numpy(dtype=float)
        strongest = group.loc[group["abs_coefficient"].idxmax()]
        records.append(
            {
                "class": klass,
                "assay": group["assay"].mode().iloc[0],
                "family": group["family"].mode().iloc[0],
                "n_profiles": len(group),
                "n_cell_types": group["cell_type"].nunique(),
                "mean_coefficient": coef.mean(),
                "score": coef.sum() / np.sqrt(len(coef)),
                "frac_positive": float((coef > 0).mean()),
                "mean_abs_coefficient": float(np.abs(coef).mean()),
                "best_rank": int(group["rank"].min()),
                "strongest_profile": strongest["feature"],
            }
        )
    table = pd.DataFrame.from_records(records)
    if table.empty:
        return table
    table["order"] = -table["score"].abs()
    table = table.sort_values(["class", "order", "best_rank"]).drop(columns="order")
    return table.reset_index(drop=True)


def family_aggregate(annotated: pd.DataFrame, top: int) -> pd.DataFrame:
    """Per class and assay family: size, mean and mean |coefficient|, sign balance, share of the top ``top``."""
    records = []
    for klass, rows in annotated.groupby("class", sort=False):
        in_top = rows["rank"] <= top
        n_top = max(int(in_top.sum()), 1)
        for family in FAMILIES:
            group = rows[rows["family"] == family]
            coef = group["coefficient"].to_numpy(dtype=float)
            records.append(
                {
                    "class": klass,
                    "family": family,
                    "n_profiles": len(group),
                    "mean_coefficient": coef.mean() if len(coef) else np.nan,
                    "mean_abs_coefficient": np.abs(coef).mean() if len(coef) else np.nan,
                    "frac_positive": float((coef > 0).mean()) if len(coef) else np.nan,
                    "n_in_top": int((in_top & (rows["family"] == family)).sum()),
                    "share_of_top": int((in_top & (rows["family"] == family)).sum()) / n_top,
                }
            )
    return pd.DataFrame.from_records(records)


def top_profiles(annotated: pd.DataFrame, top: int) -> pd.DataFrame:
    columns = ["class", "rank", "cell_type", "assay", "source", "replicate", "family", "coefficient", "stability", "feature"]
    present = [c for c in columns if c in annotated.columns]
    frames = [g.nsmallest(top, "rank") for _, g in annotated.groupby("class", sort=False)]
    return pd.concat(frames, ignore_index=True)[present]


# --- sections ----------------------------------------------------------------------------------

def _top_section(annotated: pd.DataFrame, context: ExplainContext) -> ReportSection:
    table = top_profiles(annotated, context.top)
    _bar_figure(
        table, label=lambda r: f"{r['assay']} | {r['cell_type']}", value="coefficient", colour_by="family",
        path=Path(context.out_dir) / TOP_PNG, title="top Sei profiles", xlabel="coefficient",
    )
    text = (
        f"The {context.top} highest-ranked Sei chromatin profiles per class, split into cell type, assay and "
        "source (colour: assay family). Positive coefficients push towards the class."
    )
    return ReportSection("Sei chromatin profiles: top features", text, tables={"sei_top_features": table}, figures=[TOP_PNG])


def _assay_section(annotated: pd.DataFrame, context: ExplainContext) -> ReportSection:
    table = assay_aggregate(annotated)
    tf = table[table["family"] == "tf"]
    plot_rows = pd.concat([g.head(context.top) for _, g in tf.groupby("class", sort=False)]) if not tf.empty else tf
    _bar_figure(
        plot_rows, label=lambda r: f"{r['assay']} (n={r['n_profiles']})", value="mean_coefficient", colour_by="frac_positive",
        path=Path(context.out_dir) / ASSAY_PNG, title="TFs and cofactors across cell types", xlabel="mean coefficient over profiles",
    )
    consistent = tf[(tf["n_profiles"] >= 2) & ((tf["frac_positive"] >= 0.8) | (tf["frac_positive"] <= 0.2))]
    names = ", ".join(html.escape(a) for a in consistent.head(8)["assay"])
    text = (
        "Profiles aggregated by factor or assay across cell types and sources: mean standardised coefficient, "
        "fraction of profiles with a positive coefficient (how consistently the factor pushes towards the class), "
        "number of profiles, and score = sum of coefficients / sqrt(profiles), by which the table is sorted. "
        "Colour in the figure: the positive fraction (red = consistently towards the class)."
    )
    if names:
        text += f" Factors with a consistent direction over at least two profiles: {names}."
    return ReportSection("Sei: factors and assays across cell types", text, tables={"sei_assay_aggregate": table}, figures=[ASSAY_PNG])


def _family_section(annotated: pd.DataFrame, context: ExplainContext) -> ReportSection:
    table = family_aggregate(annotated, context.top)
    text = (
        "Contribution of each assay family - TFs and cofactors, histone marks, accessibility (DNase/ATAC) - "
        f"with its share of the top {context.top} features."
    )
    return ReportSection("Sei: assay families", text, tables={"sei_family_aggregate": table})


def _non_profile_section(ranked: pd.DataFrame) -> ReportSection:
    groups = [_SEQCLASS_GROUP.match(str(f)) for f in ranked["feature"]]
    if all(g is not None for g in groups) and not any(str(f).startswith("trunk_") for f in ranked["feature"]):
        frame = ranked.assign(group=[g.group(1) for g in groups])
        table = (
            frame.groupby(["class", "group"], sort=False)
            .agg(n_classes=("feature", "size"), mean_coefficient=("coefficient", "mean"), best_rank=("rank", "min"))
            .reset_index()
            .sort_values(["class", "best_rank"])
        )
        text = ("The head was trained on Sei sequence-class scores; classes grouped by type "
                "(P promoter, E enhancer, TF, CTCF, TN transcription, PC Polycomb, HET heterochromatin, L low signal).")
        return ReportSection("Sei sequence classes", text, tables={"sei_seqclass_groups": table})
    return ReportSection(
        "Sei chromatin profiles",
        "The features are Sei trunk activations, which have no biological names; embed with -O output=chromatin "
        "(or seqclass) for an interpretable head.",
    )


def _seqclass_section(context: ExplainContext) -> ReportSection:
    title = "Sei sequence classes per label"
    if context.weights is None or context.dataset is None:
        return ReportSection(title, "Not computed: pass --weights (the Sei release folder) and --dataset to profile each "
                                    "label by Sei's 40 sequence classes.")
    table = seqclass_by_label(context)
    if table is None:
        return ReportSection(title, "Not computed: the dataset has no (non-augmented) rows to profile.")
    long = table.set_index("sequence_class")
    labels = [c for c in long.columns if not c.startswith("difference")]
    _heatmap(long[labels], Path(context.out_dir) / SEQCLASS_PNG)
    text = (
        f"Mean Sei sequence-class score of each label's sequences (up to {_settings(context).seqclass_max} "
        "sequences, same window length as the embeddings). Higher means the sequences look more like that class."
    )
    return ReportSection(title, text, tables={"sei_seqclass_by_label": table}, figures=[SEQCLASS_PNG])


def seqclass_by_label(context: ExplainContext) -> pd.DataFrame | None:
    """Run Sei (seqclass output) on a per-label-balanced sample of the dataset; mean score per label."""
    from genofm.backbones.sei import SeiBackbone, SeiOptions

    frame = context.dataset
    if "augmented" in frame.columns:
        frame = frame[~frame["augmented"].fillna(False).astype(bool)]
    if frame.empty:
        return None
    settings = _settings(context)
    limit = settings.seqclass_max
    labels = list(context.classes) or sorted(frame["label"].unique())
    per_label = max(1, limit // max(len(labels), 1))
    sample = pd.concat(
        [g.sample(min(len(g), per_label), random_state=context.seed) for _, g in frame.groupby("label", sort=False)]
    )
    options = dict((context.model.get("backbone") or {}).get("options") or {})
    length = settings.length or int(options.get("length", 4096))
    backbone = SeiBackbone(SeiOptions(output="seqclass", length=length), context.weights)
    batch = settings.batch_size or backbone.default_batch_size
    sequences = sample["sequence"].tolist()
    log.info("sei: scoring %d sequences by sequence class at %d bp", len(sequences), length)
    scores = np.concatenate([backbone.embed_batch(sequences[i : i + batch]) for i in range(0, len(sequences), batch)])
    table = pd.DataFrame({"sequence_class": backbone.feature_names})
    sample_labels = sample["label"].to_numpy()
    for label in labels:
        mask = sample_labels == label
        table[label] = scores[mask].mean(axis=0) if mask.any() else np.nan
    if len(labels) == 2:
        table[f"difference ({labels[1]} - {labels[0]})"] = table[labels[1]] - table[labels[0]]
    return table


# --- helpers -----------------------------------------------------------------------------------

@dataclasses.dataclass
class SeiExplainOptions:
    """``genofm-interpret -O key=value`` options of the Sei explainer (its sequence-class profile)."""

    seqclass_max: int = option(SEQCLASS_MAX, "sequences (balanced over labels) profiled by sequence class at most")
    length: int = option(0, "window in bp for the sequence-class profile; 0: the embeddings' window (4096 when unknown)")
    batch_size: int = option(0, "sequences per forward pass; 0: the Sei backbone's default")

    def check(self) -> "SeiExplainOptions":
        for name in ("seqclass_max", "length", "batch_size"):
            if getattr(self, name) < (1 if name == "seqclass_max" else 0):
                raise GenofmError(f"Sei interpretation option {name}={getattr(self, name)} is out of range")
        return self


def _settings(context: ExplainContext) -> SeiExplainOptions:
    return from_pairs(SeiExplainOptions, context.options, "Sei interpretation").check()


def _histone_names(weights: Path | None) -> set[str] | None:
    """Names of the histone profiles per ``histone_inds.npy``, when a release folder was given."""
    if weights is None:
        return None
    folder = Path(weights)
    names, inds = folder / "target.names", folder / "histone_inds.npy"
    if not (names.is_file() and inds.is_file()):
        return None
    lines = [line.strip() for line in names.read_text().splitlines() if line.strip()]
    indices = np.load(inds, allow_pickle=False)
    targets = [parse_target(lines[i]) for i in indices if 0 <= i < len(lines)]
    return {t.name for t in targets if t is not None}


_FAMILY_COLOURS = {"tf": "#1b9e77", "histone": "#d95f02", "accessibility": "#7570b3"}


def _bar_figure(table: pd.DataFrame, label, value: str, colour_by: str, path: Path, title: str, xlabel: str) -> None:
    panels = list(dict.fromkeys(table["class"])) if not table.empty else []
    n = max(1, len(panels))
    longest = max([len(table[table["class"] == p]) for p in panels] or [1])
    fig = Figure(figsize=(6.4 * n, max(2.5, 0.22 * longest + 1.2)))
    from matplotlib import colormaps

    cmap = colormaps["coolwarm"]
    for i, klass in enumerate(panels or ["(none)"]):
        ax = fig.add_subplot(1, n, i + 1)
        rows = table[table["class"] == klass][::-1] if panels else table
        if colour_by == "family":
            colours = [_FAMILY_COLOURS.get(f, "grey") for f in rows["family"]]
        else:
            colours = [cmap(float(v)) for v in rows[colour_by]]
        ax.barh(np.arange(len(rows)), rows[value].to_numpy(dtype=float), color=colours)
        ax.set_yticks(np.arange(len(rows)), [str(label(r))[:60] for _, r in rows.iterrows()], fontsize=7)
        ax.axvline(0, color="black", lw=0.6)
        ax.set_xlabel(xlabel)
        ax.set_title(f"{title}: {klass}", fontsize=9)
        if colour_by != "family":
            from matplotlib.cm import ScalarMappable
            from matplotlib.colors import Normalize

            fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, label="fraction of profiles with coefficient > 0", shrink=0.6)
    if colour_by == "family":
        from matplotlib.patches import Patch

        fig.legend(handles=[Patch(color=c, label=f) for f, c in _FAMILY_COLOURS.items()], loc="lower right", fontsize=7)
    _save(fig, path)


def _heatmap(values: pd.DataFrame, path: Path) -> None:
    fig = Figure(figsize=(1.2 * values.shape[1] + 3.5, 0.2 * values.shape[0] + 1.5))
    ax = fig.add_subplot()
    image = ax.imshow(values.to_numpy(dtype=float), aspect="auto", cmap="viridis")
    ax.set_yticks(np.arange(values.shape[0]), [str(i)[:40] for i in values.index], fontsize=6)
    ax.set_xticks(np.arange(values.shape[1]), list(values.columns), fontsize=8, rotation=30, ha="right")
    fig.colorbar(image, ax=ax, label="mean sequence-class score")
    _save(fig, path)


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=110, bbox_inches="tight")


explain.options = SeiExplainOptions  # its -O keys (genofm.interpret.model_report checks them)
