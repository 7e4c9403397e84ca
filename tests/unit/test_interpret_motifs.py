"""K-mer to JASPAR motif matching: exact p-values, strand handling, and POU/MAF recovery from planted sites."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from genofm.interpret import ExplainContext
from genofm.interpret.jaspar import Motif, load_motifs, log_odds
from genofm.interpret.motifs import WindowTable, explain_kmers, kmer_of, match_kmers, tail_probability
from genofm.sequence import reverse_complement
from conftest import JANGGU


def test_tail_probability_equals_brute_force_enumeration():
    rng = np.random.default_rng(0)
    window = rng.normal(size=(5, 4))
    all_scores = np.array([sum(window[j, b] for j, b in enumerate(combo)) for combo in itertools.product(range(4), repeat=5)])
    thresholds = np.array([all_scores.max(), np.median(all_scores), all_scores.min(), all_scores[17]])
    expected = [(all_scores >= t - 1e-9).mean() for t in thresholds]
    np.testing.assert_allclose(tail_probability(window, thresholds), expected)


def test_kmer_names_are_recognised():
    assert kmer_of("ACGTAC") == "ACGTAC"
    assert kmer_of("kmer:acgtac") == "ACGTAC"
    assert kmer_of("ACGTAC/GTACGT") == "ACGTAC"
    assert kmer_of("AG@29") == "AG" and kmer_of("kmer:ACG@3") == "ACG"
    assert kmer_of("K562 | CTCF | ENCODE") is None and kmer_of("dim_000") is None and kmer_of("GATA1") is None


def _toy_motif(consensus: str, name: str) -> Motif:
    counts = np.full((4, len(consensus)), 1.0)
    for j, base in enumerate(consensus):
        counts["ACGT".index(base), j] = 97.0
    return Motif(matrix_id=f"TOY.{name}", name=name, tf_class="toy class", tf_family=f"{name} family", log_odds=log_odds(counts))


def test_consensus_kmers_match_their_motif_on_either_strand():
    motifs = [_toy_motif("TTATGCAAATTA", "octamer"), _toy_motif("CCGCGGGCGG", "gcbox")]
    table = WindowTable(motifs, 6)
    kmers = ["ATGCAA", reverse_complement("TGCAAA"), "GGGCGG", "ACACAC"]
    found = match_kmers(kmers, motifs, table)
    best = found.sort_values("p_adjusted").drop_duplicates("kmer").set_index("kmer")
    assert motifs[best.loc["ATGCAA", "motif"]].name == "octamer" and best.loc["ATGCAA", "strand"] == 1
    assert motifs[best.loc["TTTGCA", "motif"]].name == "octamer" and best.loc["TTTGCA", "strand"] == -1
    assert motifs[best.loc["GGGCGG", "motif"]].name == "gcbox"
    # a consensus 6-mer is the single best of 4096 k-mers on its window: p = 1/4096 before correction
    assert best.loc["ATGCAA", "p_value"] == pytest.approx(1 / 4096)
    assert best.loc["ATGCAA", "p_adjusted"] == pytest.approx(table.n_windows[0] / 4096)
    assert "ACACAC" not in best.index or best.loc["ACACAC", "p_adjusted"] > 0.05


def _planted_kmer_head():
    """A logistic-regression head on canonical 6-mer frequencies of planted Oct4 / MARE sequences."""
    from genofm.heads import LogRegHead
    from genofm.interpret.ranking import linear_ranking
    from test_train_fixtures import kmer_frequencies, planted_frame

    frame = planted_frame(["mafk", "oct4"], n_per_class=60, length=120, seed=3)
    X, names = kmer_frequencies(frame["sequence"].tolist(), 6)
    y = (frame["label"] == "oct4").to_numpy(dtype=int)
    head = LogRegHead(cs=4, cv_folds=3).fit(X, y)
    return linear_ranking(head, names, ["mafk", "oct4"])


def test_planted_octamer_and_mare_are_named_pou_and_maf(tmp_path):
    ranked = _planted_kmer_head()
    context = ExplainContext(out_dir=tmp_path, model={"classes": ["mafk", "oct4"]}, classes=["mafk", "oct4"], top=20)
    (section,) = explain_kmers(ranked, context)
    motifs = section.tables["motifs"]
    oct4 = motifs[motifs["towards"] == "oct4"].head(5)
    mafk = motifs[motifs["towards"] == "mafk"].head(5)
    assert oct4["tf_family"].str.contains("POU domain").all(), oct4[["tf_name", "tf_family"]]
    assert (oct4["tf_name"].str.upper().str.contains("POU")).all()
    assert mafk["tf_family"].str.contains("Maf-related").sum() >= 3, mafk[["tf_name", "tf_family"]]
    assert mafk["tf_name"].str.upper().str.contains("MAF|NFE2|BACH").all()
    families = section.tables["motif_families"]
    assert families[families["towards"] == "oct4"].iloc[0]["tf_family"] == "POU domain factors"
    assert families[families["towards"] == "mafk"].iloc[0]["tf_family"] == "Maf-related"
    assert "POU" in section.text and "Maf-related" in section.text
    assert (tmp_path / "motif_support.png").is_file() and section.figures == ["motif_support.png", "motif_logos.png"]
    assert (tmp_path / "motif_logos.png").stat().st_size > 1000  # logos of the best-supported motifs per side
    kmers = section.tables["kmer_motifs"]
    assert set(kmers["towards"]) == {"oct4", "mafk"} and kmers["best_motifs"].str.len().gt(0).any()


def test_non_kmer_features_give_a_note_not_an_error(tmp_path):
    ranked = pd.DataFrame({"feature": ["K562 | CTCF | ENCODE"], "class": ["b"], "coefficient": [1.0],
                           "abs_coefficient": [1.0], "rank": [1], "stability": [np.nan]})
    (section,) = explain_kmers(ranked, ExplainContext(out_dir=tmp_path, model={}, classes=["a", "b"]))
    assert "No feature name is a k-mer" in section.text and not section.tables


def test_unknown_jaspar_release_is_a_clear_error():
    from genofm.errors import GenofmError

    with pytest.raises(GenofmError, match="JASPAR1999.*choose one of"):
        load_motifs("JASPAR1999")



@pytest.mark.slow
@pytest.mark.needs_resources(JANGGU / "sample.fa", JANGGU / "sample2.fa", reason="bundled janggu peaks")
def test_real_oct4_and_mafk_peaks_name_pou_and_maf_families(tmp_path):
    """The bundled demo data: Oct4 ChIP peaks vs MafK ChIP peaks, a 6-mer logistic regression."""
    from Bio import SeqIO

    from genofm.backbones.kmer import KmerBackbone, KmerOptions
    from genofm.heads import LogRegHead
    from genofm.interpret.ranking import linear_ranking

    rng = np.random.default_rng(0)
    sequences, labels = [], []
    for label, name in (("oct4", "sample.fa"), ("mafk", "sample2.fa")):
        records = [str(r.seq).upper() for r in SeqIO.parse(JANGGU / name, "fasta")]
        chosen = rng.choice(len(records), size=1500, replace=False)
        sequences += [records[i] for i in chosen]
        labels += [label] * chosen.size
    backbone = KmerBackbone(KmerOptions(k=6), None)
    X = backbone.embed(sequences)
    y = (np.array(labels) == "oct4").astype(int)
    head = LogRegHead(cs=3, cv_folds=3).fit(X, y)
    ranked = linear_ranking(head, backbone.feature_names, ["mafk", "oct4"])
    (section,) = explain_kmers(ranked, ExplainContext(out_dir=tmp_path, model={}, classes=["mafk", "oct4"], top=30))
    families = section.tables["motif_families"]
    assert families[families["towards"] == "oct4"].iloc[0]["tf_family"] == "POU domain factors"
    assert families[families["towards"] == "mafk"].iloc[0]["tf_family"] == "Maf-related"
    motifs = section.tables["motifs"]
    assert motifs[motifs["towards"] == "oct4"].head(3)["tf_name"].str.upper().str.contains("POU").all()
    assert motifs[motifs["towards"] == "mafk"].head(3)["tf_name"].str.upper().str.contains("MAF|NRL|NFE2|BACH").all()
