"""Several backbones in one head: embeddings of different backbones joined by id.

Train, predict and interpret accept the files of several backbones for one dataset; features are
prefixed with the backbone's label, each backbone forms a feature group, every backbone's
provenance is recorded, a mismatch is refused at predict time, and interpretation reports each
backbone's share of the ranking.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genofm.cli.interpret import main as interpret_main
from genofm.cli.predict import main as predict_main
from genofm.cli.train import main as train_main
from genofm.embeddings import EmbeddingWriter, read_embeddings
from genofm.errors import GenofmError
from test_train_fixtures import planted_frame, run_tool, write_inputs

FAST = ["--cs", "3", "--cv-folds", "3", "--bootstrap", "50"]
CLASSES = ["mafk", "oct4"]


def e(*paths):
    """``-e PATH`` for each embedding file."""
    return [arg for path in paths for arg in ("-e", path)]


def write_noise(path, frame, n=6, seed=1, order=None, name="noise", groups=None):
    """A backbone of label-independent Gaussian features, rows written in ``order``."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(frame)) if order is None else order
    X = rng.normal(size=(len(frame), n)) * 100.0
    prov = {"backbone": name, "options": {}, "weights_sha256": None, "n_features": n}
    with EmbeddingWriter(path, [f"f{i}" for i in range(n)], prov, feature_groups=groups) as writer:
        writer.append(frame["id"].iloc[rows].tolist(), X[rows])
    return path, X


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    """A dataset, its k=4 k-mer shards (2), a noise backbone file in reversed row order, and a joined model."""
    tmp = tmp_path_factory.mktemp("stack")
    frame = planted_frame(CLASSES, n_per_class=40)
    dataset, kmer = write_inputs(tmp, frame, CLASSES, k=4, shards=2)
    noise, X = write_noise(tmp / "noise.h5", frame, order=np.arange(len(frame))[::-1], groups={"firsttwo": np.arange(2)})
    model = tmp / "model"
    with pytest.MonkeyPatch.context() as mp:
        code, _, err = run_tool(train_main, [dataset, "-e", kmer[0], "-e", noise, "-e", kmer[1], "-o", model, *FAST],
                                mp, _Capture())
    assert code == 0, err
    return tmp, frame, dataset, kmer, noise, X, model


class _Capture:
    """capsys stand-in for module-scoped fixtures."""

    def readouterr(self):
        return type("Out", (), {"out": "", "err": ""})()


def test_files_of_two_backbones_are_joined_by_id_with_prefixed_names_and_groups(stacked):
    tmp, frame, _, kmer, noise, X, _ = stacked
    emb = read_embeddings([kmer[0], noise, kmer[1]])
    assert emb.provenance["backbone"] == "kmer+noise" and emb.provenance["n_features"] == 136 + 6
    assert [m["label"] for m in emb.provenance["stack"]] == ["kmer", "noise"]
    assert emb.provenance["stack"][0]["options"] == {"k": 4, "rc_collapse": True}
    assert "shard_index" not in emb.provenance["stack"][0]
    assert emb.feature_names[0].startswith("kmer:") and emb.feature_names[-1] == "noise:f5"
    assert list(emb.feature_groups["noise"]) == list(range(136, 142))
    assert list(emb.feature_groups["noise:firsttwo"]) == [136, 137]
    aligned = emb.align(frame["id"])
    np.testing.assert_allclose(aligned[:, 136:], X.astype(np.float32))  # noise rows were written reversed
    alone = read_embeddings(kmer).align(frame["id"])
    np.testing.assert_array_equal(aligned[:, :136], alone)


def test_a_backbone_missing_rows_is_refused(stacked):
    tmp, frame, _, kmer, _, _, _ = stacked
    short, _ = write_noise(tmp / "short.h5", frame.iloc[:-3])
    with pytest.raises(GenofmError, match="embed the same prepared dataset"):
        read_embeddings([*kmer, short])


def test_the_same_backbone_with_two_option_sets_gets_distinct_labels(tmp_path):
    frame = planted_frame(CLASSES, n_per_class=10)
    _, k3 = write_inputs(tmp_path, frame, CLASSES, k=3, name="a")
    _, k4 = write_inputs(tmp_path, frame, CLASSES, k=4, name="b")
    emb = read_embeddings([*k3, *k4])
    assert [m["label"] for m in emb.provenance["stack"]] == ["kmer(k=3,rc_collapse=True)", "kmer(k=4,rc_collapse=True)"]
    assert emb.feature_names[0].startswith("kmer(k=3,rc_collapse=True):")


def test_the_joined_model_records_every_backbone(stacked):
    *_, model = stacked
    document = json.loads((model / "model.json").read_text())
    assert document["backbone"]["backbone"] == "kmer+noise"
    assert [m["backbone"] for m in document["backbone"]["stack"]] == ["kmer", "noise"]
    assert document["backbone"]["stack"][0]["options"]["k"] == 4
    assert len(document["feature_names"]) == 142
    assert json.loads((model / "metrics.json").read_text())["metrics"]["auroc"]["value"] > 0.9


