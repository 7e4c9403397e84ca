"""``genofm-interpret compare``: one table and one page across model folders.

The pipeline trains every (dataset x backbone x head) combination and calls this once, so the
question "which representation works best for which task" is answered by a single TSV with test
metrics and their bootstrap intervals, plus a bar chart of AUROC with its interval. Validation
metrics (``valid_<metric>``) sit beside them: choose on those, report on test.

Rows are named by backbone and the options that tell models apart (``kmer k=6``), so two models
differing only by an option stay distinguishable. Models that differ only by their seed are
summarised as one ``seeds`` row (mean and sd of every metric) plus an ``ensemble`` row (their
averaged probabilities, scored like any model), next to the individual seeds. On request
(``select_ensemble``), each dataset also gets a ``selected`` row: the weighted mix of its models
chosen by greedy selection on the validation split (genofm.evaluation.ensemble_selection).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import pandas as pd

from genofm.atomic import atomic_path
from genofm.errors import GenofmError
from genofm.evaluation.metrics import METRICS
from genofm.interpret import report as html

COMPARISON_TSV = "comparison.tsv"
COMPARISON_HTML = "comparison.html"
#: validation metrics shown in comparison.html (comparison.tsv has valid_<metric> for every metric)
VALID_SHOWN = ("auroc", "mcc", "accuracy")
#: what a comparison row is: one model folder, the mean +- sd of several seeds, their ensemble, or the
#: ensemble of a dataset's models selected on validation
ROW_KINDS = ("model", "seeds", "ensemble", "selected")

log = logging.getLogger("genofm")


def _members(provenance: dict) -> list[dict]:
    """Every backbone behind a model (several for a stacked head on joined embeddings)."""
    return list(provenance.get("stack") or [provenance])


def _default_options(backbone: str) -> dict:
    """The registered backbone's option defaults ({} for names outside the registry, e.g. fine-tuned-only models)."""
    from genofm.backbones import REGISTRY, backbone_class

    if backbone not in REGISTRY:
        return {}
    try:
        return backbone_class(backbone).Options().to_dict()
    except Exception:  # an optional dependency missing: name the options without defaults
        return {}


def _shown_options(rows: list[dict]) -> dict[str, list[str]]:
    """Per backbone, the option keys worth naming: those off the default or varying between compared models."""
    values: dict[str, dict[str, set]] = {}
    for row in rows:
        for member in _members(row["_provenance"]):
            per_key = values.setdefault(str(member.get("backbone", "?")), {})
            for key, value in (member.get("options") or {}).items():
                per_key.setdefault(key, set()).add(json.dumps(value, sort_keys=True, default=str))
    shown = {}
    for backbone, per_key in values.items():
        defaults = {k: json.dumps(v, sort_keys=True, default=str) for k, v in _default_options(backbone).items()}
        shown[backbone] = [k for k, seen in per_key.items() if len(seen) > 1 or seen != {defaults.get(k)}]
    return shown


def model_label(provenance: dict, shown: dict[str, list[str]]) -> str:
    """``kmer k=6``; ``kmer k=6 + spliceai`` for a stacked head."""
    parts = []
    for member in _members(provenance):
        backbone = str(member.get("backbone", "?"))
        options = member.get("options") or {}
        keys = [k for k in shown.get(backbone, []) if k in options]
        parts.append(" ".join([backbone, *(f"{k}={options[k]}" for k in keys)]))
    return " + ".join(parts)


