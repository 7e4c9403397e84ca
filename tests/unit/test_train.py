"""genofm-train: model folders, evaluation on the test split only, pickle-free persistence, clear errors."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file, save_file
from sklearn import metrics as skm

from genofm.cli.train import main as train_main
from genofm.heads import GBoostHead, LogRegHead, MLPHead
from genofm.heads.base import cv_splits
from genofm.heads.features import groups_of
from genofm.heads.store import load_head, read_model
from genofm.interpret.ranking import linear_ranking
from test_train_fixtures import planted_frame, run_tool, scaled_inputs, write_inputs

FAST = ["--cs", "4", "--cv-folds", "3", "--bootstrap", "100"]


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    """A binary planted-motif dataset with reverse-complement augmentation, and a trained logreg folder."""
    tmp = tmp_path_factory.mktemp("binary")
    frame = planted_frame(["mafk", "oct4"], n_per_class=50, augment=True)
    dataset, embeddings = write_inputs(tmp, frame, ["mafk", "oct4"], k=4, shards=2)
    return tmp, frame, dataset, embeddings


def assert_no_pickle(folder: Path) -> None:
    """Every file is JSON, safetensors, a skops zip of JSON/.npy, PNG or TSV; nothing unpickles."""
    for path in folder.iterdir():
        assert path.suffix in {".json", ".safetensors", ".skops", ".png", ".tsv"}, path
        data = path.read_bytes()
        assert not data.startswith(b"\x80"), f"{path} looks like a pickle"
        if path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".safetensors":
            load_file(path)
        elif path.suffix == ".skops":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    assert member.endswith((".json", ".npy")), member
                    if member.endswith(".npy"):
                        with archive.open(member) as handle:
                            np.load(handle, allow_pickle=False)


def test_binary_logreg_model_folder(binary, monkeypatch, capsys):
    tmp, frame, dataset, embeddings = binary
    out = tmp / "model"
    args = [dataset, "--output", out, *sum((["--embeddings", p] for p in embeddings), []), *FAST]
    code, _, err = run_tool(train_main, args, monkeypatch, capsys)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} == {"model.json", "model.safetensors", "metrics.json", "test_predictions.tsv", "valid_predictions.tsv",
                                               "roc_curve.png", "pr_curve.png"}
    assert_no_pickle(out)
    model = read_model(out)
    assert model["kind"] == "head" and model["head"] == "logreg"
    assert model["classes"] == ["mafk", "oct4"] and model["positive_class"] == "oct4"
    assert model["backbone"]["backbone"] == "kmer" and model["backbone"]["options"]["k"] == 4
    assert len(model["feature_names"]) == 136
    assert model["dataset"]["n_train_augmented"] == 60 and model["dataset"]["n_test"] == 20
    assert model["head_state"]["C"] in model["head_state"]["log"]["Cs"]
    # evaluated on the test split only, augmented rows never among them; metrics recomputable from the TSV
    predictions = pd.read_csv(out / "test_predictions.tsv", sep="\t")
    test = frame[frame["split"] == "test"]
    assert list(predictions["id"]) == list(test["id"])
    assert list(predictions.columns) == ["id", "split", "chrom", "start", "end", "strand", "label", "prob_mafk", "prob_oct4", "predicted_label"]
    metrics = json.loads((out / "metrics.json").read_text())
    truth = (predictions["label"] == "oct4").to_numpy()
    assert metrics["metrics"]["auroc"]["value"] == pytest.approx(skm.roc_auc_score(truth, predictions["prob_oct4"]), abs=1e-4)
    assert metrics["metrics"]["auroc"]["value"] > 0.9
    assert metrics["split"] == "test" and metrics["positive_class"] == "oct4"
    # validation metrics beside the test metrics (choose on them), and which split chose what
    valid = frame[frame["split"] == "valid"]
    assert metrics["valid"]["split"] == "valid" and metrics["valid"]["n"] == len(valid)
    assert model["valid_metrics"]["auroc"] == metrics["valid"]["metrics"]["auroc"]["value"] > 0.8
    assert model["test_metrics"]["auroc"] == metrics["metrics"]["auroc"]["value"]
    assert "cross-validation on the train split" in model["selection"]["C"] and "chooses nothing" in model["selection"]["test split"]


def test_three_classes_report_macro_and_per_class_metrics(tmp_path, monkeypatch, capsys):
    frame = planted_frame(["mafk", "nfkb", "oct4"], n_per_class=30)
    dataset, embeddings = write_inputs(tmp_path, frame, ["mafk", "nfkb", "oct4"], k=4)
    out = tmp_path / "model3"
    code, _, err = run_tool(train_main, [dataset, "-e", embeddings[0], "-o", out, *FAST], monkeypatch, capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    predictions = pd.read_csv(out / "test_predictions.tsv", sep="\t")
    proba = predictions[["prob_mafk", "prob_nfkb", "prob_oct4"]].to_numpy()
    truth = predictions["label"].map({"mafk": 0, "nfkb": 1, "oct4": 2}).to_numpy()
    expected = skm.roc_auc_score(truth, proba, multi_class="ovr", average="macro")
    assert metrics["metrics"]["auroc"]["value"] == pytest.approx(expected, abs=1e-3)
    assert set(metrics["per_class"]) == {"mafk", "nfkb", "oct4"} and metrics["positive_class"] is None
    head = load_head(out, read_model(out))
    assert head.coef_.shape == (3, 136)


@pytest.mark.parametrize("head", [LogRegHead(cs=3, cv_folds=3), MLPHead(hidden=(16,), max_epochs=20), GBoostHead(max_iter=20)])
def test_save_load_round_trip_gives_identical_probabilities(head, tmp_path):
    from genofm.heads.store import model_document, save_head

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)) * np.array([1, 10, 100, 1e-2, 1, 1])
    y = (X[:, 0] + X[:, 1] / 10 + rng.normal(size=120) > 0).astype(int)
    head.fit(X[:90], y[:90], groups=None, X_valid=X[90:], y_valid=y[90:])
    document = model_document("head", ["a", "b"], feature_names=[f"f{i}" for i in range(6)], backbone={"backbone": "toy"})
    save_head(tmp_path, head, document)
    assert_no_pickle(tmp_path)
    loaded = load_head(tmp_path, read_model(tmp_path))
    np.testing.assert_array_equal(loaded.predict_proba(X), head.predict_proba(X))
    assert loaded.get_params() == head.get_params()


@pytest.mark.parametrize("head", [MLPHead(hidden=(8,), max_epochs=15, patience=3), GBoostHead(max_iter=15)])
def test_non_linear_heads_stop_early_on_a_grouped_holdout_without_a_valid_split(head):
    frame = planted_frame(["mafk", "oct4"], n_per_class=30, augment=True)
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    from test_train_fixtures import kmer_frequencies

    X, _ = kmer_frequencies(train["sequence"].tolist(), 3)
    y = (train["label"] == "oct4").to_numpy(dtype=int)
    head.fit(X, y, groups=groups_of(train))
    assert head.log_["early_stopping_on"].startswith("grouped")
    assert head.predict_proba(X).shape == (len(train), 2)


def test_standardised_coefficients_rank_the_informative_feature_first_whatever_the_scales(tmp_path):
    dataset, embeddings, names = scaled_inputs(tmp_path)
    from genofm.embeddings import read_embeddings

    frame = pd.read_parquet(dataset)
    train = frame[frame["split"] == "train"]
    X = read_embeddings(embeddings).align(train["id"])
    y = (train["label"] == "pos").to_numpy(dtype=int)
    head = LogRegHead(cs=5, cv_folds=3).fit(X, y)
    ranked = linear_ranking(head, names, ["neg", "pos"])
    assert ranked.iloc[0]["feature"] == "informative" and ranked.iloc[0]["coefficient"] > 0
    # ranking raw coefficients of an unscaled fit (the seed study's flaw) puts it elsewhere
    from sklearn.linear_model import LogisticRegression

    raw = LogisticRegression(C=1.0, max_iter=5000).fit(X, y).coef_[0]
    assert names[int(np.argmax(np.abs(raw)))] != "informative"


def test_feature_group_restricts_columns_and_unknown_group_lists_the_choices(tmp_path, monkeypatch, capsys):
    dataset, embeddings, names = scaled_inputs(tmp_path)
    out = tmp_path / "grouped"
    code, _, err = run_tool(train_main, [dataset, "-e", embeddings[0], "-o", out, "--feature-group", "firsthalf", *FAST], monkeypatch, capsys)
    assert code == 0, err
    model = read_model(out)
    assert model["feature_names"] == names[:4] and model["feature_group"] == "firsthalf"
    code, _, err = run_tool(train_main, [dataset, "-e", embeddings[0], "-o", tmp_path / "bad", "--feature-group", "tf", *FAST], monkeypatch, capsys)
    assert code == 2 and "genofm-train: error:" in err and "no feature group 'tf'" in err and "firsthalf" in err
    assert not (tmp_path / "bad").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bad")]


def _rewrite(frame: pd.DataFrame, tmp_path: Path, name: str, k: int = 4):
    return write_inputs(tmp_path, frame, ["mafk", "oct4"], k=k, name=name)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.assign(label=np.where(f["split"] == "train", "oct4", f["label"])), "train split holds only class 'oct4'"),
        (lambda f: f.assign(label=np.where(f["split"] == "test", "mafk", f["label"])), "test split holds only class 'mafk'"),
        (lambda f: f[f["split"] != "test"], "test split is empty"),
    ],
)
def test_unlearnable_or_unevaluable_splits_fail_cleanly(edit, message, tmp_path, monkeypatch, capsys):
    frame = edit(planted_frame(["mafk", "oct4"], n_per_class=20))
    dataset, embeddings = _rewrite(frame, tmp_path, "edited")
    out = tmp_path / "model"
    code, _, err = run_tool(train_main, [dataset, "-e", embeddings[0], "-o", out, *FAST], monkeypatch, capsys)
    assert code == 2 and message in err and str(dataset) in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_embeddings_missing_dataset_ids_fail_cleanly(tmp_path, monkeypatch, capsys):
    frame = planted_frame(["mafk", "oct4"], n_per_class=20)
    _, embeddings = _rewrite(frame.iloc[:30], tmp_path, "partial")
    dataset, _ = _rewrite(frame, tmp_path, "full")
    code, _, err = run_tool(train_main, [dataset, "-e", embeddings[0], "-o", tmp_path / "m", *FAST], monkeypatch, capsys)
    assert code == 2 and "have no embedding" in err and not (tmp_path / "m").exists()


def test_option_misuse_is_explained(binary, monkeypatch, capsys):
    tmp, _, dataset, embeddings = binary
    code, _, err = run_tool(train_main, [dataset, "-o", tmp / "x"], monkeypatch, capsys)
    assert code == 2 and "pass --embeddings" in err
    code, _, err = run_tool(train_main, [dataset, "-o", tmp / "x", "--finetune", "dnabert2"], monkeypatch, capsys)
    assert code == 2 and "needs --weights" in err
    code, _, err = run_tool(train_main, [dataset, "-o", tmp / "x", "-e", embeddings[0], "--head", "mlp", "--hidden", "a,b"], monkeypatch, capsys)
    assert code == 2 and "--hidden" in err
    assert not (tmp / "x").exists()


def test_cross_validation_keeps_reverse_complement_copies_with_their_original():
    frame = planted_frame(["mafk", "oct4"], n_per_class=30, augment=True)
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    groups = groups_of(train)
    assert (groups[train["augmented"].to_numpy()] == train["id"][train["augmented"]].str[:-3]).all()
    y = (train["label"] == "oct4").to_numpy(dtype=int)
    for fit_rows, held_rows in cv_splits(y, groups, 3, seed=0):
        assert not set(groups[fit_rows]) & set(groups[held_rows])


class FakeFinetuner:
    """Counts each class's planted motif (a stand-in for a fine-tuned backbone)."""

    motifs = {"mafk": "GCTGA", "oct4": "TGCAAA"}

    def __init__(self, backbone, weights, backbone_options, options):
        self.backbone, self.weights, self.backbone_options, self.options = backbone, weights, backbone_options, options
        self.scale = np.array([1.0])

    def _scores(self, frame):
        from genofm.sequence import reverse_complement

        counts = [[s.count(m) + s.count(reverse_complement(m)) for m in self.motifs.values()] for s in frame["sequence"]]
        z = np.asarray(counts, dtype=float) * self.scale
        return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)

    def fit(self, train, valid, classes):
        assert list(classes) == list(self.motifs) and not valid.empty
        self.scale = np.array([2.0])
        return {"epochs": 1, "train_rows": len(train), "lr": self.options.learning_rate}

    def predict_proba(self, frame):
        return self._scores(frame)

    def save(self, directory):
        save_file({"scale": self.scale}, Path(directory) / "finetuned.safetensors")
        return {"file": "finetuned.safetensors"}

    @classmethod
    def load(cls, directory, config, weights, device):
        from genofm.finetune import FinetuneOptions

        model = cls("fakebert", weights, {}, FinetuneOptions())
        model.scale = load_file(Path(directory) / config["file"])["scale"]
        return model


