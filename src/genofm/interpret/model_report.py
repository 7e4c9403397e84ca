"""``genofm-interpret model``: rank a model's features, run backbone explainers, write the report.

Everything goes into a temporary folder renamed into place at the end, so an interrupted run
leaves no half-written report. Explainers plug in through :data:`genofm.interpret.EXPLAINERS`
(linear and non-linear heads, by backbone) and :data:`genofm.interpret.SEQUENCE_EXPLAINERS`
(fine-tuned models); an explainer whose module is not installed yields a note, not a failure.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Sequence

import pandas as pd

from genofm.atomic import atomic_path
from genofm.errors import GenofmError
from genofm.interpret import EXPLAINERS, SEQUENCE_EXPLAINERS, ExplainContext, ReportSection, resolve
from genofm.interpret import report as html
from genofm.interpret.ranking import named_by_value
from genofm.options import for_backbone, names as option_names

log = logging.getLogger("genofm")

FEATURES_TSV = "features.tsv"
TOP_FEATURES_PNG = "top_features.png"


def _read_metrics(model_dir: Path) -> dict | None:
    path = model_dir / "metrics.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise GenofmError(f"{path}: corrupt JSON; re-run genofm-train") from None


def _dataset_rows(dataset: Path, document: dict) -> pd.DataFrame:
    from genofm.data.dataset import read_dataset

    frame, classes = read_dataset(dataset)
    if list(classes) != list(document["classes"]):
        raise GenofmError(f"{dataset}: classes {classes} differ from the model's {document['classes']}; pass the dataset it was trained on")
    return frame


def _rank_head(document: dict, model_dir: Path, frame: pd.DataFrame | None, dataset: Path | None,
               embeddings: Sequence[Path] | None, top: int, refits: int, seed: int, notes: list[str]) -> tuple[pd.DataFrame, str]:
    """Ranked features of a head, plus the x-axis label of its plot."""
    from genofm.heads.features import feature_matrix, groups_of, label_indices, model_columns
    from genofm.heads.store import load_head
    from genofm.interpret.ranking import bootstrap_stability, linear_ranking, permutation_ranking

    head = load_head(model_dir, document)
    names, classes = document["feature_names"], document["classes"]
    have_data = frame is not None and bool(embeddings)
    if bool(embeddings) != (frame is not None):
        notes.append("--dataset and --embeddings are only used together; one of them was ignored.")
    if have_data:
        from genofm.embeddings import read_embeddings

        paths = [Path(p) for p in embeddings]
        emb = read_embeddings(paths)
        columns = model_columns(emb, document, model_dir, paths)
    if head.linear:
        ranked = linear_ranking(head, names, classes)
        if have_data and refits > 0:
            train = frame[frame["split"] == "train"].reset_index(drop=True)
            X = feature_matrix(emb, train, columns, paths)
            y = label_indices(train, classes, dataset)
            log.info("refitting on %d bootstrap samples of %d training rows for stability", refits, len(train))
            ranked = bootstrap_stability(head, ranked, X, y, groups_of(train), classes, names, top, refits, seed)
        elif refits > 0:
            notes.append("Bootstrap stability was not computed: pass --dataset and --embeddings to refit on resampled training data.")
        return ranked, "standardised coefficient (log-odds per SD)"
    if not have_data:
        raise GenofmError(
            f"{model_dir}: a {document['head']} head is ranked by permutation importance on the test split; "
            "pass --dataset and --embeddings"
        )
    test = frame[(frame["split"] == "test") & ~frame["augmented"].fillna(False).astype(bool)].reset_index(drop=True)
    if test.empty:
        raise GenofmError("the dataset has no test rows for permutation importance; pass the dataset the model was trained on")
    X = feature_matrix(emb, test, columns, paths)
    y = label_indices(test, classes, dataset)
    notes.append("Non-linear head: features ranked by the drop in test AUROC when shuffled (permutation importance) "
                 "among the 200 features most associated with the labels; sign = direction of association.")
    return permutation_ranking(head, names, X, y, classes, repeats=max(1, min(refits, 5)), seed=seed), "importance (AUROC drop, signed)"


def _explain_stack(ranked: pd.DataFrame, document: dict, context: ExplainContext, top: int,
                   notes: list[str]) -> tuple[pd.DataFrame, list[ReportSection]]:
    """A joined model: one ranking across backbones, each backbone's share, then each backbone's own explainer.

    Each backbone's explainer sees only its features, with the label prefix removed and ranks
    recomputed among them, and the backbone's own provenance as the model's, so it explains them
    exactly as for a model trained on that backbone alone.
    """

    from genofm.embeddings import LABEL_SEPARATOR, feature_sources, members
    from genofm.interpret.ranking import backbone_shares

    names = document["feature_names"]
    sources = feature_sources(names, document["backbone"])
    ranked = ranked.assign(backbone=ranked["feature"].map(dict(zip(names, sources))))
    shares = backbone_shares(ranked, sources, names, top)
    sections = [ReportSection(
        "Backbones",
        f"The head joins {len(members(document['backbone']))} backbones ({document['backbone'].get('backbone')}); all "
        "features were standardised before fitting, so their weights are ranked together. weight_share: the backbone's "
        f"share of the summed absolute weights of each class; top_features / top_share: how many of the class's top {top} "
        "features it holds.",
        tables={"backbone_shares": shares},
    )]
    done = set()
    for member in members(document["backbone"]):
        label, name = member.get("label", member.get("backbone")), member.get("backbone")
        spec = EXPLAINERS.get(name)
        if spec is None or name in done:
            continue
        done.add(name)
        mine = ranked[ranked["backbone"] == label].drop(columns="backbone").copy()
        mine["feature"] = mine["feature"].str.slice(len(label) + len(LABEL_SEPARATOR))
        mine["rank"] = mine.groupby("class")["abs_coefficient"].rank(ascending=False, method="first").astype(int)
        mine = mine.sort_values(["class", "rank"]).reset_index(drop=True)
        member_doc = {**document, "backbone": member, "feature_names": list(mine["feature"].unique())}
        sub = dataclasses.replace(context, model=member_doc)
        for part in _run_explainer(spec, name, (mine, sub), notes):
            part.title = f"{label}: {part.title}"
            sections.append(part)
    return ranked, sections


def _evaluation_sections(document: dict, model_dir: Path, frame: pd.DataFrame, embeddings: Sequence[Path] | None,
                         out_dir: Path, seed: int, notes: list[str]) -> list[ReportSection]:
    """Sections every model gets when its dataset is passed: test metrics per length bin, and (heads on
    embeddings) a 2-D view of the embeddings coloured by label."""
    from genofm.evaluation.length_bins import length_bin_metrics, real_lengths

    sections = []
    classes = list(document["classes"])
    predictions = model_dir / "test_predictions.tsv"
    if predictions.is_file():
        table = pd.read_csv(predictions, sep="\t", dtype={"id": str, "label": str}, keep_default_na=False)
        sequences = frame.drop_duplicates("id").set_index("id")["sequence"]
        table = table[table["id"].isin(sequences.index) & table["label"].isin(classes)]
        if len(table):
            lengths = real_lengths(sequences.loc[table["id"]].tolist())
            truth = table["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
            bins = length_bin_metrics(lengths, truth, table[[f"prob_{c}" for c in classes]].to_numpy(dtype=float))
            if bins.empty:
                notes.append(f"All {len(table)} test sequences have the same length ({lengths[0]} bp), so there are no length bins.")
            else:
                sections.append(ReportSection(
                    "Test metrics by sequence length",
                    "Test sequences in quantile bins of their real length (window padding excluded); AUROC needs "
                    "every class in the bin. A model that only works in one length range shows it here.",
                    tables={"length_bins": bins},
                ))
    if document["kind"] == "head" and embeddings:
        from genofm.embeddings import read_embeddings
        from genofm.heads.features import feature_matrix, model_columns
        from genofm.interpret.projection import projection_section, sample_rows

        paths = [Path(p) for p in embeddings]
        emb = read_embeddings(paths)
        rows = sample_rows(frame, 2000, seed).reset_index(drop=True)
        X = feature_matrix(emb, rows, model_columns(emb, document, model_dir, paths), paths)
        sections.append(projection_section(X, rows["label"].to_numpy(), classes, out_dir, seed,
                                           "all splits, at most 2,000 sampled per class balance"))
    return sections


def _linear(document: dict) -> bool:
    """Whether a head's ranking holds standardised coefficients (else permutation importances)."""
    from genofm.heads import head_class

    return bool(head_class(document["head"]).linear)


