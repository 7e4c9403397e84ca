"""Synthetic inputs for the train/predict/interpret tests, built without genofm-prepare or genofm-embed.

Sequences carry planted transcription-factor sites (the Oct4 octamer, the MAF recognition element),
and embeddings are canonical k-mer frequencies counted here independently of the kmer backbone.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genofm.data.dataset import write_dataset
from genofm.embeddings import EmbeddingWriter
from genofm.sequence import reverse_complement
from conftest import run_entry_point

MOTIFS = {
    "mafk": "TGCTGACTCAGCA",  # MARE, bound by MAF homo/heterodimers
    "oct4": "ATGCAAAT",  # POU5F1 octamer
    "nfkb": "GGGAATTTCC",  # NF-kB site, a third class for multi-class tests
}


def run_tool(main, args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """Run a console entry point in-process; returns (exit status, stdout, stderr)."""
    code = run_entry_point(main, "prog", args)
    out = capsys.readouterr()
    return code, out.out, out.err


def planted_frame(classes: list[str], n_per_class: int = 80, length: int = 100, seed: int = 0,
                  augment: bool = False, sites: int = 1) -> pd.DataFrame:
    """Random sequences with each class's motif planted (random strand) ``sites`` times per sequence.

    Splits: 60% train, 20% valid, 20% test per class; ``augment`` adds reverse-complement copies
    of the training rows, as genofm-prepare --rc-augment does.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for label in classes:
        motif = MOTIFS[label]
        for i in range(n_per_class):
            seq = list(rng.choice(list("ACGT"), size=length))
            for _ in range(sites):
                site = motif if rng.random() < 0.5 else reverse_complement(motif)
                pos = int(rng.integers(0, length - len(site)))
                seq[pos : pos + len(site)] = site
            split = "train" if i < 0.6 * n_per_class else ("valid" if i < 0.8 * n_per_class else "test")
            chrom = {"train": "chr1", "valid": "chr10", "test": "chr8"}[split]
            start = 1000 * (len(rows) + 1)
            rows.append(dict(id=f"{label}_{i}", sequence="".join(seq), label=label, split=split, chrom=chrom,
                             start=start, end=start + length, strand="+", source=f"{label}.fa", augmented=False))
    frame = pd.DataFrame(rows)
    if augment:
        copies = frame[frame["split"] == "train"].copy()
        copies["id"] = copies["id"] + "_rc"
        copies["sequence"] = copies["sequence"].map(reverse_complement)
        copies["augmented"] = True
        frame = pd.concat([frame, copies], ignore_index=True)
    return frame


def canonical_kmers(k: int) -> list[str]:
    """Lexicographically smaller of each k-mer and its reverse complement, sorted."""
    return sorted({min(kmer, reverse_complement(kmer)) for kmer in map("".join, itertools.product("ACGT", repeat=k))})


def kmer_frequencies(sequences: list[str], k: int) -> tuple[np.ndarray, list[str]]:
    """Canonical k-mer frequencies per sequence (a reference counter, independent of genofm's backbone)."""
    names = canonical_kmers(k)
    column = {name: i for i, name in enumerate(names)}
    out = np.zeros((len(sequences), len(names)), dtype=np.float32)
    for row, seq in enumerate(sequences):
        for i in range(len(seq) - k + 1):
            kmer = seq[i : i + k]
            out[row, column[min(kmer, reverse_complement(kmer))]] += 1
        out[row] /= max(1, len(seq) - k + 1)
    return out, names


def kmer_provenance(k: int, n_features: int) -> dict:
    return {"backbone": "kmer", "options": {"k": k, "rc_collapse": True}, "weights_sha256": None,
            "weights_name": None, "n_features": n_features, "genofm_version": "test"}


def write_inputs(tmp_path: Path, frame: pd.DataFrame, classes: list[str], k: int = 5,
                 shards: int = 1, name: str = "dataset") -> tuple[Path, list[Path]]:
    """Write the dataset Parquet and k-mer embedding shard(s); returns their paths."""
    dataset = tmp_path / f"{name}.parquet"
    write_dataset(frame, dataset, classes)
    features, names = kmer_frequencies(frame["sequence"].tolist(), k)
    paths = []
    for index, rows in enumerate(np.array_split(np.arange(len(frame)), shards)):
        path = tmp_path / f"{name}_k{k}_{index}.h5"
        prov = {**kmer_provenance(k, len(names)), "shard_index": index, "shard_count": shards}
        with EmbeddingWriter(path, names, prov) as writer:
            writer.append(frame["id"].iloc[rows].tolist(), features[rows])
        paths.append(path)
    return dataset, paths


def scaled_inputs(tmp_path: Path, n: int = 300, seed: int = 0) -> tuple[Path, list[Path], list[str]]:
    """Gaussian features on wildly different scales; only ``informative`` (scale 1e3) drives the label."""
    rng = np.random.default_rng(seed)
    scales = np.array([1e-3, 1e3, 1.0, 50.0, 1e-2, 0.1, 10.0, 1e-4])
    names = ["tiny", "informative", "unit", "fifty", "hundredth", "tenth", "ten", "minute"]
    X = rng.normal(size=(n, scales.size)) * scales
    logit = 3.0 * X[:, 1] / 1e3
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    classes = ["neg", "pos"]
    split = np.where(np.arange(n) % 5 == 0, "test", np.where(np.arange(n) % 5 == 1, "valid", "train"))
    frame = pd.DataFrame(dict(id=[f"s{i}" for i in range(n)], sequence="ACGT" * 5, label=[classes[v] for v in y],
                              split=split, chrom=None, start=None, end=None, strand=None, source="x", augmented=False))
    dataset = tmp_path / "scaled.parquet"
    write_dataset(frame, dataset, classes)
    path = tmp_path / "scaled.h5"
    prov = {"backbone": "toy", "options": {}, "weights_sha256": None, "n_features": len(names)}
    with EmbeddingWriter(path, names, prov, feature_groups={"firsthalf": np.arange(4)}) as writer:
        writer.append(frame["id"].tolist(), X)
    return dataset, [path], names


def test_kmer_reference_counter_collapses_strands():
    features, names = kmer_frequencies(["AAAA", "TTTT"], 3)
    assert len(names) == 32
    assert features[0, names.index("AAA")] == pytest.approx(1.0)
    assert features[1, names.index("AAA")] == pytest.approx(1.0)


def test_planted_frame_has_motifs_and_rc_copies_only_in_train():
    frame = planted_frame(["mafk", "oct4"], n_per_class=10, augment=True)
    oct4 = frame[frame["label"] == "oct4"]["sequence"]
    assert all("ATGCAAAT" in s or "ATTTGCAT" in s for s in oct4)
    assert set(frame[frame["augmented"]]["split"]) == {"train"}
