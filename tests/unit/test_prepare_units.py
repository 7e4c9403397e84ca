"""The small rules genofm-prepare is built from: names, headers, windows, duplicates, splits."""

from __future__ import annotations

import numpy as np
import pytest

from genofm.data.chroms import ChromMatcher, chrom_key, chrom_sort_key
from genofm.data.dedup import canonical, drop_cross_split_pairs, drop_exact_duplicates
from genofm.data.fasta import parse_coordinates
from genofm.data.intervals import parse_gtf_attributes
from genofm.data.records import Example, clean_sequence
from genofm.data.splits import random_splits
from genofm.data.windows import interval_window, resize_example
from genofm.sequence import center_pad, reverse_complement


def test_chrom_key_and_matcher():
    assert chrom_key("chr1") == chrom_key("1") == chrom_key("CHR1") == "1"
    assert chrom_key("chrM") == chrom_key("MT") == chrom_key("M") == "MT"
    matcher = ChromMatcher(["1", "2", "X", "MT"])
    assert matcher.resolve("chrX") == "X" and matcher.resolve("chrM") == "MT" and matcher.resolve("chr3") is None
    assert sorted(["chrX", "chr10", "chr2", "chrM", "chr1"], key=chrom_sort_key) == ["chr1", "chr2", "chr10", "chrM", "chrX"]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("chr1:15710957-15711157", ("chr1", 15710957, 15711157, None)),
        ("chr2:1,000-2,000(-)", ("chr2", 1000, 2000, "-")),
        ("chrX:10-20:+", ("chrX", 10, 20, "+")),
        ("peak7::chr3:5-9(+)", ("chr3", 5, 9, "+")),
        ("CHR13_99137199_99137399", ("chr13", 99137199, 99137399, None)),
        ("5S_rRNA", None),
        ("chr1:20-10", None),
    ],
)
def test_header_coordinates(name, expected):
    assert parse_coordinates(name) == expected


def test_clean_sequence():
    assert clean_sequence("acgtRYKMacgu-") == "ACGTNNNNACGTN"


@pytest.mark.parametrize("n, length", [(7, 4), (8, 4), (4, 7), (4, 8), (5, 5)])
def test_interval_centre_window_matches_center_pad(n, length):
    """A genome window puts the interval where center_pad would put the same bases, on either strand."""
    genome = "".join(np.random.default_rng(n * 10 + length).choice(list("ACGT"), size=40))
    start = 15
    interval = genome[start : start + n]
    ws, we = interval_window(start, start + n, "+", length, "center")
    ws_m, we_m = interval_window(start, start + n, "-", length, "center")
    assert we - ws == we_m - ws_m == length
    if n >= length:
        assert genome[ws:we] == center_pad(interval, length)
        assert reverse_complement(genome[ws_m:we_m]) == center_pad(reverse_complement(interval), length)
    else:
        left = (length - n) // 2  # N bases center_pad puts before the sequence
        assert start - ws == left
        assert we_m - (start + n) == left  # on the minus strand the left of the window is the genomic right


@pytest.mark.parametrize("length", [10, 11])
def test_base_anchors_sit_at_the_window_middle_on_both_strands(length):
    for strand in "+-":
        ws, we = interval_window(100, 130, strand, length, "summit", summit=7)
        assert we - ws == length
        index = (107 - ws) if strand == "+" else (we - 1 - 107)  # position in the strand-corrected window
        assert index == length // 2
        ws, we = interval_window(100, 130, strand, length, "five-prime")
        tss = 100 if strand == "+" else 129
        assert ((tss - ws) if strand == "+" else (we - 1 - tss)) == length // 2


def test_resize_example_crop_updates_coordinates_on_both_strands():
    plus = resize_example(Example("a", "AAACCCGGGT", "x", "f", "chr1", 100, 110, "+"), 4)
    assert plus.sequence == "CCCG" and (plus.start, plus.end) == (103, 107)
    minus = resize_example(Example("b", "AAACCCGGGTT", "x", "f", "chr1", 100, 111, "-"), 4)
    assert minus.sequence == "CCCG" and (minus.start, minus.end) == (104, 108)
    pad = resize_example(Example("c", "ACG", "x", "f", "chr1", 5, 8, "+"), 6)
    assert pad.sequence == "NACGNN" and pad.padding == 3 and (pad.start, pad.end) == (5, 8)
    assert pad.n_fraction == 0.0 and pad.real_length == 3


def test_exact_duplicates_and_conflicts():
    rows = [Example("1", "ACGTA", "a", "f"), Example("2", "ACGTA", "a", "f"), Example("3", "GGGCC", "a", "f"),
            Example("4", "GGGCC", "b", "f"), Example("5", "TTTAA", "b", "f")]
    kept, dropped = drop_exact_duplicates(rows)
    assert [e.name for e in kept] == ["1", "5"]
    assert dropped == {"duplicate_sequence": 1, "conflicting_labels": 2}


def test_cross_split_pairs_keep_earliest_split():
    seq = "AACCGGTTTA"
    rows = [Example("t", reverse_complement(seq), "a", "f"), Example("v", seq, "a", "f"), Example("o", "GATTACA", "a", "f")]
    kept, splits, dropped = drop_cross_split_pairs(rows, ["test", "valid", "test"])
    assert [e.name for e in kept] == ["v", "o"] and splits == ["valid", "test"] and dropped == 1
    assert canonical(seq) == canonical(reverse_complement(seq))


def test_random_split_keeps_strands_together_and_stratifies():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(200):
        seq = "".join(rng.choice(list("ACGT"), size=30))
        rows.append(Example(f"r{i}", seq, "ab"[i % 2], "f"))
        if i % 10 == 0:
            rows.append(Example(f"r{i}rc", reverse_complement(seq), "ab"[i % 2], "f"))
    splits = random_splits(rows, 0.2, 0.1, seed=1)
    by_key = {}
    for row, split in zip(rows, splits):
        by_key.setdefault(canonical(row.sequence), set()).add(split)
    assert all(len(s) == 1 for s in by_key.values())
    for label in "ab":
        groups = {canonical(r.sequence): s for r, s in zip(rows, splits) if r.label == label}
        counts = {s: list(groups.values()).count(s) for s in ("train", "valid", "test")}
        assert counts == {"train": 70, "valid": 10, "test": 20}


def test_gtf_attributes():
    assert parse_gtf_attributes('gene_id "ENSG1"; gene_type "lncRNA"; level 2;') == {
        "gene_id": "ENSG1",
        "gene_type": "lncRNA",
        "level": "2",
    }