def _run_explainer(spec: str | None, backbone: str, args: tuple, notes: list[str]) -> list[ReportSection]:
    """Run one explainer; its ExplainContext (the last argument) carries only the -O keys it declares."""
    if spec is None:
        return []
    try:
        function = resolve(spec)
    except ImportError as exc:
        notes.append(f"The {backbone} explainer is not available in this installation ({exc}).")
        return []
    *head, context = args
    declared = set(option_names(getattr(function, "options", None) or _NoOptions))
    mine = {key: value for key, value in for_backbone(context.options, backbone).items() if key.replace("-", "_") in declared}
    return list(function(*head, dataclasses.replace(context, options=mine)))


@dataclasses.dataclass
class _NoOptions:
    """The options of an explainer that takes none."""


def check_options(options: dict[str, str], explainers: list[tuple[str, str]]) -> None:
    """Refuse a ``-O`` key that none of the explainers about to run declares (``function.options``).

    ``BACKBONE:key`` names the explainer it is for and is dropped for models without that backbone
    (a front end may pass k-mer options whatever the model), as genofm-embed does.
    """
    if not options:
        return
    for_others = {key for key in options if ":" in key and key.rpartition(":")[0] not in {b for b, _ in explainers}}
    for_backbone({key: options[key] for key in for_others}, "")  # refuses a qualifier that is not a backbone
    declared: dict[str, str] = {}
    for backbone, spec in explainers:
        try:
            function = resolve(spec)
        except ImportError:
            continue
        for name in option_names(getattr(function, "options", None) or _NoOptions):
            declared.setdefault(name, backbone)
    unknown = sorted(key for key in options if key not in for_others and key.rpartition(":")[2].replace("-", "_") not in declared)
    if unknown:
        which = ", ".join(sorted({b for b, _ in explainers})) or "no explainer"
        raise GenofmError(
            f"-O {unknown[0]}: not an option of this model's explainers ({which}); "
            f"their options are {', '.join(sorted(declared)) or 'none'}"
        )


