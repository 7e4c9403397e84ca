"""benchmarks/public_benchmarks.py: skips without ../shared/data, passes one-strand CNN options for oriented sets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "public_benchmarks.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("public_benchmarks", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["public_benchmarks"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("public_benchmarks", None)


def test_skips_cleanly_without_the_public_data(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--data", str(tmp_path / "absent"), "--workdir", str(tmp_path / "w")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stdout and "absent" in result.stdout
    assert not (tmp_path / "w").exists()


def test_oriented_sets_train_the_cnn_on_one_strand(bench, tmp_path):
    sets = bench.benchmarks(tmp_path)
    assert set(sets) == {"ienhancer2l", "ecoli_promoters", "ncrna_nrc", "uci_splice"}
    for name in ("ecoli_promoters", "ncrna_nrc", "uci_splice"):  # RNA families, promoters 5'->3', splice junctions
        assert sets[name].cnn_options == ["-O", "rc_augment=false", "-O", "strand_average=false"], name
    assert sets["ienhancer2l"].cnn_options == []  # enhancers work on either strand
    for b in sets.values():
        assert "kmer" in b.models and "cnn" in b.models
        assert set(b.models) <= set(bench.MODELS)
        assert all(0.5 < v < 1 for v in b.targets.values())


def test_table_formats_mean_and_sd(bench):
    assert bench._fmt(0.95) == "0.950"
    assert bench._fmt(0.95, 0.0123) == "0.950 \u00b1 0.012"
    assert bench._fmt(None) == "" and bench._fmt(float("nan")) == ""


def test_choices_follow_validation_accuracy_first_listed_on_a_tie(bench):
    best, shown = bench.best_on_validation({"a": {"accuracy": 0.90}, "b": {"accuracy": 0.95}, "c": {"accuracy": 0.95}})
    assert best == "b" and shown == "a 0.900, b 0.950, c 0.950"


def test_positional_model_only_for_aligned_sets(bench, tmp_path):
    sets = bench.benchmarks(tmp_path)
    assert {name for name, b in sets.items() if b.positions} == {"ecoli_promoters", "uci_splice"}
    for b in sets.values():  # a default model list asks for positional only where the sequences are aligned
        assert ("positional" in b.models) == bool(b.positions), b.name
    for b in sets.values():  # the full-resolution CNN is a candidate only where an offset means something
        assert ("dilated_full" in b.cnn_candidates) == bool(b.positions), b.name
        assert set(b.cnn_candidates) >= {"basset", "dilated"}
        for name in b.cnn_candidates:
            assert bench.ALL_CNN_CANDIDATES[name][:2] == ["-O", f"architecture={name.split('_')[0]}"]


def test_transformer_is_a_cnn_candidate_on_aligned_sets_only(bench, tmp_path):
    for b in bench.benchmarks(tmp_path).values():
        assert ("transformer" in b.cnn_candidates) == bool(b.positions), b.name
    assert bench.ALL_CNN_CANDIDATES["transformer"] == ["-O", "architecture=transformer"]


def _model_dir(path, seed, labels):
    """A model folder's valid/test prediction files with random probabilities of class "b"."""
    path.mkdir()
    rng = np.random.default_rng(seed)
    for name in ("valid_predictions.tsv", "test_predictions.tsv"):
        p = rng.uniform(size=len(labels))
        pd.DataFrame({"id": [f"r{i}" for i in range(len(labels))], "label": labels, "prob_a": 1 - p, "prob_b": p,
                      "predicted_label": np.where(p > 0.5, "b", "a")}).to_csv(path / name, sep="\t", index=False)
    return path


