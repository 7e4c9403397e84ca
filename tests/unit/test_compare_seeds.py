"""genofm-interpret compare: rows named by backbone options, seeds summarised as mean +- sd and as an ensemble."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from genofm.cli.interpret import main as interpret_main
from genofm.evaluation.metrics import evaluate
from genofm.evaluation.seeds import ensemble_metrics, metric_spread
from conftest import train_in_process
from test_train_fixtures import planted_frame, run_tool, write_inputs

FAST = ["--cs", "3", "--cv-folds", "3", "--bootstrap", "20"]





@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """Three seeds of an MLP on 3-mers, one on 4-mers (same dataset)."""
    tmp = tmp_path_factory.mktemp("seeds")
    frame = planted_frame(["mafk", "oct4"], n_per_class=40)
    dataset, emb3 = write_inputs(tmp, frame, ["mafk", "oct4"], k=3)
    _, emb4 = write_inputs(tmp, frame, ["mafk", "oct4"], k=4, name="dataset")
    dirs = []
    for seed in (0, 1, 2):
        train_in_process([dataset, "-e", emb3[0], "-o", tmp / f"k3_s{seed}", "--head", "mlp", "--hidden", "8", "--epochs", "30",
                "--seed", seed, "--bootstrap", "20"])
        dirs.append(tmp / f"k3_s{seed}")
    train_in_process([dataset, "-e", emb4[0], "-o", tmp / "k4", *FAST])
    return tmp, dirs


def test_compare_names_rows_by_options_and_adds_seed_rows(seeded, monkeypatch, capsys):
    tmp, dirs = seeded
    out = tmp / "comparison"
    code, _, err = run_tool(interpret_main, ["compare", *dirs, tmp / "k4", "-o", out], monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(out / "comparison.tsv", sep="\t", keep_default_na=False, na_values=[""])
    assert sorted(table["kind"]) == ["ensemble", "model", "model", "model", "model", "seeds"]
    assert set(table["model"]) == {"kmer k=3", "kmer k=4"}
    seeds = table[table["kind"] == "seeds"].iloc[0]
    singles = table[(table["kind"] == "model") & (table["model"] == "kmer k=3")]
    assert seeds["n_seeds"] == 3 and seeds["seed"] == "0,1,2" and seeds["head"] == "mlp"
    for metric in ("auroc", "mcc", "accuracy", "f1", "auprc"):
        assert seeds[metric] == pytest.approx(singles[metric].mean())
        assert seeds[f"{metric}_sd"] == pytest.approx(singles[metric].std(ddof=1))
    ensemble = table[table["kind"] == "ensemble"].iloc[0]
    probs = [pd.read_csv(d / "test_predictions.tsv", sep="\t").set_index("id") for d in dirs]
    average = np.mean([p.loc[probs[0].index, ["prob_mafk", "prob_oct4"]].to_numpy() for p in probs], axis=0)
    truth = (probs[0]["label"] == "oct4").to_numpy().astype(int)
    expected = evaluate(truth, average, ["mafk", "oct4"], n_bootstrap=0)["metrics"]
    assert ensemble["auroc"] == pytest.approx(expected["auroc"]["value"], abs=1e-5)
    assert ensemble["accuracy"] == pytest.approx(expected["accuracy"]["value"], abs=1e-5)
    assert ensemble["auroc_ci_low"] <= ensemble["auroc"] <= ensemble["auroc_ci_high"]
    report = (out / "comparison.html").read_text()
    assert "kmer k=3" in report and "Individual seeds" in report and "\u00b1" in report


def test_models_sharing_a_seed_are_not_averaged(seeded, monkeypatch, capsys):
    tmp, dirs = seeded
    out = tmp / "same_seed"
    code, _, err = run_tool(interpret_main, ["compare", dirs[0], tmp / "k4", "-o", out, "--name", "a", "--name", "a"],
                            monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(out / "comparison.tsv", sep="\t")
    assert list(table["kind"]) == ["model", "model"]


def test_metric_spread_and_ensemble_refuses_other_rows(seeded, tmp_path):
    tmp, dirs = seeded
    spread = metric_spread([{"auroc": 0.8, "mcc": 0.5}, {"auroc": 0.9, "mcc": None}])
    assert spread["auroc"] == pytest.approx(0.85) and spread["auroc_sd"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    assert spread["mcc"] == 0.5 and spread["mcc_sd"] is None
    other = tmp_path / "other"
    other.mkdir()
    table = pd.read_csv(dirs[0] / "test_predictions.tsv", sep="\t")
    table.iloc[1:].to_csv(other / "test_predictions.tsv", sep="\t", index=False)
    from genofm.errors import GenofmError

    with pytest.raises(GenofmError, match="other test rows"):
        ensemble_metrics([dirs[0], other], ["mafk", "oct4"], n_bootstrap=0)


def test_valid_predictions_are_written_and_ensembled_on_the_valid_split(seeded):
    """valid_predictions.tsv holds the validation rows (what metrics.json's valid section scored), so
    seeds can be ensembled and compared on validation, never on test."""
    import json

    tmp, dirs = seeded
    classes = ["mafk", "oct4"]
    tables = [pd.read_csv(d / "valid_predictions.tsv", sep="\t", dtype={"id": str}).set_index("id") for d in dirs]
    assert set(tables[0]["split"]) == {"valid"}
    test_ids = set(pd.read_csv(dirs[0] / "test_predictions.tsv", sep="\t", dtype={"id": str})["id"])
    assert not test_ids & set(tables[0].index)
    single = json.loads((dirs[0] / "metrics.json").read_text())["valid"]["metrics"]["accuracy"]["value"]
    assert (tables[0]["predicted_label"] == tables[0]["label"]).mean() == pytest.approx(single, abs=1e-6)
    average = np.mean([t.loc[tables[0].index, ["prob_mafk", "prob_oct4"]].to_numpy() for t in tables], axis=0)
    truth = (tables[0]["label"] == "oct4").to_numpy().astype(int)
    expected = evaluate(truth, average, classes, n_bootstrap=0)["metrics"]
    got = ensemble_metrics(dirs, classes, n_bootstrap=0, split="valid")["metrics"]
    assert got["auroc"]["value"] == pytest.approx(expected["auroc"]["value"], abs=1e-5)
    assert got["accuracy"]["value"] == pytest.approx(expected["accuracy"]["value"], abs=1e-5)
    from genofm.errors import GenofmError

    with pytest.raises(GenofmError, match="ensemble split"):
        ensemble_metrics(dirs, classes, split="train")


def test_compare_select_ensemble_adds_one_selected_row_weighted_on_validation(seeded, monkeypatch, capsys):
    """--select-ensemble: the weights are select_ensemble's on the valid predictions, the test metrics those of
    the weighted mix; without the flag there is no such row."""
    from genofm.evaluation.ensemble_selection import select_ensemble

    tmp, dirs = seeded
    out = tmp / "selected"
    models = [*dirs, tmp / "k4"]
    code, _, err = run_tool(interpret_main, ["compare", *models, "-o", out, "--select-ensemble"], monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(out / "comparison.tsv", sep="\t", keep_default_na=False, na_values=[""])
    selected = table[table["kind"] == "selected"]
    assert len(selected) == 1
    row = selected.iloc[0]
    weights = select_ensemble(models, ["mafk", "oct4"])
    assert row["name"].endswith(f"selected ensemble of {len(weights)}/4 models")
    assert len(row["members"].split("; ")) == len(weights)
    expected = ensemble_metrics(list(weights), ["mafk", "oct4"], n_bootstrap=0, weights=list(weights.values()))["metrics"]
    assert row["auroc"] == pytest.approx(expected["auroc"]["value"], abs=1e-5)
    assert row["accuracy"] == pytest.approx(expected["accuracy"]["value"], abs=1e-5)
    assert "chosen on validation" in (out / "comparison.html").read_text()
    plain = tmp / "plain"
    run_tool(interpret_main, ["compare", *models, "-o", plain], monkeypatch, capsys)
    assert "selected" not in set(pd.read_csv(plain / "comparison.tsv", sep="\t")["kind"])
