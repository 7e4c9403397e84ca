"""Language-model embeddings: padding never counts, long inputs are tiled not truncated, order kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genofm.backbones import backbone_class
from genofm.backbones.lm_common import LMOptions, combine_rows, make_rows, padding_fraction, plan_batches, pool_hidden, tile_starts
from genofm.backbones.lm_tokenizers import LMTokenizer, Tokenized
from genofm.errors import GenofmError
from genofm.testing.tiny_lm import write_model

MODELS = ("dnabert2", "dnabert6", "gpt2dna")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    return {name: write_model(name, root / name) for name in MODELS}


def _backbone(folders, name, **options):
    cls = backbone_class(name)
    return cls(cls.Options.from_pairs({k: str(v) for k, v in options.items()}, name), folders[name])


def _random(n, seed):
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), n))


# --- pure helpers ------------------------------------------------------------------------------------
def test_tile_starts_cover_every_token_once_or_in_overlaps():
    for n, window, overlap in [(5, 10, 2), (10, 10, 2), (11, 10, 2), (100, 16, 4), (37, 8, 0)]:
        starts = tile_starts(n, window, overlap)
        covered = np.zeros(n, dtype=int)
        for s in starts:
            covered[s:s + window] += 1
            assert s + min(window, n) <= n
        assert covered.min() >= 1
        assert starts[-1] + min(window, n) == n
        if n <= window:
            assert starts == [0]  # short inputs are never duplicated (the "300 + 212 k-mers" bug)


class _FakeTokenizer(LMTokenizer):
    prefix, suffix, pad_id, files, summary_position = [101], [102], 0, [], "first"

    def tokenize_many(self, sequences):
        return [Tokenized(np.arange(len(s)) + 3, np.stack([np.arange(len(s)), np.arange(len(s)) + 1], 1)) for s in sequences]


def test_rows_frame_each_tile_and_weights_are_token_counts():
    tok = _FakeTokenizer()
    rows = make_rows(tok.tokenize_many(["A" * 5, "A" * 30]), tok, window=12, overlap=4)
    assert rows.seq_index.tolist() == [0, 1, 1, 1, 1]
    assert all(r[0] == 101 and r[-1] == 102 for r in rows.ids)
    assert rows.ids[0].tolist() == [101, 3, 4, 5, 6, 7, 102]
    assert rows.weights.tolist() == [len(r) for r in rows.ids]
    covered = set()
    for i in np.flatnonzero(rows.seq_index == 1):
        spans = rows.spans[i]
        assert (spans[0] == -1).all() and (spans[-1] == -1).all()
        for a, b in spans[1:-1]:
            covered.update(range(a, b))
    assert covered == set(range(30))
    with pytest.raises(GenofmError, match="overlap"):
        make_rows(tok.tokenize_many(["A"]), tok, window=4, overlap=4)


def test_plan_batches_respects_budget_and_bucketing_reduces_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 500, 200)
    bucketed = plan_batches(lengths, 2000, bucket=True)
    plain = plan_batches(lengths, 2000, bucket=False)
    for batches in (bucketed, plain):
        assert sorted(np.concatenate(batches).tolist()) == list(range(200))
        for b in batches:
            assert len(b) == 1 or lengths[b].max() * len(b) <= 2000
    assert padding_fraction(lengths, bucketed) < 0.1 < padding_fraction(lengths, plain)
    assert plan_batches(lengths, 1000, max_rows=3)[0].size <= 3


def test_masked_mean_and_tile_combination():
    hidden = torch.tensor([[[1.0, 1.0], [3.0, 3.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(pool_hidden(hidden, mask, "mean", "first"), torch.tensor([[2.0, 2.0]]))
    assert torch.allclose(pool_hidden(hidden, mask, "cls", "first"), torch.tensor([[1.0, 1.0]]))
    assert torch.allclose(pool_hidden(hidden, mask, "cls", "last"), torch.tensor([[3.0, 3.0]]))
    pooled = torch.tensor([[1.0], [4.0], [10.0]])
    out = combine_rows(pooled, torch.tensor([0, 0, 1]), torch.tensor([1.0, 3.0, 2.0]), 2)
    assert torch.allclose(out, torch.tensor([[3.25], [10.0]]))


# --- real (tiny) models ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_padding_never_changes_an_embedding(folders, name):
    backbone = _backbone(folders, name)
    short, long = _random(40, 1), _random(400, 2)
    alone = backbone.embed_batch([short])
    batched = backbone.embed_batch([short, long, _random(90, 3)])
    np.testing.assert_allclose(batched[0], alone[0], atol=2e-5)
    assert batched.shape == (3, len(backbone.feature_names)) and batched.dtype == np.float32


@pytest.mark.parametrize("name", MODELS)
def test_long_sequences_are_tiled_without_truncation(folders, name):
    backbone = _backbone(folders, name, window=16, overlap=4)
    seq = _random(600, 4)
    rows = make_rows(backbone.tokenizer.tokenize_many([seq]), backbone.tokenizer, backbone.window, 4)
    assert len(rows.ids) > 2
    covered = np.zeros(len(seq), dtype=bool)
    for spans in rows.spans:
        for a, b in spans[spans[:, 0] >= 0]:
            covered[a:b] = True
    assert covered.all(), "every base must reach the model"
    base = backbone.embed_batch([seq])[0]
    for pos in (5, 300, 595):  # start, middle and end all influence the embedding
        mutated = seq[:pos] + ("A" if seq[pos] != "A" else "C") + seq[pos + 1:]
        assert not np.allclose(backbone.embed_batch([mutated])[0], base, atol=1e-7), pos


@pytest.mark.parametrize("name", MODELS)
def test_bucketing_keeps_input_order(folders, name):
    seqs = [_random(n, i) for i, n in enumerate([300, 20, 150, 45, 500, 12, 90])]
    bucketed = _backbone(folders, name, batch_tokens=300).embed_batch(seqs)
    plain = _backbone(folders, name, bucket="false", batch_tokens=100000).embed_batch(seqs)
    np.testing.assert_allclose(bucketed, plain, atol=2e-5)
    one_by_one = np.stack([_backbone(folders, name).embed_batch([s])[0] for s in seqs[:3]])
    np.testing.assert_allclose(bucketed[:3], one_by_one, atol=2e-5)


def test_layer_pooling_options_and_provenance(folders):
    seqs = [_random(80, 7)]
    last = _backbone(folders, "dnabert2").embed_batch(seqs)
    first_block = _backbone(folders, "dnabert2", layer=1).embed_batch(seqs)
    embeddings = _backbone(folders, "dnabert2", layer=0).embed_batch(seqs)
    explicit_last = _backbone(folders, "dnabert2", layer=2).embed_batch(seqs)
    np.testing.assert_allclose(explicit_last, last, atol=1e-6)
    assert not np.allclose(first_block, last) and not np.allclose(embeddings, first_block)
    cls = _backbone(folders, "dnabert2", pooling="cls")
    assert not np.allclose(cls.embed_batch(seqs), last)
    prov = cls.provenance()
    assert prov["representation"]["pooling"] == "cls" and prov["representation"]["layer"] == 2
    assert prov["backbone"] == "dnabert2" and prov["weights_sha256"]
    assert cls.feature_names[0] == "dim_000" and len(cls.feature_names) == 32
    with pytest.raises(GenofmError, match="layer=5 is out of range"):
        _backbone(folders, "dnabert2", layer=5)
    with pytest.raises(GenofmError, match="pooling='max'"):
        _backbone(folders, "dnabert2", pooling="max")
    with pytest.raises(GenofmError, match="no option 'stride'"):
        _backbone(folders, "dnabert2", stride=3)
    with pytest.raises(GenofmError, match="needs --weights"):
        backbone_class("dnabert2")(LMOptions(), None)
