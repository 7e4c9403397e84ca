"""genofm-interpret: feature rankings with stability, self-contained reports, comparison tables."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pandas as pd
import pytest

from genofm.cli.interpret import main as interpret_main
from genofm.interpret import ReportSection
from conftest import train_in_process
from test_train_fixtures import planted_frame, run_tool, scaled_inputs, write_inputs

FAST = ["--cs", "3", "--cv-folds", "3", "--bootstrap", "50"]





@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A binary logreg and a 3-class gradient-boosting model on planted-motif k-mer features."""
    tmp = tmp_path_factory.mktemp("interpret")
    frame = planted_frame(["mafk", "oct4"], n_per_class=40, augment=True)
    dataset, embeddings = write_inputs(tmp, frame, ["mafk", "oct4"], k=4)
    train_in_process([dataset, "-e", embeddings[0], "-o", tmp / "logreg", *FAST])
    frame3 = planted_frame(["mafk", "nfkb", "oct4"], n_per_class=25)
    dataset3, embeddings3 = write_inputs(tmp, frame3, ["mafk", "nfkb", "oct4"], k=4, name="three")
    train_in_process([dataset3, "-e", embeddings3[0], "-o", tmp / "gboost", "--head", "gboost", "--bootstrap", "50"])
    return tmp, (dataset, embeddings[0]), (dataset3, embeddings3[0])


