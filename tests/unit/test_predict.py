"""genofm-predict: same probabilities from files or on-the-fly embeddings, refusal of mismatched inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genofm.backbones.base import Backbone, BackboneOptions
from genofm.cli.predict import main as predict_main
from genofm.cli.train import main as train_main
from genofm.embeddings import EmbeddingWriter
from conftest import train_in_process
from test_train_fixtures import planted_frame, run_tool, write_inputs

FAST = ["--cs", "3", "--cv-folds", "3", "--bootstrap", "50"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A logreg model on genofm's own kmer backbone features (k=4), plus its inputs."""
    from genofm.backbones.kmer import KmerBackbone, KmerOptions
    from genofm.data.dataset import write_dataset

    tmp = tmp_path_factory.mktemp("predict")
    frame = planted_frame(["mafk", "oct4"], n_per_class=40)
    dataset = tmp / "dataset.parquet"
    write_dataset(frame, dataset, ["mafk", "oct4"])
    backbone = KmerBackbone(KmerOptions(k=4), None)
    embeddings = tmp / "kmer4.h5"
    with EmbeddingWriter(embeddings, backbone.feature_names, backbone.provenance() | {"rc_average": False}) as writer:
        writer.append(frame["id"].tolist(), backbone.embed(frame["sequence"].tolist()))
    model = tmp / "model"
    train_in_process([dataset, "-e", embeddings, "-o", model, *FAST])
    return tmp, frame, dataset, embeddings, model


def test_predictions_from_embeddings_match_the_training_evaluation(trained, monkeypatch, capsys):
    tmp, frame, dataset, embeddings, model = trained
    out = tmp / "predictions.tsv"
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "-e", embeddings, "-o", out], monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == ["id", "split", "chrom", "start", "end", "strand", "label", "prob_mafk", "prob_oct4", "predicted_label"]
    assert list(table["id"]) == list(frame["id"])
    np.testing.assert_allclose(table[["prob_mafk", "prob_oct4"]].sum(axis=1), 1.0, atol=2e-6)
    evaluated = pd.read_csv(model / "test_predictions.tsv", sep="\t").set_index("id")
    test = table.set_index("id").loc[evaluated.index]
    np.testing.assert_array_equal(test["prob_oct4"], evaluated["prob_oct4"])
    assert (table["predicted_label"] == np.where(table["prob_oct4"] > 0.5, "oct4", "mafk")).all()


def test_on_the_fly_embedding_rebuilds_the_backbone_from_provenance(trained, monkeypatch, capsys):
    tmp, frame, dataset, embeddings, model = trained
    from_file, on_the_fly = tmp / "file.tsv", tmp / "fly.tsv"
    run_tool(predict_main, [dataset, "--model", model, "-e", embeddings, "-o", from_file, "--splits", "test"], monkeypatch, capsys)
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "-o", on_the_fly, "--splits", "test", "--device", "cpu"], monkeypatch, capsys)
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(from_file, sep="\t"), pd.read_csv(on_the_fly, sep="\t"))
    assert len(pd.read_csv(on_the_fly, sep="\t")) == (frame["split"] == "test").sum()


def test_mismatched_embeddings_are_refused_without_output(trained, monkeypatch, capsys):
    tmp, frame, dataset, _, model = trained
    _, other = write_inputs(tmp, frame, ["mafk", "oct4"], k=3, name="k3")
    out = tmp / "mismatch.tsv"
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "-e", other[0], "-o", out], monkeypatch, capsys)
    assert code == 2 and err.startswith("genofm-predict: error:") and len(err.strip().splitlines()) == 1
    assert "kmer(k=3" in err and "32 features" in err and "k=4" in err and "136 features" in err
    assert not out.exists() and not list(tmp.glob(".mismatch.tsv*"))


def test_embeddings_lacking_dataset_rows_are_refused(trained, monkeypatch, capsys):
    tmp, frame, dataset, embeddings, model = trained
    from genofm.embeddings import read_embeddings

    emb = read_embeddings([embeddings])
    partial = tmp / "partial.h5"
    with EmbeddingWriter(partial, emb.feature_names, emb.provenance) as writer:
        writer.append(list(emb.ids[:10]), emb.features[:10])
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "-e", partial, "-o", tmp / "p.tsv"], monkeypatch, capsys)
    assert code == 2 and "have no embedding" in err and not (tmp / "p.tsv").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.json").unlink(), "model.json: not found"),
        (lambda d: (d / "model.json").write_text("{not json"), "corrupt JSON"),
        (lambda d: (d / "model.json").write_text(json.dumps({"format": "other"})), "not a genofm model description"),
        (lambda d: (d / "model.safetensors").write_bytes(b"garbage"), "not a readable safetensors file"),
        (lambda d: (d / "model.safetensors").unlink(), "model.safetensors: missing"),
    ],
)
def test_corrupt_or_incomplete_model_folders_fail_cleanly(damage, message, trained, tmp_path, monkeypatch, capsys):
    import shutil

    _, _, dataset, embeddings, model = trained
    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    damage(broken)
    out = tmp_path / "p.tsv"
    code, _, err = run_tool(predict_main, [dataset, "--model", broken, "-e", embeddings, "-o", out], monkeypatch, capsys)
    assert code == 2 and message in err and not out.exists()