def comparison_row(model_dir: Path, dataset_name: str | None = None) -> dict:
    """Test metrics and identity of one model folder."""
    from genofm.heads.store import read_model

    document = read_model(model_dir)
    path = model_dir / "metrics.json"
    if not path.is_file():
        raise GenofmError(f"{path}: not found; the model folder is incomplete, re-run genofm-train")
    try:
        document_metrics = json.loads(path.read_text())
        metrics = document_metrics["metrics"]
        valid = (document_metrics.get("valid") or {}).get("metrics") or {}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise GenofmError(f"{path}: not a genofm metrics file; re-run genofm-train") from None
    data = document.get("dataset") or {}
    dataset = dataset_name or data.get("name") or model_dir.name
    provenance = document["backbone"]
    backbone = "+".join(str(m.get("backbone", "?")) for m in _members(provenance))
    head = document.get("head") if document["kind"] == "head" else "finetuned"
    row = {
        "name": "",
        "kind": "model",
        "dataset": dataset,
        "model": "",
        "backbone": backbone,
        "options": json.dumps([m.get("options") or {} for m in _members(provenance)] if provenance.get("stack")
                              else provenance.get("options") or {}, sort_keys=True, default=str),
        "head": head,
        "seed": document.get("seed"),
        "n_seeds": 1,
        "feature_group": document.get("feature_group") or "",
        "n_features": len(document.get("feature_names", [])) or None,
        "n_train": data.get("n_train"),
        "n_test": data.get("n_test"),
        "classes": ",".join(document["classes"]),
        "positive_class": document_metrics.get("positive_class") or "",
        "chance_auroc": 0.5,
        "chance_auprc": _chance_auprc(document_metrics),
    }
    _fill_metrics(row, metrics)
    for name in METRICS:  # validation point estimates: what to choose a model by
        row[f"valid_{name}"] = (valid.get(name) or {}).get("value")
    row["model_dir"] = str(model_dir)
    row["_provenance"] = provenance
    return row


def _chance_auprc(document_metrics: dict) -> float | None:
    """AUPRC of a random ranking: the positive class's share of the test split (binary tasks)."""
    positive, counts = document_metrics.get("positive_class"), document_metrics.get("class_counts") or {}
    total = sum(counts.values())
    return round(counts[positive] / total, 4) if positive in counts and total else None


def _fill_metrics(row: dict, metrics: dict) -> None:
    for name in METRICS:
        entry = metrics.get(name) or {}
        row[name] = entry.get("value")
        row[f"{name}_sd"] = None
        row[f"{name}_ci_low"] = entry.get("ci_low")
        row[f"{name}_ci_high"] = entry.get("ci_high")


def _seed_rows(group: list[dict], n_bootstrap: int) -> list[dict]:
    """The ``seeds`` (mean +- sd) and ``ensemble`` rows of models that differ only by their seed."""
    from genofm.evaluation.seeds import ensemble_metrics, metric_spread

    first = group[0]
    seeds = sorted(int(r["seed"]) for r in group)
    common = {k: first[k] for k in ("dataset", "model", "backbone", "options", "head", "feature_group", "n_features",
                                    "n_train", "n_test", "classes", "positive_class", "chance_auroc", "chance_auprc")}
    spread = {"kind": "seeds", **common, "seed": ",".join(map(str, seeds)), "n_seeds": len(group),
              "name": f"{first['name']} (mean of {len(group)} seeds)", "model_dir": ""}
    for name in METRICS:
        spread[f"{name}_ci_low"] = spread[f"{name}_ci_high"] = None
    spread.update(metric_spread(group))
    ensemble = {"kind": "ensemble", **common, "seed": spread["seed"], "n_seeds": len(group),
                "name": f"{first['name']} (ensemble of {len(group)} seeds)", "model_dir": "", "report": ""}
    _fill_metrics(ensemble, ensemble_metrics([Path(r["model_dir"]) for r in group], first["classes"].split(","),
                                             n_bootstrap=n_bootstrap, seed=0)["metrics"])
    return [spread, ensemble]


def _selected_row(group: list[dict], n_bootstrap: int) -> dict:
    """The ``selected`` row of one dataset's models: greedy selection on validation log-loss, test metrics
    of the weighted mix. Its validation metrics are those it was selected on, so they flatter it."""
    from genofm.evaluation.ensemble_selection import select_ensemble
    from genofm.evaluation.seeds import ensemble_metrics

    first = group[0]
    other = next((r for r in group if r["classes"] != first["classes"]), None)
    if other is not None:
        raise GenofmError(f"{other['model_dir']}: classes {other['classes']} differ from {first['model_dir']}'s "
                          f"{first['classes']}; an ensemble mixes models of one task (give each dataset its own --name)")
    classes = first["classes"].split(",")
    by_dir = {Path(r["model_dir"]): r for r in group}
    weights = select_ensemble(list(by_dir), classes)
    members = "; ".join(f"{by_dir[d]['name']} {w:.2f}" for d, w in sorted(weights.items(), key=lambda item: -item[1]))
    row = {"kind": "selected", "dataset": first["dataset"], "model": "selected ensemble",
           "backbone": "+".join(dict.fromkeys(by_dir[d]["backbone"] for d in weights)), "options": "", "head": "ensemble",
           "seed": "", "n_seeds": "", "feature_group": "", "n_train": first["n_train"], "n_test": first["n_test"],
           **{k: first[k] for k in ("classes", "positive_class", "chance_auroc", "chance_auprc")},
           "name": f"{first['dataset']} selected ensemble of {len(weights)}/{len(group)} models", "model_dir": "",
           "report": "", "members": members}
    _fill_metrics(row, ensemble_metrics(list(weights), classes, n_bootstrap=n_bootstrap, seed=0, weights=list(weights.values()))["metrics"])
    valid = ensemble_metrics(list(weights), classes, n_bootstrap=0, split="valid", weights=list(weights.values()))["metrics"]
    for name in METRICS:
        row[f"valid_{name}"] = (valid.get(name) or {}).get("value")
    return row


