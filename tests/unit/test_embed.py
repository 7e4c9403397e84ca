"""genofm-embed end to end on small datasets made here (k-mer backbone, plus weight-file errors)."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pandas as pd
import pytest

from genofm.backbones import REGISTRY
from genofm.backbones.kmer import KmerBackbone, KmerOptions
from genofm.backbones.spliceai import default_weights_dir
from genofm import embedding_run
from genofm.cli import embed as embed_cli
from genofm.data.dataset import write_dataset
from genofm.embeddings import read_embeddings
from genofm.sequence import reverse_complement


@pytest.fixture()
def dataset(tmp_path):
    rng = np.random.default_rng(0)
    n = 23
    frame = pd.DataFrame(
        {
            "id": [f"seq{i:02d}" for i in range(n)],
            "sequence": ["".join(rng.choice(list("ACGTN"), size=30, p=[0.24] * 4 + [0.04])) for _ in range(n)],
            "label": ["pos" if i % 2 else "neg" for i in range(n)],
            "split": ["train"] * 15 + ["valid"] * 4 + ["test"] * 4,
            "chrom": ["chr1"] * n,
            "start": list(range(0, 30 * n, 30)),
            "end": list(range(30, 30 * n + 30, 30)),
            "strand": ["+"] * n,
            "source": ["test.fa"] * n,
            "augmented": [False] * n,
        }
    )
    path = tmp_path / "ds.parquet"
    write_dataset(frame, path, ["neg", "pos"])
    return path, frame


def run(monkeypatch, *args) -> int:
    monkeypatch.setattr(sys, "argv", ["genofm-embed", *map(str, args)])
    try:
        embed_cli.main()
    except SystemExit as exc:
        return exc.code
    return 0


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != "ds.parquet")


def test_kmer_embedding_rows_follow_the_dataset(monkeypatch, dataset, tmp_path):
    path, frame = dataset
    out = tmp_path / "kmer.h5"
    assert run(monkeypatch, path, "--backbone", "kmer", "-O", "k=3", "--output", out, "--batch-size", "4") == 0
    emb = read_embeddings([out])
    assert list(emb.ids) == list(frame["id"])
    expected = KmerBackbone(KmerOptions(k=3), None)
    assert emb.feature_names == expected.feature_names
    np.testing.assert_allclose(emb.features, expected.embed_batch(list(frame["sequence"])), rtol=1e-6)
    assert emb.provenance["backbone"] == "kmer" and emb.provenance["options"]["k"] == 3
    assert emb.provenance["rc_average"] is False and emb.provenance["shard_count"] == 1
    assert leftovers(tmp_path) == ["kmer.h5"]


def test_splits_select_rows(monkeypatch, dataset, tmp_path):
    path, frame = dataset
    out = tmp_path / "test.h5"
    assert run(monkeypatch, path, "-b", "kmer", "-o", out, "--splits", "valid,test") == 0
    assert list(read_embeddings([out]).ids) == list(frame["id"][15:])


def test_shards_concatenate_to_one_run(monkeypatch, dataset, tmp_path):
    path, _ = dataset
    whole = tmp_path / "whole.h5"
    assert run(monkeypatch, path, "-b", "kmer", "-o", whole) == 0
    shards = [tmp_path / f"shard{i}.h5" for i in range(3)]
    for i, shard in enumerate(shards):
        assert run(monkeypatch, path, "-b", "kmer", "-o", shard, "--shard-index", i, "--shard-count", 3, "--batch-size", 2) == 0
    sizes = [len(read_embeddings([s]).ids) for s in shards]
    assert sizes == [7, 8, 8]
    one, merged = read_embeddings([whole]), read_embeddings(shards)
    assert list(merged.ids) == list(one.ids)
    np.testing.assert_array_equal(merged.features, one.features)


def test_rc_average_is_the_mean_over_both_strands(monkeypatch, dataset, tmp_path):
    path, frame = dataset
    out = tmp_path / "rc.h5"
    assert run(monkeypatch, path, "-b", "kmer", "-O", "k=2", "-O", "rc_collapse=false", "-o", out, "--rc-average") == 0
    emb = read_embeddings([out])
    backbone = KmerBackbone(KmerOptions(k=2, rc_collapse=False), None)
    seqs = list(frame["sequence"])
    forward, reverse = backbone.embed_batch(seqs), backbone.embed_batch([reverse_complement(s) for s in seqs])
    np.testing.assert_allclose(emb.features, (forward + reverse) / 2, rtol=1e-6)
    assert not np.allclose(emb.features, forward)
    assert emb.provenance["rc_average"] is True


@pytest.mark.parametrize(
    "args, message",
    [
        (["-O", "k"], "-O 'k' is not key=value"),
        (["-O", "size=3"], "backbone 'kmer' has no option 'size'"),
        (["-O", "k=three"], "option k='three' is not a valid int"),
        (["-O", "k=12"], "k=12 must be between 1 and 8"),
        (["--splits", "training"], "unknown split(s) ['training']"),
        (["--shard-index", "2", "--shard-count", "2"], "--shard-index 2 must be below --shard-count 2"),
        (["--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_bad_options_exit_2_without_output(monkeypatch, capsys, dataset, tmp_path, args, message):
    path, _ = dataset
    out = tmp_path / "out.h5"
    assert run(monkeypatch, path, "-b", "kmer", "-o", out, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("genofm-embed: error: ") and message in err[-1]
    assert leftovers(tmp_path) == []


def test_unknown_backbone_and_missing_dataset(monkeypatch, capsys, dataset, tmp_path):
    path, _ = dataset
    assert run(monkeypatch, path, "-b", "bert9000", "-o", tmp_path / "x.h5") == 2
    assert "unknown backbone 'bert9000'" in capsys.readouterr().err
    assert run(monkeypatch, tmp_path / "absent.parquet", "-b", "kmer", "-o", tmp_path / "x.h5") == 2
    assert "absent.parquet: dataset not found" in capsys.readouterr().err
    not_parquet = tmp_path / "text.parquet"
    not_parquet.write_text("id,sequence\n")
    assert run(monkeypatch, not_parquet, "-b", "kmer", "-o", tmp_path / "x.h5") == 2
    assert "text.parquet: not a Parquet dataset" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_a_text_file_renamed_h5_is_refused(monkeypatch, capsys, dataset, tmp_path):
    path, _ = dataset
    bad = tmp_path / "spliceai1.h5"
    bad.write_text("these are not weights\n")
    out = tmp_path / "out.h5"
    assert run(monkeypatch, path, "-b", "spliceai", "--weights", bad, "-o", out) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("genofm-embed: error: ") and f"{bad}: not an HDF5 file" in err
    assert not out.exists() and leftovers(tmp_path) == ["spliceai1.h5"]


def test_an_hdf5_without_the_layers_is_refused(monkeypatch, capsys, dataset, tmp_path):
    path, _ = dataset
    bad = tmp_path / "empty.h5"
    with h5py.File(bad, "w") as handle:
        handle["weights"] = np.ones((4, 32))
    out = tmp_path / "out.h5"
    assert run(monkeypatch, path, "-b", "spliceai", "--weights", bad, "-o", out) == 2
    assert f"{bad}: HDF5 file without a Keras model_config" in capsys.readouterr().err
    assert not out.exists()


def test_kmer_refuses_weights_and_missing_weights_path(monkeypatch, capsys, dataset, tmp_path):
    path, _ = dataset
    assert run(monkeypatch, path, "-b", "kmer", "--weights", tmp_path / "nothing", "-o", tmp_path / "x.h5") == 2
    assert "nothing: weights not found" in capsys.readouterr().err


@pytest.mark.needs_resources(default_weights_dir() / "spliceai1.h5", reason="official SpliceAI weights")
def test_spliceai_embedding_via_the_cli(monkeypatch, dataset, tmp_path):
    path, frame = dataset
    out = tmp_path / "splice.h5"
    assert run(monkeypatch, path, "-b", "spliceai", "-O", "models=2", "-O", "bins=2", "-o", out, "--splits", "test") == 0
    emb = read_embeddings([out])
    assert list(emb.ids) == list(frame["id"][19:]) and emb.features.shape == (4, 2 * 4 + 64)
    assert set(emb.feature_groups) == {"splice_sites", "penultimate"}
    assert emb.provenance["options"] == {"models": "2", "bins": 2}


def test_list_backbones_survives_a_missing_module(monkeypatch, capsys):
    monkeypatch.setitem(REGISTRY, "phantom", "genofm.backbones.does_not_exist:Phantom")
    assert run(monkeypatch, "--list-backbones") == 0
    out = capsys.readouterr().out
    assert "phantom: unavailable (ModuleNotFoundError" in out
    assert "kmer: --weights: no weights needed" in out and "-O k=<int>  (default 5)" in out
    assert "spliceai: --weights:" in out and "-O models=<str>  (default 1,2,3,4,5)" in out


def test_help_documents_every_option(monkeypatch, capsys):
    assert run(monkeypatch, "--help") == 0
    text = capsys.readouterr().out
    for option in ("--backbone", "--weights", "--option", "--batch-size", "--device", "--precision", "--rc-average", "--splits", "--shard-index", "--shard-count", "--threads", "--list-backbones"):
        assert option in text


@pytest.mark.parametrize("read_rows", [1, 5, 8192])
@pytest.mark.parametrize("start, stop, batch", [(0, 23, 4), (3, 17, 5), (7, 8, 1), (5, 5, 3), (0, 4, 100)])
def test_shard_batches_cover_exactly_the_requested_rows(dataset, read_rows, start, stop, batch):
    path, frame = dataset
    batches = list(embedding_run.iter_shard(path, None, start, stop, batch, read_rows=read_rows))
    assert [i for ids, _ in batches for i in ids] == list(frame["id"][start:stop])
    assert [s for _, seqs in batches for s in seqs] == list(frame["sequence"][start:stop])
    assert all(len(ids) == batch for ids, _ in batches[:-1]) and all(0 < len(ids) <= batch for ids, _ in batches)
    test_rows = list(embedding_run.iter_shard(path, ["test"], 1, 3, 2, read_rows=read_rows))
    assert test_rows[0][0] == list(frame["id"][20:22])


def test_shard_ranges_are_contiguous_and_balanced():
    for n, count in [(0, 3), (10, 3), (23, 4), (5, 8)]:
        ranges = [embedding_run.shard_range(n, i, count) for i in range(count)]
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert max(b - a for a, b in ranges) - min(b - a for a, b in ranges) <= 1
