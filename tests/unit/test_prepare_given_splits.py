"""genofm-prepare keeps a benchmark's own splits: split files, a split column, leakage measured and optionally dropped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genofm.data.dataset import read_dataset
from genofm.data.dedup import measure_leakage
from genofm.data.inputs import parse_input
from genofm.data.records import Example
from genofm.errors import GenofmError
from genofm.sequence import reverse_complement

from test_prepare import assert_fails, prepare_ok, run


def _table(path: Path, rows: list[tuple[str, str]], split_column: list[str] | None = None) -> Path:
    header = "sequence,label" + (",split" if split_column else "")
    lines = [header]
    for i, (seq, label) in enumerate(rows):
        lines.append(f"{seq},{label}" + (f",{split_column[i]}" if split_column else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(rng, dna, n: int, length: int = 50) -> list[tuple[str, str]]:
    return [(dna(rng, length), "pos" if i % 2 else "neg") for i in range(n)]


def test_parse_input_split_prefixes(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("sequence,label\nACGT,a\n")
    assert (parse_input(f"train={path}").split, parse_input(f"train={path}").label) == ("train", None)
    assert parse_input(f"dev={path}").split == "valid"
    assert parse_input(f"Validation={path}").split == "valid"
    spec = parse_input(f"test:enhancer={path}")
    assert (spec.split, spec.label) == ("test", "enhancer")
    spec = parse_input(f"oct4={path}")
    assert (spec.split, spec.label) == (None, "oct4")
    with pytest.raises(GenofmError, match="split comes first"):
        parse_input(f"enhancer:test={path}")


def test_split_files_kept_as_given_with_leakage_reported(tmp_path, capsys, dna):
    rng = np.random.default_rng(11)
    train_rows = _rows(rng, dna, 40)
    dev_rows = _rows(rng, dna, 10)
    test_rows = _rows(rng, dna, 12)
    test_rows[0] = (train_rows[0][0], test_rows[0][1])  # exact copy of a training sequence
    test_rows[1] = (reverse_complement(train_rows[1][0]), test_rows[1][1])  # reverse complement of one
    test_rows[2] = (test_rows[3][0], test_rows[3][1])  # duplicate within the test split: kept
    test_rows[4] = (train_rows[2][0][8:] + dna(rng, 8), test_rows[4][1])  # a window shifted by 8 bp: 42 bp shared
    test_rows[5] = (reverse_complement(dna(rng, 6) + train_rows[3][0][:44]), test_rows[5][1])  # shifted, other strand
    paths = [_table(tmp_path / f"{name}.csv", rows) for name, rows in (("train", train_rows), ("dev", dev_rows), ("test", test_rows))]
    out = tmp_path / "out"
    args = [f"train={paths[0]}", f"dev={paths[1]}", f"test={paths[2]}"]
    code, err = run([*args, "--output", out / "ds.parquet"], capsys)
    assert code == 0 and "the given splits leak" in err, err
    frame, classes = read_dataset(out / "ds.parquet")
    summary = json.loads((out / "ds.summary.json").read_text())
    assert summary["split_mode"] == "given"
    assert summary["totals"] == {"train": 40, "valid": 10, "test": 12}  # nothing dropped, nothing moved
    leak = summary["leakage"]["measured_before_removal"]
    assert leak["exact_duplicates_across_splits"] == 1
    assert leak["reverse_complements_across_splits"] == 1
    assert leak["duplicates_within_splits"] == 1
    assert leak["overlapping_across_splits"] == 2
    assert leak["pairs"] == {"train->test": {"exact_duplicates": 1, "reverse_complements": 1, "overlapping": 2}}
    assert summary["leakage"]["kept"] is True
    assert "2 share 40+ bp with one" in err
    test = frame[frame["split"] == "test"]
    assert test["sequence"].tolist() == [s for s, _ in test_rows]  # the benchmark's test set, in order

    dropped_frame, _, dropped_summary = prepare_ok(
        [*args, "--drop-leaking"], capsys, tmp_path / "dropped"
    )
    assert dropped_summary["totals"] == {"train": 40, "valid": 10, "test": 8}
    assert dropped_summary["dropped"] == {"leaking_across_given_splits": 4}
    assert dropped_summary["leakage"]["kept"] is False
    kept_test = set(dropped_frame.loc[dropped_frame["split"] == "test", "sequence"])
    assert not kept_test & {test_rows[i][0] for i in (0, 1, 4, 5)}

    # --overlap-bp 0: copies only, as before overlaps were measured
    _, _, copies_only = prepare_ok([*args, "--drop-leaking", "--overlap-bp", "0"], capsys, tmp_path / "copies")
    assert copies_only["dropped"] == {"leaking_across_given_splits": 2}
    assert "overlapping_across_splits" not in copies_only["leakage"]["measured_before_removal"]
    assert_fails([*args, "--overlap-bp", "20"], capsys, tmp_path / "bad", "--overlap-bp must be 0 (off) or at least 32")


def test_split_column_and_validation_carved_from_train(tmp_path, capsys, dna):
    rng = np.random.default_rng(12)
    rows = _rows(rng, dna, 60)
    splits = ["train"] * 40 + ["test"] * 20
    path = _table(tmp_path / "bench.csv", rows, splits)
    frame, _, summary = prepare_ok([path, "--valid-fraction", "0.25", "--rc-augment"], capsys, tmp_path / "out")
    assert summary["split_mode"] == "given"
    assert summary["totals"] == {"train": 30, "valid": 10, "test": 20}
    assert "drawn from train" in summary["split_detail"]
    original = frame[~frame["augmented"]]
    test_seqs = [s for (s, _), sp in zip(rows, splits) if sp == "test"]
    assert sorted(original.loc[original["split"] == "test", "sequence"]) == sorted(test_seqs)
    assert set(frame.loc[frame["augmented"], "split"]) == {"train"}
    # no validation split carved when --valid-fraction 0
    _, _, summary0 = prepare_ok([path, "--valid-fraction", "0"], capsys, tmp_path / "out0")
    assert summary0["totals"] == {"train": 40, "valid": 0, "test": 20}
    # --split-mode random ignores the given splits
    _, _, summary_r = prepare_ok([path, "--split-mode", "random"], capsys, tmp_path / "outr")
    assert summary_r["split_mode"] == "random" and summary_r["totals"]["test"] == 6


def test_fasta_per_class_and_split(tmp_path, capsys, dna, fasta_writer):
    rng = np.random.default_rng(13)
    files = {}
    for split, n in (("train", 30), ("test", 8)):
        for label in ("enhancer", "non"):
            files[split, label] = fasta_writer(tmp_path / f"{label}.{split}.fa", [(f"{label}{split}{i}", dna(rng, 80)) for i in range(n)])
    args = [f"{split}:{label}={path}" for (split, label), path in files.items()]
    frame, classes, summary = prepare_ok(args, capsys, tmp_path / "out")
    assert classes == ["enhancer", "non"]
    assert summary["counts"]["test"] == {"enhancer": 8, "non": 8}
    assert summary["counts"]["valid"] == {"enhancer": 3, "non": 3}  # default --valid-fraction 0.1 of train
    assert summary["inputs"][0]["path"].endswith("enhancer.train.fa")


def test_given_split_errors(tmp_path, capsys, dna):
    rng = np.random.default_rng(14)
    with_split = _table(tmp_path / "a.csv", _rows(rng, dna, 20))
    without = _table(tmp_path / "b.csv", _rows(rng, dna, 20))
    assert_fails([f"test={with_split}", without], capsys, tmp_path / "o1", "have no given split", "b.csv")
    assert_fails([without, "--split-mode", "given"], capsys, tmp_path / "o2", "--split-mode given needs splits")
    bad = _table(tmp_path / "c.csv", _rows(rng, dna, 4), ["train", "test", "holdout", "train"])
    assert_fails([bad], capsys, tmp_path / "o3", "c.csv", "line 4", "'holdout' is not a split")


def test_measure_leakage_counts_each_row_once():
    seq = "ACGTTGCAAA"
    examples = [Example(f"e{i}", s, "a", "x") for i, s in enumerate([seq, seq, seq, reverse_complement(seq), "GGGGCCCCAT"])]
    report = measure_leakage(examples, ["train", "valid", "test", "test", "test"])
    assert report["exact_duplicates_across_splits"] == 2  # the valid copy and the test copy
    assert report["reverse_complements_across_splits"] == 1
    assert report["pairs"]["train->test"] == {"exact_duplicates": 1, "reverse_complements": 1}
    assert report["pairs"]["valid->test"] == {"exact_duplicates": 1, "reverse_complements": 1}
    assert report["duplicates_within_splits"] == 0
    assert json.dumps(report)