def compare_models(model_dirs: Sequence[Path], names: Sequence[str] | None = None, n_bootstrap: int = 1000,
                   model_link: str | None = None, report_link: str | None = None,
                   shown_as: Sequence[Path] | None = None, select_ensemble: bool = False) -> pd.DataFrame:
    """One row per model folder, plus seeds/ensemble rows for models differing only by seed (and, with
    ``select_ensemble``, one ``selected`` row per dataset of two or more models); sorted by dataset then
    AUROC (best first).

    ``model_link`` / ``report_link``: where each model folder and its interpret report are published,
    relative to the comparison folder, with ``{dataset}`` and ``{folder}`` (the model folder's name)
    filled in, e.g. ``../{dataset}/train/{folder}``; the pipeline passes its publishing layout. Without
    them, ``model_dir`` is the folder as given (``shown_as``: the paths the user gave, when
    ``model_dirs`` are unpacked archives), and no report is linked.
    """
    if not model_dirs:
        raise GenofmError("no model folders given; pass one or more genofm-train output folders")
    if names and len(names) != len(model_dirs):
        raise GenofmError(f"{len(names)} --name value(s) for {len(model_dirs)} model folders; give one per folder or none")
    rows = [comparison_row(Path(d), names[i] if names else None) for i, d in enumerate(model_dirs)]
    shown_dirs: list[str] = []
    for row, folder in zip(rows, shown_as or model_dirs):
        fill = {"dataset": row["dataset"], "folder": Path(folder).name}
        shown_dirs.append(model_link.format(**fill) if model_link else str(folder))
        row["report"] = report_link.format(**fill) if report_link else ""
    shown = _shown_options(rows)
    for row in rows:
        row["model"] = model_label(row.pop("_provenance"), shown)
        row["name"] = f"{row['dataset']} {row['model']} {row['head']}" + (f" [{row['feature_group']}]" if row["feature_group"] else "")
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["model"], row["head"], row["feature_group"]), []).append(row)
    extra = []
    for group in groups.values():
        if len(group) < 2:
            continue
        if len({r["seed"] for r in group}) < len(group) or any(r["seed"] is None for r in group):
            log.warning("%d models named %r share a seed; listed separately, not as seeds of one model", len(group), group[0]["name"])
            continue
        extra.extend(_seed_rows(group, n_bootstrap))
    if select_ensemble:
        datasets: dict[str, list[dict]] = {}
        for row in rows:
            datasets.setdefault(row["dataset"], []).append(row)
        for dataset, group in datasets.items():
            if len(group) < 2:
                log.warning("dataset %r has one model; no ensemble to select", dataset)
                continue
            extra.append(_selected_row(group, n_bootstrap))
    for row, shown_dir in zip(rows, shown_dirs):  # after the ensembles, which read the real folders
        row["model_dir"] = shown_dir
    table = pd.DataFrame(rows + extra)
    for column in ("n_features", "n_train", "n_test"):  # counts stay integers beside rows that have none
        table[column] = pd.array(table[column], dtype="Int64")
    return table.sort_values(["dataset", "auroc"], ascending=[True, False], na_position="last").reset_index(drop=True)