def test_blend_averages_the_cnn_ensemble_and_the_logreg_one_to_one(bench, tmp_path):
    from genofm.evaluation.metrics import evaluate

    labels = ["a", "b"] * 20
    cnn = [_model_dir(tmp_path / f"cnn_s{s}", s, labels) for s in range(3)]
    logreg = _model_dir(tmp_path / "logreg", 9, labels)
    valid, test, table = bench.blend_metrics(cnn, logreg, ["a", "b"])
    truth = np.array([0, 1] * 20)
    for split, got in (("valid", valid), ("test", test)):
        read = lambda d: pd.read_csv(d / f"{split}_predictions.tsv", sep="\t")[["prob_a", "prob_b"]].to_numpy()  # noqa: E731
        proba = (np.mean([read(d) for d in cnn], axis=0) + read(logreg)) / 2
        expected = evaluate(truth, proba, ["a", "b"], n_bootstrap=0)["metrics"]
        assert got["accuracy"] == pytest.approx(expected["accuracy"]["value"]) and got["mcc"] == pytest.approx(expected["mcc"]["value"])
    assert list(table["predicted_label"]) == list(np.where(proba[:, 1] > proba[:, 0], "b", "a"))


def test_final_pick_is_the_best_single_model_on_validation(bench):
    rows = [{"model": "kmer", "valid_accuracy": 0.80, "_final": True},
            {"model": "stacked (not chosen)", "valid_accuracy": 0.95},
            {"model": "cnn, 5 seeds mean \u00b1 sd", "valid_accuracy": 0.90, "_final": False},
            {"model": "cnn, ensemble of 5 seeds", "valid_accuracy": 0.85, "_final": True},
            {"model": "blend", "valid_accuracy": 0.85, "_final": True}]
    assert bench.mark_final_pick(rows) == "cnn, ensemble of 5 seeds"  # the first listed on a tie
    assert [r["final"] for r in rows] == [False, False, False, True, False]
    assert bench.mark_final_pick([{"model": "kmer", "valid_accuracy": 0.8}]) is None


def test_selected_ensemble_weights_the_library_by_validation_and_scores_test(bench, tmp_path):
    from genofm.evaluation.ensemble_selection import select_weights
    from genofm.evaluation.metrics import evaluate

    labels = ["a", "b"] * 20
    library = [_model_dir(tmp_path / f"m{s}", s, labels) for s in range(4)]
    weights, valid, test, table = bench.selected_ensemble(library, ["a", "b"])
    read = lambda d, split: pd.read_csv(d / f"{split}_predictions.tsv", sep="\t")[["prob_a", "prob_b"]].to_numpy()  # noqa: E731
    truth = np.array([0, 1] * 20)
    expected = select_weights(truth, [read(d, "valid") for d in library])
    assert weights == {d: pytest.approx(w) for d, w in zip(library, expected) if w > 0}
    proba = sum(w * read(d, "test") for d, w in weights.items())
    assert test["mcc"] == pytest.approx(evaluate(truth, proba, ["a", "b"], n_bootstrap=0)["metrics"]["mcc"]["value"])
    assert list(table["predicted_label"]) == list(np.where(proba[:, 1] > proba[:, 0], "b", "a"))
    assert valid["accuracy"] is not None


def test_leak_free_test_rows_exclude_copies_and_overlaps(bench, tmp_path):
    from genofm.sequence import reverse_complement

    rng = np.random.default_rng(0)
    seq = lambda n: "".join(rng.choice(list("ACGT"), size=n))  # noqa: E731
    train, valid = [seq(80) for _ in range(3)], [seq(80)]
    test = {"copy": train[0], "rc": reverse_complement(train[1]), "shifted": valid[0][15:] + seq(15),
            "clean": seq(80), "clean_rc_of_augmented": seq(80)}
    rows = [(f"tr{i}", s, "train", False) for i, s in enumerate(train)] + [("va0", valid[0], "valid", False)]
    rows += [(name, s, "test", False) for name, s in test.items()]
    rows.append(("tr0_rc", reverse_complement(test["clean_rc_of_augmented"]), "train", True))  # augmented rows are not data
    frame = pd.DataFrame(rows, columns=["id", "sequence", "split", "augmented"])
    frame.to_parquet(tmp_path / "ds.parquet")
    assert bench.leak_free_ids(tmp_path / "ds.parquet") == {"clean", "clean_rc_of_augmented"}
