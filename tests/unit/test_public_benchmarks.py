"""benchmarks/public_benchmarks.py: skips without ../shared/data, passes one-strand CNN options for oriented sets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

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