def interpret_model(
    model_dir: Path,
    output: Path,
    dataset: Path | None = None,
    embeddings: Sequence[Path] | None = None,
    weights: Path | None = None,
    top: int = 30,
    refits: int = 20,
    seed: int = 0,
    options: dict[str, str] | None = None,
    model_link: str | None = None,
) -> Path:
    """Write features.tsv, top_features.png, explainer tables/figures and report.html into ``output``."""
    from genofm.heads.store import read_model
    from genofm.plots import feature_bar_plot

    model_dir = Path(model_dir)
    document = read_model(model_dir)
    metrics = _read_metrics(model_dir)
    frame = _dataset_rows(Path(dataset), document) if dataset is not None else None
    backbone = document["backbone"].get("backbone", "?")
    if document["kind"] != "head":
        chosen = [(backbone, SEQUENCE_EXPLAINERS[backbone])] if backbone in SEQUENCE_EXPLAINERS else []
    elif document["backbone"].get("stack"):
        from genofm.embeddings import members

        chosen = [(m.get("backbone"), EXPLAINERS[m.get("backbone")]) for m in members(document["backbone"]) if m.get("backbone") in EXPLAINERS]
    else:
        chosen = [(backbone, EXPLAINERS[backbone])] if backbone in EXPLAINERS else []
    check_options(dict(options or {}), chosen)
    notes: list[str] = []
    with atomic_path(output, directory=True) as tmp:
        context = ExplainContext(out_dir=tmp, model=document, weights=Path(weights) if weights else None, dataset=frame,
                                 classes=list(document["classes"]), top=top, seed=seed, options=dict(options or {}))
        ranked = None
        if document["kind"] == "head":
            ranked, xlabel = _rank_head(document, model_dir, frame, dataset, embeddings, top, refits, seed, notes)
            if document["backbone"].get("stack"):
                ranked, sections = _explain_stack(ranked, document, context, top, notes)
            else:
                sections = _run_explainer(EXPLAINERS.get(backbone), backbone, (ranked, context), notes)
            named_by_value(ranked, _linear(document)).to_csv(tmp / FEATURES_TSV, sep="\t", index=False, na_rep="")
            feature_bar_plot(ranked, tmp / TOP_FEATURES_PNG, top=top, xlabel=xlabel, classes=document["classes"])
        elif backbone not in SEQUENCE_EXPLAINERS:
            notes.append(f"genofm has no sequence-level explainer for fine-tuned {backbone} models; only metrics are shown.")
            sections = []
        elif frame is None:
            notes.append("Sequence-level explanation needs --dataset (and --weights).")
            sections = []
        else:
            sections = _run_explainer(SEQUENCE_EXPLAINERS[backbone], backbone, (model_dir, frame, context), notes)
        if frame is not None:
            sections = [*_evaluation_sections(document, model_dir, frame, embeddings, tmp, seed, notes), *sections]
        for part in sections:
            for stem, table in part.tables.items():
                if (tmp / f"{stem}.tsv").exists():
                    raise RuntimeError(f"two report tables are both named {stem!r}; explainers must use distinct table names")
                table.to_csv(tmp / f"{stem}.tsv", sep="\t", index=False, na_rep="")
        html_text = _render(document, metrics, model_dir, ranked, sections, tmp, top, notes, model_link)
        (tmp / "report.html").write_text(html_text, encoding="utf-8")
    log.info("wrote %s", Path(output) / "report.html")
    return Path(output)


