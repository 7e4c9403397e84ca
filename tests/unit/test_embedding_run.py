"""The shared embedding loop: length buckets, the memory budget and exact tiling of long sequences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from genofm import embedding_run
from genofm.backbones.kmer import KmerBackbone, KmerOptions
from genofm.backbones.spliceai import SpliceAIBackbone, SpliceAIOptions
from genofm.backbones.spliceai_model import SpliceAINet
from genofm.errors import GenofmError


def random_dna(rng, length: int, n_fraction: float = 0.02) -> str:
    probs = [(1 - n_fraction) / 4] * 4 + [n_fraction]
    return "".join(rng.choice(list("ACGTN"), size=length, p=probs))


def test_batches_are_sorted_by_length_and_stay_within_the_budget():
    lengths = [5, 400, 7, 90, 6, 380, 10_000, 8]
    batches, long_rows = embedding_run.plan_batches(lengths, batch_size=3, max_bases=800)
    assert long_rows == [6]
    seen = sorted(int(i) for b in batches for i in b)
    assert seen == [0, 1, 2, 3, 4, 5, 7]
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) * max(lengths[i] for i in batch) <= 800
    # sorted: every batch's rows are no longer than the next batch's
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)


def test_overhead_counts_against_the_budget():
    batches, long_rows = embedding_run.plan_batches([10, 10, 10], batch_size=10, max_bases=50, overhead=15)
    assert long_rows == [] and [len(b) for b in batches] == [2, 1]
    assert embedding_run.plan_batches([40], 10, 50, overhead=15)[1] == [0]


def test_no_budget_means_batch_size_only():
    batches, long_rows = embedding_run.plan_batches([1, 10**9, 3], batch_size=2, max_bases=None)
    assert long_rows == [] and [len(b) for b in batches] == [2, 1]


@pytest.mark.parametrize("k, rc_collapse, normalise", [(1, True, "frequency"), (3, False, "count"), (5, True, "frequency")])
def test_kmer_tiles_give_exactly_the_whole_sequence_spectrum(k, rc_collapse, normalise):
    backbone = KmerBackbone(KmerOptions(k=k, rc_collapse=rc_collapse, normalise=normalise))
    rng = np.random.default_rng(k)
    for length in (k, 97, 1000):
        seq = random_dna(rng, length, 0.05)
        whole = backbone.embed_batch([seq])[0]
        for tile in (k, k + 1, 50, 999, 5000):
            np.testing.assert_array_equal(backbone.embed_long(seq, tile), whole)


def test_budget_routes_a_long_sequence_through_tiles_and_keeps_input_order(monkeypatch):
    backbone = KmerBackbone(KmerOptions(k=4))
    rng = np.random.default_rng(1)
    seqs = [random_dna(rng, n) for n in (30, 20_000, 50, 25, 3000)]
    expected = backbone.embed_batch(seqs)
    calls = []
    original = backbone.embed_long
    monkeypatch.setattr(backbone, "embed_long", lambda s, t: calls.append((len(s), t)) or original(s, t))
    # 64 bytes per base: a budget of 2**-14 GiB = 65,536 bytes holds 1,024 padded bases
    got = embedding_run.embed_sequences(backbone, seqs, batch_size=8, memory_gib=2**-14)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert sorted(n for n, _ in calls) == [3000, 20_000] and all(t == 1024 for _, t in calls)


def test_embed_frame_equals_one_batch_and_names_a_non_finite_row():
    backbone = KmerBackbone(KmerOptions(k=2))
    frame = pd.DataFrame({"id": ["a", "b", "c"], "sequence": ["ACGTAC", "GGGGGGGGGGGGG", "AT"]})
    np.testing.assert_allclose(embedding_run.embed_frame(backbone, frame, 2), backbone.embed_batch(frame["sequence"].tolist()))

    class Broken(KmerBackbone):
        def embed_batch(self, sequences):
            out = super().embed_batch(sequences)
            out[[i for i, s in enumerate(sequences) if s.startswith("G")]] = np.nan
            return out

    with pytest.raises(GenofmError, match=r"non-finite features for id 'b'; try --precision fp32"):
        embedding_run.embed_frame(Broken(KmerOptions(k=2)), frame, 2)


def test_a_non_positive_budget_is_refused():
    with pytest.raises(GenofmError, match="--memory-budget must be a positive"):
        embedding_run.budget_bases(KmerBackbone(KmerOptions()), 0)


def tiny_spliceai(crop_extra: int = 3) -> SpliceAIBackbone:
    """A SpliceAIBackbone around a small random network of the same architecture (small flank)."""
    torch.manual_seed(0)
    shapes = ((3, 1), (5, 2), (3, 4))
    radius = sum(d * (k - 1) for k, d in shapes)
    net = SpliceAINet(shapes, skip_points=(0, 2), channels=5, crop=radius + crop_extra, eps=1e-3).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0, 0.5, generator=gen)
                module.running_var.uniform_(0.5, 2.0, generator=gen)
    backbone = SpliceAIBackbone.__new__(SpliceAIBackbone)
    backbone.options, backbone.weights, backbone.device, backbone.precision = SpliceAIOptions(bins=4), None, "cpu", "fp32"
    backbone.model_labels, backbone.nets = ["1", "2"], [net, net]
    backbone.channels, backbone.flank = net.stem.out_channels, net.crop
    return backbone


@pytest.mark.parametrize("length", [1, 7, 60, 333])
def test_spliceai_tiles_with_flanking_context_equal_the_whole_sequence(length):
    backbone = tiny_spliceai()
    seq = random_dna(np.random.default_rng(length), length, 0.05)
    whole = backbone.embed_batch([seq])[0]
    for tile in (1, 5, 17, 64, 1000):
        np.testing.assert_allclose(backbone.embed_long(seq, tile), whole, rtol=1e-5, atol=1e-5)