def _task_line(table: pd.DataFrame) -> str:
    """Per dataset: which class is positive, and what a random ranking would score (the chance line)."""
    parts = []
    for dataset, rows in table.groupby("dataset", sort=False):
        first = rows.iloc[0]
        if first.get("positive_class"):
            auprc = first.get("chance_auprc")
            chance = f"chance AUROC 0.5, chance AUPRC {auprc:.3f} (the positive share of the test split)" if pd.notna(auprc) else "chance AUROC 0.5"
            parts.append(f"{dataset}: {first['positive_class']} is the positive class ({first['classes'].replace(',', ' vs ')}); {chance}")
        else:
            parts.append(f"{dataset}: {first['classes'].count(',') + 1} classes ({first['classes']}), macro one-vs-rest metrics; chance AUROC 0.5")
    return ". ".join(parts) + ". The dashed lines in the plots mark chance."


def write_comparison(table: pd.DataFrame, output: Path) -> None:
    """comparison.tsv, an AUROC bar chart and comparison.html, written into ``output`` atomically."""
    from genofm.plots import metric_bar_plot

    with atomic_path(output, directory=True) as tmp:
        table.to_csv(tmp / COMPARISON_TSV, sep="\t", index=False, na_rep="")
        plotted = table[table["kind"] != "seeds"]
        metric_bar_plot(plotted, "auroc", tmp / "auroc.png")
        metric_bar_plot(plotted, "auprc", tmp / "auprc.png")
        shown = table.copy()
        for name in METRICS:
            shown[f"{name} (95% CI)"] = [
                f"{v:.3f} ({lo:.3f}-{hi:.3f})" if pd.notna(v) and pd.notna(lo) else ("" if pd.isna(v) else f"{v:.3f}")
                for v, lo, hi in zip(table[name], table[f"{name}_ci_low"], table[f"{name}_ci_high"])
            ]
            shown.loc[table["kind"] == "seeds", f"{name} (95% CI)"] = [
                f"{v:.3f} \u00b1 {sd:.3f} (sd)" if pd.notna(v) and pd.notna(sd) else ""
                for v, sd in zip(table.loc[table["kind"] == "seeds", name], table.loc[table["kind"] == "seeds", f"{name}_sd"])
            ]
        shown["report"] = [html.link(r, "report") if r else "" for r in table.get("report", pd.Series([""] * len(table)))]
        for name in VALID_SHOWN:
            shown[f"valid {name}"] = [f"{v:.3f}" if pd.notna(v) else "" for v in table.get(f"valid_{name}", pd.Series(index=table.index, dtype=float))]
        columns = ["dataset", "model", "head", "feature_group", "kind", "seed", "n_train", "n_test",
                   *[f"valid {m}" for m in VALID_SHOWN], *[f"{m} (95% CI)" for m in METRICS], "report"]
        summary = table["kind"] != "model"
        grouped = set(zip(table.loc[summary, "dataset"], table.loc[summary, "model"], table.loc[summary, "head"]))
        single = [(d, m, h) not in grouped for d, m, h in zip(table["dataset"], table["model"], table["head"])]
        main_rows = summary | pd.Series(single, index=table.index)
        n_models = int((table["kind"] == "model").sum())
        blocks = [
            html.paragraph(f"{n_models} models compared on their own held-out test splits. Intervals are class-stratified "
                           "bootstrap 95% intervals; models of different datasets are not comparable with each other. "
                           "A model trained with several seeds is shown as the mean \u00b1 sd of its seeds' metrics "
                           "(kind seeds) and as the ensemble of their averaged probabilities (kind ensemble). "
                           "A selected ensemble (kind selected) mixes a dataset's models with weights chosen greedily on "
                           "the validation split (column members); its validation metrics are the ones it was chosen on "
                           "and flatter it, its test metrics do not. "
                           "Choose between models on the validation columns (valid ...); the test columns report the "
                           "chosen model and must not be used to choose it."),
            html.paragraph(_task_line(table)),
            *[html.paragraph(f"{r['name']} (weights chosen on validation): {r['members']}.")
              for _, r in table[table["kind"] == "selected"].iterrows()],
            html.section("Test metrics", html.table(shown.loc[main_rows, columns], max_rows=500, note=f"Full table: {COMPARISON_TSV}",
                                                    raw_columns=("report",))),
            html.section("AUROC", html.image(tmp / "auroc.png", "Test AUROC with 95% interval")),
            html.section("AUPRC", html.image(tmp / "auprc.png", "Test AUPRC with 95% interval")),
        ]
        if summary.any():
            blocks.append(html.section("Individual seeds", html.table(shown.loc[~main_rows, columns], max_rows=500)))
        (tmp / COMPARISON_HTML).write_text(html.page("genofm model comparison", blocks), encoding="utf-8")