@pytest.fixture
def fake_finetuner(monkeypatch):
    from genofm import finetune

    monkeypatch.setitem(finetune.FINETUNERS, "fakebert", "test_train:FakeFinetuner")


def test_finetune_dispatch_writes_an_evaluated_model_folder(fake_finetuner, binary, monkeypatch, capsys):
    tmp, frame, dataset, _ = binary
    weights = tmp / "fake_weights.bin"
    weights.write_bytes(b"weights")
    out = tmp / "finetuned"
    args = [dataset, "--finetune", "fakebert", "--weights", weights, "-o", out, "-O", "layer=-1", "--learning-rate", "0.01",
            "--epochs", "2", "--bootstrap", "50"]
    code, _, err = run_tool(train_main, args, monkeypatch, capsys)
    assert code == 0, err
    model = read_model(out)
    assert model["kind"] == "finetuned" and model["backbone"]["backbone"] == "fakebert"
    assert model["backbone"]["options"] == {"layer": "-1"} and len(model["backbone"]["weights_sha256"]) == 64
    assert model["finetune"]["options"]["epochs"] == 2 and model["finetune"]["options"]["learning_rate"] == 0.01
    assert model["finetune"]["config"] == {"file": "finetuned.safetensors"} and model["training_log"]["lr"] == 0.01
    assert model["valid_metrics"]["auroc"] > 0.9 and json.loads((out / "metrics.json").read_text())["valid"]["split"] == "valid"
    assert model["selection"]["epoch kept"].startswith("lowest train loss")  # the fake logs no early stopping
    assert (out / "finetuned.safetensors").is_file() and (out / "roc_curve.png").is_file()
    assert json.loads((out / "metrics.json").read_text())["metrics"]["auroc"]["value"] > 0.9
    assert_no_pickle(out)


def test_finetune_of_an_unknown_backbone_fails_cleanly(binary, monkeypatch, capsys):
    tmp, _, dataset, _ = binary
    code, _, err = run_tool(train_main, [dataset, "--finetune", "kmer", "--weights", dataset, "-o", tmp / "y"], monkeypatch, capsys)
    assert code == 2 and "cannot be fine-tuned" in err and not (tmp / "y").exists()
