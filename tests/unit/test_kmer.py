"""k-mer spectra: hand-counted examples, strand collapsing, N handling, options."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from genofm.backbones.kmer import KmerBackbone, KmerOptions, canonical_index, count_kmers
from genofm.errors import GenofmError
from genofm.sequence import reverse_complement


def features(seqs, **options):
    backbone = KmerBackbone(KmerOptions(**options), None)
    return dict(zip(backbone.feature_names, backbone.embed_batch(seqs)[0])) if len(seqs) == 1 else backbone.embed_batch(seqs)


def test_hand_counted_dinucleotides_without_collapsing():
    # AACGTN: AA, AC, CG, GT, and TN is skipped
    counts = features(["AACGTN"], k=2, rc_collapse=False, normalise="count")
    assert {name: value for name, value in counts.items() if value} == {"AA": 1, "AC": 1, "CG": 1, "GT": 1}


def test_reverse_complement_collapse_names_the_smaller_kmer():
    # GT is the reverse complement of AC: both counted under "AC"; CG is its own reverse complement
    freq = features(["AACGTN"], k=2)
    assert {name: value for name, value in freq.items() if value} == {"AA": 0.25, "AC": 0.5, "CG": 0.25}
    names = KmerBackbone(KmerOptions(k=2), None).feature_names
    assert names == ["AA", "AC", "AG", "AT", "CA", "CC", "CG", "GA", "GC", "TA"]


@pytest.mark.parametrize("k, expected", [(1, 2), (2, 10), (3, 32), (4, 136), (5, 512), (6, 2080)])
def test_number_of_canonical_kmers(k, expected):
    column, names = canonical_index(k)
    assert len(names) == expected and column.max() == expected - 1
    assert all(name <= reverse_complement(name) for name in names)
    assert names == sorted(names)


def test_collapsed_spectrum_is_strand_symmetric_and_uncollapsed_is_not():
    seq = "ACGTTGCANNAGGCTTACCCGGGTAAT"
    both = features([seq, reverse_complement(seq)], k=3)
    np.testing.assert_array_equal(both[0], both[1])
    raw = features([seq, reverse_complement(seq)], k=3, rc_collapse=False)
    assert not np.array_equal(raw[0], raw[1])
    assert KmerBackbone(KmerOptions(), None).averages_strands
    assert not KmerBackbone(KmerOptions(rc_collapse=False), None).averages_strands


def reference_counts(seq: str, k: int) -> Counter:
    """A plain Python counter to check the vectorised one against."""
    seq = seq.upper()
    return Counter(seq[i : i + k] for i in range(len(seq) - k + 1) if set(seq[i : i + k]) <= set("ACGT"))


@pytest.mark.parametrize("k", [1, 3, 4, 6])
def test_vectorised_counts_match_a_plain_counter(k):
    rng = np.random.default_rng(k)
    seqs = ["".join(rng.choice(list("ACGTN"), size=n, p=[0.24, 0.24, 0.24, 0.24, 0.04])) for n in (0, 3, 17, 60, 200)]
    seqs.append("acgtRYacgt")  # lower case counts, other IUPAC codes are skipped like N
    counts = count_kmers(seqs, k)
    names = KmerBackbone(KmerOptions(k=k, rc_collapse=False), None).feature_names
    for row, seq in zip(counts, seqs):
        expected = reference_counts(seq, k)
        assert {names[i]: int(v) for i, v in enumerate(row) if v} == dict(expected)


def test_frequencies_sum_to_one_and_empty_sequences_give_zeros():
    freq = features(["ACGTACGTTT", "NNNN", "AC"], k=3)
    assert freq[0].sum() == pytest.approx(1.0)
    assert not freq[1].any() and not freq[2].any()
    assert freq.dtype == np.float32 and freq.shape == (3, 32)


@pytest.mark.parametrize(
    "options, message",
    [({"k": 0}, "between 1 and 8"), ({"k": 9}, "between 1 and 8"), ({"normalise": "tfidf"}, "must be one of")],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(GenofmError, match=message):
        KmerBackbone(KmerOptions(**options), None)


def test_weights_are_refused(tmp_path):
    with pytest.raises(GenofmError, match="takes no --weights"):
        KmerBackbone(KmerOptions(), tmp_path)


def test_options_from_key_value_strings():
    options = KmerOptions.from_pairs({"k": "3", "rc-collapse": "false", "normalise": "count"}, "kmer")
    assert (options.k, options.rc_collapse, options.normalise) == (3, False, "count")


# --- position-specific k-mers (-O positions=N) ---------------------------------------------------

def test_positional_kmers_by_hand():
    # ACG centre-padded to 6 bp is NACGNN (floor left): AC starts at base 2, CG at base 3; k-mers with N are skipped
    backbone = KmerBackbone(KmerOptions(k=2, positions=6), None)
    assert len(backbone.feature_names) == 5 * 16 and backbone.feature_names[:2] == ["AA@1", "AC@1"]
    row = dict(zip(backbone.feature_names, backbone.embed_batch(["ACG"])[0]))
    assert {name for name, value in row.items() if value} == {"AC@2", "CG@3"}
    assert set(row.values()) == {0.0, 1.0}


def test_positional_kmers_crop_to_the_centre_and_keep_the_strand():
    backbone = KmerBackbone(KmerOptions(k=1, positions=4), None)
    cropped = dict(zip(backbone.feature_names, backbone.embed_batch(["TTACGTTT"])[0]))  # centre 4 bp: ACGT
    assert {name for name, value in cropped.items() if value} == {"A@1", "C@2", "G@3", "T@4"}
    seq = "AACCGGTTAC"
    wide = KmerBackbone(KmerOptions(k=2, positions=10), None)
    both = wide.embed_batch([seq, reverse_complement(seq)])
    assert not np.array_equal(both[0], both[1]) and not wide.averages_strands
    # tiling a long sequence reads the same central window
    long_seq = "ACGT" * 50
    np.testing.assert_array_equal(wide.embed_long(long_seq, tile_bases=16), wide.embed_batch([long_seq])[0])


def test_positional_kmers_match_a_plain_loop():
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGTN"), size=n)) for n in (5, 17, 30, 41)]
    k, width = 3, 30
    backbone = KmerBackbone(KmerOptions(k=k, positions=width), None)
    got = backbone.embed_batch(seqs)
    column = {name: j for j, name in enumerate(backbone.feature_names)}
    for row, seq in enumerate(seqs):
        padded = seq[(len(seq) - width) // 2 :][:width] if len(seq) >= width else (
            "N" * ((width - len(seq)) // 2) + seq + "N" * (width - len(seq) - (width - len(seq)) // 2))
        expected = np.zeros(len(column), dtype=np.float32)
        for i in range(width - k + 1):
            if set(padded[i : i + k]) <= set("ACGT"):
                expected[column[f"{padded[i : i + k]}@{i + 1}"]] = 1.0
        np.testing.assert_array_equal(got[row], expected)


@pytest.mark.parametrize("options, message", [
    (dict(k=5, positions=3), "at least k=5"),
    (dict(k=6, positions=200), "features"),
])
def test_positional_kmer_options_are_checked(options, message):
    with pytest.raises(GenofmError, match=message):
        KmerBackbone(KmerOptions(**options), None)
