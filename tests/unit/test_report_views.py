"""Report views from the HERV seed's evaluation: metrics per length bin and a 2-D view of the embeddings."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from genofm.evaluation.length_bins import length_bin_metrics, real_lengths
from genofm.interpret.projection import project, sample_rows


def test_real_lengths_ignore_padding():
    assert real_lengths(["NNACGTNN", "ACGT", "ANNA"]).tolist() == [4, 4, 4]


def test_length_bins_split_by_quantile_and_score_each_bin():
    rng = np.random.default_rng(0)
    lengths = np.repeat([50, 100, 200, 400], 50)
    truth = np.tile([0, 1], 100)
    proba = np.full((200, 2), 0.5)
    good = lengths >= 200  # the model is right on long sequences, at chance on short ones
    proba[good, 1] = np.where(truth[good] == 1, 0.9, 0.1)
    proba[~good, 1] = rng.random((~good).sum())
    proba[:, 0] = 1 - proba[:, 1]
    bins = length_bin_metrics(lengths, truth, proba, n_bins=4)
    assert bins["n"].sum() == 200 and len(bins) >= 3
    assert bins.iloc[-1]["accuracy"] == 1.0 and bins.iloc[-1]["auroc"] == 1.0
    assert bins.iloc[0]["accuracy"] < 0.8
    assert bins.iloc[0]["length_bin"].startswith("50-")
    assert length_bin_metrics(np.full(10, 60), truth[:10], proba[:10]).empty  # one length: no bins


def test_projection_pca_and_sampling():
    frame = pd.DataFrame({"label": ["a"] * 30 + ["b"] * 10, "augmented": [False] * 38 + [True] * 2})
    rows = sample_rows(frame, 20, seed=0)
    assert (rows["label"] == "a").sum() == 10 and (rows["label"] == "b").sum() == 8
    X = np.vstack([np.random.default_rng(1).normal(size=(20, 5)), np.random.default_rng(2).normal(5, 1, size=(20, 5))])
    views = project(X, seed=0)
    assert views["PCA"].shape == (40, 2)
    # the first component separates the two shifted clouds
    assert abs(views["PCA"][:20, 0].mean() - views["PCA"][20:, 0].mean()) > 3


def test_report_has_length_bins_and_embedding_view(tmp_path, monkeypatch, capsys):
    from genofm.cli.interpret import main as interpret_main
    from genofm.cli.train import main as train_main
    from test_train_fixtures import planted_frame, run_tool, write_inputs

    frame = planted_frame(["mafk", "oct4"], n_per_class=40)
    frame.loc[frame.index % 2 == 0, "sequence"] = frame.loc[frame.index % 2 == 0, "sequence"].str[:70]
    dataset, embeddings = write_inputs(tmp_path, frame, ["mafk", "oct4"], k=3)
    monkeypatch.setattr(sys, "argv", ["genofm-train", str(dataset), "-e", str(embeddings[0]), "-o", str(tmp_path / "m"),
                                      "--cs", "3", "--cv-folds", "3", "--bootstrap", "20"])
    train_main()
    args = ["model", tmp_path / "m", "-o", tmp_path / "r", "--dataset", dataset, "-e", embeddings[0], "--refits", "0"]
    code, _, err = run_tool(interpret_main, args, monkeypatch, capsys)
    assert code == 0, err
    bins = pd.read_csv(tmp_path / "r" / "length_bins.tsv", sep="\t")
    assert bins["n"].sum() == (frame["split"] == "test").sum() and len(bins) == 2
    assert (tmp_path / "r" / "embedding_2d.png").stat().st_size > 1000
    report = (tmp_path / "r" / "report.html").read_text()
    assert "Test metrics by sequence length" in report and "Embeddings in two dimensions" in report