def test_missing_model_folder(trained, tmp_path, monkeypatch, capsys):
    _, _, dataset, embeddings, _ = trained
    code, _, err = run_tool(predict_main, [dataset, "--model", tmp_path / "nowhere", "-e", embeddings, "-o", tmp_path / "p.tsv"], monkeypatch, capsys)
    assert code == 2 and "model folder not found" in err


class WeightedToy(Backbone):
    """A backbone with a weights file: GC fraction and length, scaled by a number read from the weights."""

    name = "weightedtoy"
    Options = BackboneOptions
    needs_weights = True
    weights_help = "a text file holding one number"

    @property
    def feature_names(self):
        return ["gc", "at"]

    def embed_batch(self, sequences):
        scale = float(Path(self.weights).read_text())
        gc = np.array([(s.count("G") + s.count("C")) / len(s) for s in sequences])
        return (np.column_stack([gc, 1 - gc]) * scale).astype(np.float32)


def test_on_the_fly_embedding_verifies_the_weights_checksum(tmp_path, monkeypatch, capsys):
    from genofm import backbones

    monkeypatch.setitem(backbones.REGISTRY, "weightedtoy", "test_predict:WeightedToy")
    weights = tmp_path / "w.txt"
    weights.write_text("2.0")
    backbone = WeightedToy(BackboneOptions(), weights)
    frame = planted_frame(["mafk", "oct4"], n_per_class=20)
    frame["sequence"] = [s[:50] + ("GC" * 25 if label == "oct4" else "AT" * 25) for s, label in zip(frame["sequence"], frame["label"])]
    from genofm.data.dataset import write_dataset

    dataset = tmp_path / "d.parquet"
    write_dataset(frame, dataset, ["mafk", "oct4"])
    embeddings = tmp_path / "toy.h5"
    with EmbeddingWriter(embeddings, backbone.feature_names, backbone.provenance() | {"rc_average": False}) as writer:
        writer.append(frame["id"].tolist(), backbone.embed(frame["sequence"].tolist()))
    model = tmp_path / "model"
    assert run_tool(train_main, [dataset, "-e", embeddings, "-o", model, *FAST], monkeypatch, capsys)[0] == 0

    code, _, err = run_tool(predict_main, [dataset, "--model", model, "-o", tmp_path / "a.tsv"], monkeypatch, capsys)
    assert code == 2 and "pass those weights with --weights" in err
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "--weights", weights, "-o", tmp_path / "a.tsv", "--device", "cpu"], monkeypatch, capsys)
    assert code == 0, err
    other = tmp_path / "other.txt"
    other.write_text("3.0")
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "--weights", other, "-o", tmp_path / "b.tsv"], monkeypatch, capsys)
    assert code == 2 and "differs from the weights the model was trained with" in err and not (tmp_path / "b.tsv").exists()


def test_fine_tuned_models_are_rebuilt_by_their_finetuner(tmp_path, monkeypatch, capsys):
    from genofm import finetune

    monkeypatch.setitem(finetune.FINETUNERS, "fakebert", "test_train:FakeFinetuner")
    frame = planted_frame(["mafk", "oct4"], n_per_class=20)
    from genofm.data.dataset import write_dataset

    dataset = tmp_path / "d.parquet"
    write_dataset(frame, dataset, ["mafk", "oct4"])
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    model = tmp_path / "ft"
    assert run_tool(train_main, [dataset, "--finetune", "fakebert", "--weights", weights, "-o", model, "--bootstrap", "20"], monkeypatch, capsys)[0] == 0
    out = tmp_path / "p.tsv"
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "--weights", weights, "-o", out, "--splits", "test"], monkeypatch, capsys)
    assert code == 0, err
    evaluated = pd.read_csv(model / "test_predictions.tsv", sep="\t")
    pd.testing.assert_frame_equal(pd.read_csv(out, sep="\t"), evaluated)
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "-o", out], monkeypatch, capsys)
    assert code == 2 and "needs --weights" in err


def test_unknown_split_is_refused(trained, monkeypatch, capsys):
    tmp, _, dataset, embeddings, model = trained
    code, _, err = run_tool(predict_main, [dataset, "--model", model, "-e", embeddings, "-o", tmp / "x.tsv", "--splits", "holdout"], monkeypatch, capsys)
    assert code == 2 and "--splits" in err
