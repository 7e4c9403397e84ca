"""Overlapping sequences (shifted windows of one region): found on both strands, kept in one random split, counted as leakage."""

from __future__ import annotations

import numpy as np
import pytest

from genofm.data import overlaps
from genofm.data.dataset import read_dataset
from genofm.data.dedup import measure_leakage
from genofm.data.overlaps import overlap_groups
from genofm.data.records import Example
from genofm.errors import GenofmError
from genofm.sequence import reverse_complement

from test_prepare import prepare_ok


def _random(rng, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def _same(groups, i: int, j: int) -> bool:
    return groups[i] == groups[j]


def test_shifted_windows_on_either_strand_share_a_group():
    rng = np.random.default_rng(0)
    region = _random(rng, 300)
    seqs = [
        region[0:100],
        region[60:160],  # shares 40 bp with the first
        reverse_complement(region[130:230]),  # shares 30 bp with the second: only through the next one
        region[100:200],  # shares 60 bp with the second and 70 with the third
        _random(rng, 100),
        _random(rng, 100),
    ]
    groups = overlap_groups(seqs)
    assert _same(groups, 0, 1) and _same(groups, 1, 3) and _same(groups, 2, 3)
    assert len({groups[0], groups[4], groups[5]}) == 3
    # 0 = identical sequences only (either strand)
    assert len(set(overlap_groups(seqs, 0))) == len(seqs)
    twins = overlap_groups(["ACGTAC", reverse_complement("ACGTAC"), "ACGTAA"], 0)
    assert _same(twins, 0, 1) and not _same(twins, 0, 2)


def test_every_shared_stretch_of_min_overlap_is_found():
    """The minimizer index's guarantee, on random pairs sharing exactly min_overlap bases at random offsets."""
    rng = np.random.default_rng(1)
    for min_overlap in (32, 40, 57):
        seqs = []
        for _ in range(40):
            shared = _random(rng, min_overlap)
            a = _random(rng, int(rng.integers(0, 50))) + shared + _random(rng, int(rng.integers(0, 50)))
            b = _random(rng, int(rng.integers(0, 50))) + shared + _random(rng, int(rng.integers(0, 50)))
            seqs += [a, reverse_complement(b) if rng.random() < 0.5 else b]
        groups = overlap_groups(seqs, min_overlap)
        assert all(_same(groups, i, i + 1) for i in range(0, len(seqs), 2))
        assert len(set(groups)) == len(seqs) // 2  # and nothing else is linked


def test_repeats_and_ns_link_nothing():
    rng = np.random.default_rng(2)
    repeat = _random(rng, 45)
    common = [_random(rng, 30) + repeat + _random(rng, 30) for _ in range(overlaps.REPEAT_SEQUENCES + 1)]
    assert len(set(overlap_groups(common))) == len(common)  # in more than REPEAT_SEQUENCES sequences: a repeat
    assert len(set(overlap_groups(common[:3]))) == 1  # in three: an overlap
    stretch = _random(rng, 60)
    broken = [stretch[:30] + "N" + stretch[31:], stretch[:30] + "A" + stretch[31:]]
    assert len(set(overlap_groups(broken))) == 2  # no 40 bp run without the N


def test_chunked_index_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(3)
    region = _random(rng, 2000)
    seqs = [region[s : s + 150] for s in rng.integers(0, 1850, size=30)] + [_random(rng, 150) for _ in range(20)]
    whole = overlap_groups(seqs)
    monkeypatch.setattr(overlaps, "CHUNK_BASES", 400)
    chunked = overlap_groups(seqs)
    assert all((whole == whole[i]).tolist() == (chunked == chunked[i]).tolist() for i in range(len(seqs)))


def test_min_overlap_below_the_kmer_is_refused():
    with pytest.raises(GenofmError, match="--overlap-bp must be 0"):
        overlap_groups(["ACGT" * 20], 31)


def test_leakage_counts_overlaps_once_by_the_worst_kind():
    rng = np.random.default_rng(4)
    a, b = _random(rng, 80), _random(rng, 80)
    seqs = [a, b, a, b[10:] + _random(rng, 10), _random(rng, 80)]
    splits = ["train", "train", "test", "test", "test"]
    examples = [Example(name=str(i), sequence=s, label="x", source="t") for i, s in enumerate(seqs)]
    leak = measure_leakage(examples, splits, overlap_groups(seqs))
    assert (leak["exact_duplicates_across_splits"], leak["overlapping_across_splits"]) == (1, 1)
    assert leak["pairs"] == {"train->test": {"exact_duplicates": 1, "reverse_complements": 0, "overlapping": 1}}


def test_random_split_keeps_overlapping_windows_together(tmp_path, capsys, fasta_writer):
    rng = np.random.default_rng(5)
    records = {"pos": [], "neg": []}
    for cluster in range(40):  # 40 regions, 3 shifted windows each
        region = _random(rng, 140)
        label = "pos" if cluster % 2 else "neg"
        records[label] += [region[s : s + 100] for s in (0, 20, 40)]
    paths = []
    for label, seqs in records.items():
        fasta_writer(tmp_path / f"{label}.fa", [(f"{label}{i}", s) for i, s in enumerate(seqs)])
        paths.append(f"{label}={tmp_path / f'{label}.fa'}")
    frame, _, summary = prepare_ok([*paths, "--split-mode", "random", "--test-fraction", "0.2"], capsys, tmp_path / "out")
    groups = overlap_groups(frame["sequence"].tolist())
    assert frame.groupby(groups)["split"].nunique().max() == 1
    assert summary["leakage"]["measured_before_removal"]["overlapping_across_splits"] == 0
    assert "kept in one split" in summary["split_detail"]
    # without the overlap grouping the same split scatters the windows of a region
    frame0, _, summary0 = prepare_ok([*paths, "--split-mode", "random", "--test-fraction", "0.2", "--overlap-bp", "0"],
                                     capsys, tmp_path / "out0")
    assert frame0.groupby(overlap_groups(frame0["sequence"].tolist()))["split"].nunique().max() > 1
    assert "overlapping_across_splits" not in summary0["leakage"]["measured_before_removal"]
    assert read_dataset(tmp_path / "out" / "ds.parquet")[1] == ["neg", "pos"]