def _summary(document: dict) -> str:
    backbone = document["backbone"].get("backbone", "?")
    classes = document["classes"]
    task = (f"binary: {classes[-1]} (positive) vs {classes[0]}" if len(classes) == 2
            else f"{len(classes)} classes: {', '.join(classes)}")
    if document["kind"] == "head":
        what = f"a {document['head']} head on {len(document['feature_names'])} frozen {backbone} features"
        if document.get("feature_group"):
            what += f" (feature group {document['feature_group']})"
    elif backbone == "cnn":
        what = f"a CNN trained from scratch ({(document['backbone'].get('options') or {}).get('architecture', 'basset')} architecture)"
    else:
        what = f"a fine-tuned {backbone} model"
    return f"This report explains {what}, trained for a {task} task."


def _selection_section(document: dict, metrics: dict | None) -> str:
    """Validation metrics (what to choose by) and which split chose what while training."""
    valid = (metrics or {}).get("valid")
    parts = []
    if valid:
        parts.append(html.paragraph(
            f"Validation split (n = {valid.get('n')}): compare k, heads and models on these numbers; the test split "
            "below is for reporting the chosen model only."))
        parts.append(html.table(html.metrics_frame(valid)))
    else:
        parts.append(html.paragraph("No validation metrics: the dataset has no validation split (or the model folder "
                                    "predates them).", "note"))
    selection = document.get("selection") or {}
    if selection:
        parts.append(html.paragraph("Which data chose what while training:"))
        parts.append(html.definition_list(selection.items()))
    return html.section("Model selection (validation split)", *parts)


def _top_per_side(ranked: pd.DataFrame, top: int, classes: list[str]) -> pd.DataFrame:
    """The ``top`` features of each class; for a binary head, of each side (the class a feature pushes towards)."""
    if len(classes) == 2 and "towards" in ranked.columns:
        ordered = ranked.sort_values("abs_coefficient", ascending=False, kind="stable")
        shown = ordered.groupby("towards", sort=False, group_keys=False).head(top).copy()
        shown["rank"] = shown.groupby("towards")["abs_coefficient"].rank(ascending=False, method="first").astype(int)
        order = {c: i for i, c in enumerate(reversed(classes))}  # the positive class first
        return shown.sort_values(["towards", "rank"], key=lambda col: col.map(order) if col.name == "towards" else col)
    return ranked[ranked["rank"] <= top]


