"""SeiBackbone: outputs, strand averaging, sequence classes, feature groups, lengths, embed CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genofm.backbones import backbone_class
from genofm.backbones.sei import SeiBackbone, SeiOptions
from genofm.backbones.sei_model import bspline_basis
from genofm.errors import GenofmError
from genofm.sequence import reverse_complement
from genofm.testing.tiny_sei import write_tiny_release

RNG = np.random.default_rng(5)
SEQS = ["".join(RNG.choice(list("ACGT"), size=n)) for n in (200, 600, 37)] + ["ACGTNNNNACGT" * 20]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return write_tiny_release(tmp_path_factory.mktemp("sei") / "model")


def make(release, **options) -> SeiBackbone:
    return SeiBackbone(SeiOptions(**options), release)


def test_registry_and_options_from_cli_pairs(release):
    cls = backbone_class("sei")
    assert cls is SeiBackbone and cls.needs_weights and cls.averages_strands
    opts = cls.Options.from_pairs({"output": "seqclass", "length": "600", "strand_average": "false"}, "sei")
    assert opts == SeiOptions(output="seqclass", length=600, strand_average=False)
    backbone = cls(opts, release)
    assert backbone.averages_strands is False and backbone.input_length == 600
    with pytest.raises(GenofmError, match="needs --weights"):
        cls(SeiOptions(), None)


def test_chromatin_features_named_from_target_names(release):
    backbone = make(release, length=1024)
    names = (release / "target.names").read_text().splitlines()
    assert backbone.feature_names == names
    feats = backbone.embed_batch(SEQS)
    assert feats.shape == (len(SEQS), 50) and feats.dtype == np.float32
    assert ((feats >= 0) & (feats <= 1)).all()
    assert backbone.embed_batch([]).shape == (0, 50)


def test_strand_average_equals_mean_of_two_separate_passes(release):
    single = make(release, length=1024, strand_average=False)
    both = make(release, length=1024)
    x = single.one_hot(SEQS)
    with torch.inference_mode():
        forward = single.forward(x).numpy()
        reverse = single.forward(x.flip(1, 2)).numpy()  # the padded window, reverse-complemented
    np.testing.assert_allclose(both.embed_batch(SEQS), (forward + reverse) / 2, atol=1e-6)
    assert np.abs(forward - reverse).max() > 1e-4  # the two strands really differ
    # with even padding the flipped window is the window of the reverse-complement string
    even = [s for s in SEQS if (1024 - len(s)) % 2 == 0]
    np.testing.assert_allclose(
        both.embed_batch(even),
        (single.embed_batch(even) + single.embed_batch([reverse_complement(s) for s in even])) / 2,
        atol=1e-6,
    )
    # the base class' --rc-average path must not double the work or change the result
    np.testing.assert_allclose(both.embed(SEQS, rc_average=True), both.embed_batch(SEQS), atol=1e-7)


def test_reverse_complement_is_a_channel_and_length_flip(release):
    backbone = make(release, length=256)
    x = backbone.one_hot(["AACGTN"])
    rc = backbone.one_hot([reverse_complement("AACGTN")])
    assert torch.equal(x.flip(1, 2), rc)
    assert torch.allclose(x[0, :, 0], torch.full((4,), 0.25)) and torch.allclose(x[0, :, 124], torch.full((4,), 0.25))


def test_seqclass_scores_match_hand_projection(release):
    chromatin = make(release, length=1024).embed_batch(SEQS)
    scores = make(release, length=1024, output="seqclass").embed_batch(SEQS)
    proj = np.load(release / "projvec_targets.npy")[:40].astype(np.float64)
    expected = np.zeros((len(SEQS), 40))
    for i in range(len(SEQS)):
        for c in range(40):
            expected[i, c] = sum(chromatin[i, t] * proj[c, t] for t in range(50)) / np.sqrt(sum(proj[c] ** 2))
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert make(release, output="seqclass").feature_names == (release / "seqclass.names").read_text().splitlines()


def test_feature_groups_follow_histone_inds_and_assay_names(release):
    backbone = make(release)
    groups = backbone.feature_groups()
    assert set(groups) == {"tf", "histone", "accessibility"}
    all_idx = np.concatenate(list(groups.values()))
    assert sorted(all_idx.tolist()) == list(range(50))
    np.testing.assert_array_equal(groups["histone"], np.load(release / "histone_inds.npy"))
    names = backbone.feature_names
    assert all(names[i].split(" | ")[1] in ("DNase", "ATAC-seq") for i in groups["accessibility"])
    assert {names[i].split(" | ")[1] for i in groups["tf"]} >= {"CTCF", "ZNF274"}
    assert make(release, output="seqclass").feature_groups() == {}


def test_trunk_outputs_are_spline_features_and_need_only_the_checkpoint(release):
    backbone = make(release, output="trunk", length=600, strand_average=False)
    assert open_only_pth(release, backbone)
    x = backbone.one_hot(SEQS[:2])
    with torch.inference_mode():
        h = backbone.model.trunk(x)
    expected = (h @ torch.from_numpy(bspline_basis(h.shape[-1]).copy())).reshape(2, -1)
    np.testing.assert_allclose(backbone.embed_batch(SEQS[:2]), expected.numpy(), atol=1e-5)
    assert backbone.feature_names[:2] == ["trunk_c000_s00", "trunk_c000_s01"] and len(backbone.feature_names) == 16 * 16
    mean = make(release, output="trunk_mean", length=600, strand_average=False)
    np.testing.assert_allclose(mean.embed_batch(SEQS[:2]), h.mean(-1).numpy(), atol=1e-5)
    # strand-averaged trunk features compare the same genomic stretch: spline index reversed on the minus strand
    avg = make(release, output="trunk", length=600).embed_batch(SEQS[:1]).reshape(16, 16)
    fwd = backbone.embed_batch(SEQS[:1]).reshape(16, 16)
    rev = backbone.embed_batch([reverse_complement(SEQS[0])]).reshape(16, 16)
    np.testing.assert_allclose(avg, (fwd + rev[:, ::-1]) / 2, atol=1e-5)


def open_only_pth(release, backbone) -> bool:
    """A bare sei.pth (no names, no projection) is enough for trunk outputs."""
    bare = SeiBackbone(SeiOptions(output="trunk_mean"), release / "sei.pth")
    return len(bare.feature_names) == 16 and backbone.model.classifier is None


def test_lengths_pad_crop_and_reject(release):
    short = make(release, length=600)
    assert short.embed_batch(SEQS).shape == (len(SEQS), 50)
    long_seq = SEQS[1] * 3  # 1800 bp is centre-cropped to the 600 bp window
    cropped = long_seq[600:1200]
    np.testing.assert_allclose(short.embed_batch([long_seq]), short.embed_batch([cropped]), atol=1e-7)
    with pytest.raises(GenofmError, match="length=200 is too short"):
        make(release, length=200)
    with pytest.raises(GenofmError, match="output='logits'"):
        make(release, output="logits")
    with pytest.raises(GenofmError, match="release folder"):
        SeiBackbone(SeiOptions(output="chromatin"), release / "sei.pth")


def test_padding_reuse_gives_the_same_features(release):
    a = make(release, length=4096).embed_batch(SEQS)
    b = make(release, length=4096, reuse_padding=False).embed_batch(SEQS)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_target_count_mismatch_is_reported(tmp_path, release):
    other = write_tiny_release(tmp_path / "other", n_targets=30)
    (other / "target.names").write_text((release / "target.names").read_text())
    np.save(other / "projvec_targets.npy", np.load(release / "projvec_targets.npy"))
    with pytest.raises(GenofmError, match="lists 50 profiles but sei.pth predicts 30"):
        make(other)


def test_provenance_records_architecture(release):
    prov = make(release, length=600).provenance()
    assert prov["backbone"] == "sei" and prov["options"]["length"] == 600
    assert prov["sei"] == {"channels": [8, 12, 16], "n_targets": 50, "spline_df": 16, "trunk_length": 37, "strands_averaged": True}


def test_genofm_embed_end_to_end(tmp_path, release, capsys):
    from genofm.cli import embed
    from genofm.data.dataset import write_dataset
    from genofm.embeddings import read_embeddings

    frame = pd.DataFrame(
        {
            "id": [f"s{i}" for i in range(len(SEQS))],
            "sequence": SEQS,
            "label": ["a", "b"] * (len(SEQS) // 2),
            "split": ["train"] * len(SEQS),
            "chrom": None, "start": None, "end": None, "strand": None,
            "source": "test", "augmented": False,
        }
    )
    write_dataset(frame, tmp_path / "ds.parquet", ["a", "b"])
    out = tmp_path / "emb.h5"
    argv = ["genofm-embed", str(tmp_path / "ds.parquet"), "--backbone", "sei", "--weights", str(release),
            "--output", str(out), "-O", "length=600", "--batch-size", "3", "--rc-average", "--device", "cpu"]
    old = sys.argv
    sys.argv = argv
    try:
        embed.main()
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    finally:
        sys.argv = old
    emb = read_embeddings([out])
    assert list(emb.ids) == list(frame["id"]) and emb.features.shape == (len(SEQS), 50)
    assert set(emb.feature_groups) == {"tf", "histone", "accessibility"}
    np.testing.assert_allclose(emb.features, make(release, length=600).embed_batch(SEQS), atol=1e-5)
