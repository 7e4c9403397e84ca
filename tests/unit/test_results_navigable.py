"""Results a biologist can navigate: rows per class, a split column, links that resolve, chance lines."""

from __future__ import annotations


import numpy as np
import pandas as pd

from genofm.cli.interpret import main as interpret_main
from genofm.evaluation.predictions import prediction_table
from genofm.interpret.model_report import _feature_meaning, _rows_per_side, _top_per_side
from conftest import train_in_process
from test_train_fixtures import planted_frame, run_tool, write_inputs


def test_tables_sorted_by_class_show_rows_of_every_class():
    frame = pd.DataFrame({"towards": ["Oct4"] * 40 + ["MafK"] * 40, "motif": [f"m{i}" for i in range(80)]})
    shown, note = _rows_per_side(frame, 25)
    assert shown["towards"].value_counts().to_dict() == {"Oct4": 12, "MafK": 12} and "per towards" in note
    small, note = _rows_per_side(frame.head(10), 25)
    assert len(small) == 10 and note == ""


def test_binary_top_features_are_split_by_the_class_they_favour():
    rng = np.random.default_rng(0)
    coef = np.concatenate([rng.uniform(1, 2, 30), -rng.uniform(0.1, 0.5, 30)])  # the positive side dominates by size
    ranked = pd.DataFrame({"feature": [f"f{i}" for i in range(60)], "class": "oct4", "coefficient": coef,
                           "abs_coefficient": np.abs(coef), "towards": np.where(coef >= 0, "oct4", "mafk")})
    ranked["rank"] = ranked["abs_coefficient"].rank(ascending=False).astype(int)
    shown = _top_per_side(ranked, 10, ["mafk", "oct4"])
    assert shown["towards"].value_counts().to_dict() == {"oct4": 10, "mafk": 10}
    assert list(shown["towards"].iloc[:1]) == ["oct4"]  # positive class first
    assert (np.sign(shown["coefficient"]) == np.where(shown["towards"] == "oct4", 1, -1)).all()
    assert sorted(shown.loc[shown["towards"] == "mafk", "rank"]) == list(range(1, 11))


def test_report_explains_feature_names_of_each_backbone():
    texts = _feature_meaning({"backbone": {"backbone": "spliceai"}})
    assert len(texts) == 1 and "donor_binNN_max_log10" in texts[0] and "penultimate" in texts[0]
    stacked = _feature_meaning({"backbone": {"backbone": "kmer+spliceai", "stack": [{"backbone": "kmer"}, {"backbone": "spliceai"}]}})
    assert [t.split(":")[0] for t in stacked] == ["kmer", "spliceai"]


def test_predictions_carry_the_split_of_each_row():
    frame = pd.DataFrame({"id": ["a", "b"], "split": ["train", "test"], "label": ["x", "y"]})
    table = prediction_table(frame, np.array([[0.2, 0.8], [0.6, 0.4]]), ["x", "y"])
    assert list(table.columns[:2]) == ["id", "split"] and list(table["split"]) == ["train", "test"]


def test_comparison_links_resolve_and_name_the_positive_class_and_chance(tmp_path, monkeypatch, capsys):
    frame = planted_frame(["mafk", "oct4"], n_per_class=30)
    dataset, emb = write_inputs(tmp_path, frame, ["mafk", "oct4"], k=3)
    results = tmp_path / "results"
    model = results / "ds" / "train" / "ds.kmer.logreg"
    train_in_process([dataset, "-e", emb[0], "-o", model, "--cs", "2", "--cv-folds", "2", "--bootstrap", "10"])
    (results / "ds" / "interpret" / "ds.kmer.logreg").mkdir(parents=True)
    (results / "ds" / "interpret" / "ds.kmer.logreg" / "report.html").write_text("<html></html>")
    # by hand: the model path in comparison.tsv resolves from the comparison folder
    out = results / "by_hand"
    code, _, err = run_tool(interpret_main, ["compare", model, "-o", out], monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(out / "comparison.tsv", sep="\t")
    assert (out / table["model_dir"].iloc[0] / "model.json").is_file()
    assert table["positive_class"].iloc[0] == "oct4" and table["chance_auroc"].iloc[0] == 0.5
    assert 0 < table["chance_auprc"].iloc[0] < 1
    # as the pipeline publishes: templates give the published folders, and the report is linked
    out = results / "comparison"
    code, _, err = run_tool(interpret_main, ["compare", model, "-o", out, "--name", "ds", "--model-link", "../{dataset}/train/{folder}",
                                             "--report-link", "../{dataset}/interpret/{folder}/report.html"], monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(out / "comparison.tsv", sep="\t")
    assert (out / table["model_dir"].iloc[0] / "model.json").is_file()
    assert (out / table["report"].iloc[0]).is_file()
    html = (out / "comparison.html").read_text()
    assert "href='../ds/interpret/ds.kmer.logreg/report.html'" in html
    assert "oct4 is the positive class (mafk vs oct4)" in html and "chance AUROC 0.5" in html
    code, _, err = run_tool(interpret_main, ["compare", model, "-o", results / "bad", "--report-link", "{nope}/r.html"], monkeypatch, capsys)
    assert code == 2 and "--report-link" in err and not (results / "bad").exists()