def test_predict_accepts_the_files_in_any_order_and_refuses_a_mismatch(stacked, monkeypatch, capsys):
    tmp, frame, dataset, kmer, noise, _, model = stacked
    a, b = tmp / "a.tsv", tmp / "b.tsv"
    code, _, err = run_tool(predict_main, [dataset, "-m", model, "-e", kmer[0], "-e", noise, "-e", kmer[1], "-o", a], monkeypatch, capsys)
    assert code == 0, err
    code, _, err = run_tool(predict_main, [dataset, "-m", model, "-e", noise, "-e", kmer[1], "-e", kmer[0], "-o", b], monkeypatch, capsys)
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(a, sep="\t"), pd.read_csv(b, sep="\t"))
    evaluated = pd.read_csv(model / "test_predictions.tsv", sep="\t").set_index("id")
    np.testing.assert_array_equal(pd.read_csv(a, sep="\t").set_index("id").loc[evaluated.index, "prob_oct4"], evaluated["prob_oct4"])

    out = tmp / "refused.tsv"
    code, _, err = run_tool(predict_main, [dataset, "-m", model, "-e", kmer[0], "-e", kmer[1], "-o", out], monkeypatch, capsys)
    assert code == 2 and err.startswith("genofm-predict: error:") and len(err.strip().splitlines()) == 1
    assert "no noise embeddings" in err and not out.exists()
    _, k3 = write_inputs(tmp, frame, CLASSES, k=3, name="k3")
    code, _, err = run_tool(predict_main, [dataset, "-m", model, *e(*k3, noise), "-o", out], monkeypatch, capsys)
    assert code == 2 and "kmer options" in err and "kmer n_features" in err and not out.exists()
    other, _ = write_noise(tmp / "other_noise.h5", frame, n=6, name="othernoise")
    code, _, err = run_tool(predict_main, [dataset, "-m", model, *e(*kmer, noise, other), "-o", out], monkeypatch, capsys)
    assert code == 2 and "extra othernoise embeddings" in err and not out.exists()


def test_a_backbone_of_the_join_can_be_selected_as_a_feature_group(stacked, monkeypatch, capsys):
    tmp, _, dataset, kmer, noise, _, _ = stacked
    model = tmp / "kmer_only"
    code, _, err = run_tool(train_main, [dataset, *e(*kmer, noise), "--feature-group", "kmer", "-o", model, *FAST],
                            monkeypatch, capsys)
    assert code == 0, err
    document = json.loads((model / "model.json").read_text())
    assert document["feature_group"] == "kmer" and len(document["feature_names"]) == 136
    assert all(n.startswith("kmer:") for n in document["feature_names"])


def test_interpretation_ranks_across_backbones_and_reports_shares(stacked, monkeypatch, capsys):
    tmp, _, dataset, kmer, noise, _, model = stacked
    out = tmp / "explained"
    args = ["model", model, "-o", out, "--dataset", dataset, *e(*kmer, noise), "--refits", "3", "--top", "10"]
    code, _, err = run_tool(interpret_main, args, monkeypatch, capsys)
    assert code == 0, err
    features = pd.read_csv(out / "features.tsv", sep="\t")
    assert set(features["backbone"]) == {"kmer", "noise"} and len(features) == 142
    shares = pd.read_csv(out / "backbone_shares.tsv", sep="\t")
    assert list(shares["backbone"]) == ["kmer", "noise"] and list(shares["n_features"]) == [136, 6]
    assert shares["weight_share"].sum() == pytest.approx(1.0)
    assert shares["top_features"].sum() == 10
    kmer_row = shares.set_index("backbone").loc["kmer"]
    assert kmer_row["top_features"] >= 9 and kmer_row["weight_share"] > 0.8  # the planted motifs live in the k-mers
    report = (out / "report.html").read_text()
    assert "Backbones" in report and "backbone noise" in report
    # the k-mer explainer ran on the k-mer part alone, with the label prefix removed
    assert "kmer: " in report and (out / "kmer_motifs.tsv").is_file()
    assert not pd.read_csv(out / "kmer_motifs.tsv", sep="\t")["kmer"].astype(str).str.contains(":").any()


def test_a_joined_model_of_weight_free_backbones_embeds_on_the_fly(tmp_path, monkeypatch, capsys):
    from genofm.backbones.kmer import KmerBackbone, KmerOptions
    from genofm.data.dataset import write_dataset

    frame = planted_frame(CLASSES, n_per_class=30)
    dataset = tmp_path / "dataset.parquet"
    write_dataset(frame, dataset, CLASSES)
    files = []
    for k in (3, 4):
        backbone = KmerBackbone(KmerOptions(k=k), None)
        path = tmp_path / f"k{k}.h5"
        with EmbeddingWriter(path, backbone.feature_names, backbone.provenance() | {"rc_average": False}) as writer:
            writer.append(frame["id"].tolist(), backbone.embed(frame["sequence"].tolist()))
        files.append(path)
    model = tmp_path / "model"
    code, _, err = run_tool(train_main, [dataset, *e(*files), "-o", model, *FAST], monkeypatch, capsys)
    assert code == 0, err
    from_files, on_the_fly = tmp_path / "files.tsv", tmp_path / "fly.tsv"
    code, _, err = run_tool(predict_main, [dataset, "-m", model, *e(*files), "-o", from_files], monkeypatch, capsys)
    assert code == 0, err
    code, _, err = run_tool(predict_main, [dataset, "-m", model, "-o", on_the_fly, "--device", "cpu"], monkeypatch, capsys)
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(from_files, sep="\t"), pd.read_csv(on_the_fly, sep="\t"))