def _rows_per_side(frame: pd.DataFrame, max_rows: int) -> tuple[pd.DataFrame, str]:
    """At most ``max_rows`` rows, shared out over the classes of a ``towards`` (or ``class``) column.

    A table sorted by class would otherwise show only its first class's rows.
    """
    key = next((c for c in ("towards", "class") if c in frame.columns), None)
    if len(frame) <= max_rows or key is None or frame[key].nunique() < 2:
        return frame.head(max_rows), ""
    per = max(1, max_rows // frame[key].nunique())
    return frame.groupby(key, sort=False, group_keys=False).head(per), f"First {per} rows per {key}. "


def _feature_meaning(document: dict) -> list[str]:
    """Each backbone's explanation of its feature names (``Backbone.feature_help``)."""
    from genofm.backbones import REGISTRY, backbone_class

    prov = document["backbone"]
    names = [m.get("backbone") for m in prov.get("stack") or []] or [prov.get("backbone")]
    texts = []
    for name in dict.fromkeys(names):
        if name not in REGISTRY:
            continue
        try:
            help_text = backbone_class(name).feature_help
        except ImportError:
            continue
        if help_text:
            texts.append(f"{name}: {help_text}")
    return texts


def _render(document: dict, metrics: dict | None, model_dir: Path, ranked: pd.DataFrame | None,
            sections: list[ReportSection], out_dir: Path, top: int, notes: list[str], model_link: str | None = None) -> str:
    dataset = document.get("dataset") or {}
    backbone = document["backbone"]
    head = document.get("head", "fine-tuned")
    title = f"genofm: {dataset.get('name', 'model')} - {backbone.get('backbone', '?')} + {head}"
    blocks = [html.paragraph(_summary(document))]

    blocks.append(_selection_section(document, metrics))
    if metrics:
        blocks.append(html.section(
            f"Test performance (n = {metrics.get('n')}, {metrics.get('averaging')})",
            html.table(html.metrics_frame(metrics)),
            html.paragraph(f"95% intervals from {metrics.get('bootstrap', {}).get('replicates')} class-stratified bootstrap "
                           "replicates of the test split.", "note"),
            html.table(html.per_class_frame(metrics)),
            html.image(model_dir / "roc_curve.png", "ROC curve on the test split"),
            html.image(model_dir / "pr_curve.png", "Precision-recall curve on the test split"),
        ))
    else:
        notes.append(f"{model_dir / 'metrics.json'} is missing, so no test metrics are shown.")

    if ranked is not None:
        shown = named_by_value(_top_per_side(ranked, top, document["classes"]), _linear(document))
        binary = len(document["classes"]) == 2 and "towards" in shown.columns
        keep = [c for c in ["towards" if binary else "class", "rank", "backbone", "feature", "coefficient", "permutation_importance",
                            *([] if binary else ["towards"]), "stability", "cv_mean", "cv_sd",
                            "cv_same_sign", "importance_sd"] if c in shown.columns]
        blocks.append(html.section(
            "Top features",
            html.paragraph("Coefficients are on standardised features (change in log-odds per standard deviation), so they "
                           "compare across features of any scale; stability is the share of bootstrap refits in which the "
                           "feature stays in the top list with the same sign; cv_mean/cv_sd summarise the cross-validation fits."
                           if "cv_mean" in ranked.columns or document.get("head") == "logreg" else ""),
            html.image(out_dir / TOP_FEATURES_PNG, "Top features by class"),
            html.table(shown[keep], max_rows=len(shown), note=f"Top {top} per class; all features: {FEATURES_TSV}"),
        ))
        meaning = _feature_meaning(document)
        if meaning:
            blocks.append(html.section("What the feature names mean", *[html.paragraph(text) for text in meaning],
                                       html.paragraph("Also in docs/features.md.", "note")))

    for part in sections:
        parts = [html.paragraph(part.text)]
        parts += [html.image(out_dir / name, Path(name).stem.replace("_", " ")) for name in part.figures]
        for stem, frame in part.tables.items():
            parts.append(f"<h3>{html.esc(stem.replace('_', ' '))}</h3>")
            frame, note = _rows_per_side(frame, 25)
            parts.append(html.table(frame, max_rows=len(frame), note=f"{note}Full table: {stem}.tsv"))
        blocks.append(html.section(part.title, *parts))

    provenance = [
        ("backbone", backbone.get("backbone")),
        ("backbone options", json.dumps(backbone.get("options"), sort_keys=True)),
        ("weights", backbone.get("weights_name")),
        ("weights sha256", backbone.get("weights_sha256")),
        ("features", backbone.get("n_features")),
        ("strand averaging", backbone.get("rc_average")),
        ("embedding files", ", ".join(document.get("embeddings", []))),
        ("head", head),
        ("chosen C", (document.get("head_state") or {}).get("C")),
        ("seed", document.get("seed")),
        ("model created", document.get("created")),
        ("model folder (from this report)", model_link or str(model_dir)),
        ("genofm version (training)", document.get("genofm_version")),
        ("torch version (embedding)", backbone.get("torch_version")),
    ]
    for member in backbone.get("stack") or []:
        provenance.append((f"backbone {member.get('label')}", json.dumps(
            {k: member.get(k) for k in ("backbone", "options", "weights_name", "weights_sha256", "n_features", "rc_average")},
            sort_keys=True)))
    parts = [html.definition_list(provenance)]
    if dataset.get("counts"):
        counts = pd.DataFrame(dataset["counts"]).T.reset_index(names="split")
        parts.append(html.paragraph(f"Dataset {dataset.get('path', '')}: rows per split and class "
                                    f"({dataset.get('n_train_augmented', 0)} reverse-complement copies in train)."))
        parts.append(html.table(counts))
    blocks.append(html.section("Provenance", *parts))
    if notes:
        blocks.append(html.section("Notes", *[html.paragraph(n, "note") for n in notes]))
    return html.page(title, blocks)