def _text(report: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", report)))


def assert_self_contained(report: str) -> None:
    assert report.startswith("<!DOCTYPE html>")
    assert "<script" not in report.lower() and "<link" not in report.lower()
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", report)
    assert "src='data:image/png;base64," in report


def test_linear_model_report_with_stability_and_motifs(models, monkeypatch, capsys):
    tmp, (dataset, embeddings), _ = models
    out = tmp / "report_logreg"
    args = ["model", tmp / "logreg", "-o", out, "--dataset", dataset, "-e", embeddings, "--refits", "4", "--top", "10"]
    code, _, err = run_tool(interpret_main, args, monkeypatch, capsys)
    assert code == 0, err
    assert {"features.tsv", "top_features.png", "report.html", "motifs.tsv", "kmer_motifs.tsv", "motif_families.tsv",
            "motif_support.png"} <= {p.name for p in out.iterdir()}
    features = pd.read_csv(out / "features.tsv", sep="\t")
    assert {"feature", "class", "coefficient", "abs_coefficient", "rank", "stability", "cv_mean", "cv_sd"} <= set(features.columns)
    assert len(features) == 136 and set(features["class"]) == {"oct4"}
    assert features["rank"].tolist() == sorted(features["rank"]) and features["abs_coefficient"].is_monotonic_decreasing
    assert features["stability"].between(0, 1).all()
    top = features.head(3)
    assert (top["stability"] >= 0.5).all(), top
    # the planted sites' 4-mers lead in both directions: the octamer towards oct4, the MARE towards mafk
    assert set(features[features["coefficient"] > 0].head(4)["feature"]) & {"ATGC", "GCAA", "TGCA", "CAAA", "AAAT", "TTTG"}
    assert set(features[features["coefficient"] < 0].head(4)["feature"]) & {"TGCT", "AGCA", "GCTG", "CAGC", "CTGA", "TCAG", "GACT", "AGTC"}
    report = (out / "report.html").read_text()
    assert_self_contained(report)
    text = _text(report)
    for heading in ("Model selection (validation split)", "Test performance", "Top features", "K-mers matched to JASPAR2024",
                    "Provenance", "AUROC", "95% CI", "cross-validation on the train split", "chooses nothing"):
        assert heading in text, heading
    assert report.count("data:image/png;base64,") >= 4  # ROC, PR, top features, motif support


def test_report_without_training_data_notes_the_missing_stability(models, monkeypatch, capsys):
    tmp, _, _ = models
    out = tmp / "report_bare"
    code, _, err = run_tool(interpret_main, ["model", tmp / "logreg", "-o", out, "-O", "motif_show=3"], monkeypatch, capsys)
    assert code == 0, err
    features = pd.read_csv(out / "features.tsv", sep="\t")
    assert features["stability"].isna().all() and features["cv_sd"].notna().all()
    assert "Bootstrap stability was not computed" in _text((out / "report.html").read_text())


def test_non_linear_head_is_ranked_by_permutation_importance(models, monkeypatch, capsys):
    tmp, _, (dataset3, embeddings3) = models
    code, _, err = run_tool(interpret_main, ["model", tmp / "gboost", "-o", tmp / "gb_bare"], monkeypatch, capsys)
    assert code == 2 and "permutation importance" in err and "--dataset" in err and not (tmp / "gb_bare").exists()
    out = tmp / "gb"
    code, _, err = run_tool(interpret_main, ["model", tmp / "gboost", "-o", out, "--dataset", dataset3, "-e", embeddings3, "--refits", "2"],
                            monkeypatch, capsys)
    assert code == 0, err
    features = pd.read_csv(out / "features.tsv", sep="\t")
    # the value column is named by what it holds: no "coefficient" for a permutation ranking
    assert {"permutation_importance", "abs_permutation_importance"} <= set(features.columns)
    assert not {"coefficient", "abs_coefficient"} & set(features.columns)
    assert set(features["class"]) <= {"mafk", "nfkb", "oct4"} and (features["abs_permutation_importance"] >= 0).all()
    assert features["abs_permutation_importance"].max() > 0
    assert "permutation importance" in _text((out / "report.html").read_text())


def test_report_escapes_untrusted_strings(tmp_path, monkeypatch, capsys):
    dataset, embeddings, names = scaled_inputs(tmp_path)
    import h5py

    with h5py.File(embeddings[0], "r+") as handle:  # a hostile feature name
        names[2] = "<script>alert('x')</script>"
        del handle["feature_names"]
        handle.create_dataset("feature_names", data=np.array(names, dtype=object), dtype=h5py.string_dtype("utf-8"))
    train_in_process([dataset, "-e", embeddings[0], "-o", tmp_path / "m", *FAST])
    code, _, err = run_tool(interpret_main, ["model", tmp_path / "m", "-o", tmp_path / "r", "--top", "8"], monkeypatch, capsys)
    assert code == 0, err
    report = (tmp_path / "r" / "report.html").read_text()
    assert "<script>" not in report and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in report


def test_sequence_explainers_run_for_fine_tuned_models(tmp_path, monkeypatch, capsys):
    from genofm import finetune, interpret

    calls = []

    def explain(model_dir, frame, context):
        calls.append((model_dir, len(frame), context.classes))
        return [ReportSection("Attention sites", "Sites & scores", tables={"sites": pd.DataFrame({"site": ["ATGCAAAT"]})})]

    monkeypatch.setitem(finetune.FINETUNERS, "fakebert", "test_train:FakeFinetuner")
    monkeypatch.setitem(interpret.SEQUENCE_EXPLAINERS, "fakebert", "test_interpret:_explain_stub")
    monkeypatch.setattr(sys.modules[__name__], "_explain_stub", explain, raising=False)
    frame = planted_frame(["mafk", "oct4"], n_per_class=15)
    from genofm.data.dataset import write_dataset

    dataset = tmp_path / "d.parquet"
    write_dataset(frame, dataset, ["mafk", "oct4"])
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    train_in_process([dataset, "--finetune", "fakebert", "--weights", weights, "-o", tmp_path / "ft", "--bootstrap", "20"])
    out = tmp_path / "r"
    code, _, err = run_tool(interpret_main, ["model", tmp_path / "ft", "-o", out, "--dataset", dataset, "--weights", weights], monkeypatch, capsys)
    assert code == 0, err
    assert calls and calls[0][1] == len(frame) and calls[0][2] == ["mafk", "oct4"]
    assert (out / "sites.tsv").is_file() and not (out / "features.tsv").exists()
    report = (out / "report.html").read_text()
    assert "Attention sites" in report and "Sites &amp; scores" in report and "fine-tuned fakebert" in report


def test_missing_explainer_module_becomes_a_note(models, monkeypatch, capsys):
    from genofm import interpret

    tmp, _, _ = models
    monkeypatch.setitem(interpret.EXPLAINERS, "kmer", "genofm.interpret.not_installed:explain")
    code, _, err = run_tool(interpret_main, ["model", tmp / "logreg", "-o", tmp / "noexplainer"], monkeypatch, capsys)
    assert code == 0, err
    assert "explainer is not available" in _text((tmp / "noexplainer" / "report.html").read_text())


def test_compare_tabulates_models_with_intervals(models, monkeypatch, capsys):
    tmp, _, _ = models
    out = tmp / "comparison"
    args = ["compare", tmp / "logreg", tmp / "gboost", "-o", out, "--name", "planted2", "--name", "planted3"]
    code, _, err = run_tool(interpret_main, args, monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(out / "comparison.tsv", sep="\t")
    assert list(table["dataset"]) == ["planted2", "planted3"]
    assert list(table["head"]) == ["logreg", "gboost"] and set(table["backbone"]) == {"kmer"}
    assert {"n_train", "n_test", "auroc", "auroc_ci_low", "auroc_ci_high", "auprc", "mcc", "f1", "accuracy"} <= set(table.columns)
    assert (table["auroc_ci_low"] <= table["auroc"]).all() and (table["auroc"] <= table["auroc_ci_high"]).all()
    for folder, row in zip([tmp / "logreg", tmp / "gboost"], table.itertuples()):
        valid = json.loads((folder / "metrics.json").read_text())["valid"]["metrics"]
        assert row.valid_auroc == pytest.approx(valid["auroc"]["value"]) and row.valid_mcc == pytest.approx(valid["mcc"]["value"])
    report = (out / "comparison.html").read_text()
    assert_self_contained(report)
    assert "planted3" in report and "valid auroc" in report
    code, _, err = run_tool(interpret_main, ["compare", tmp / "logreg", "-o", tmp / "c2", "--name", "a", "--name", "b"], monkeypatch, capsys)
    assert code == 2 and "--name" in err and not (tmp / "c2").exists()
    code, _, err = run_tool(interpret_main, ["compare", tmp, "-o", tmp / "c3"], monkeypatch, capsys)
    assert code == 2 and "model.json: not found" in err and not (tmp / "c3").exists()


def test_interpret_help_documents_both_commands(monkeypatch, capsys):
    code, out, _ = run_tool(interpret_main, ["--help"], monkeypatch, capsys)
    assert code == 0 and "model" in out and "compare" in out
    code, out, _ = run_tool(interpret_main, ["model", "--help"], monkeypatch, capsys)
    assert code == 0 and "--refits" in out and "report.html" in out
