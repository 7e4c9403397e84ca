"""Attention / gradient position scores, candidate sites, JASPAR scanning and enrichment statistics."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from genofm.errors import GenofmError
from genofm.finetune import FinetuneOptions, new_finetuner
from genofm.finetune.lm import LMFinetuner
from genofm.interpret import ExplainContext, ReportSection, SEQUENCE_EXPLAINERS, resolve
from genofm.interpret.attention import AttentionSettings, position_scores, spread_to_bases
from genofm.interpret.attention_sites import benjamini_hochberg, enrichment, high_score_runs, scan, score_threshold, select_motifs
from genofm.interpret.jaspar import Motif, log_odds
from genofm.testing.tiny_lm import write_model

MOTIF = "CCACTAGGGGGC"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def planted(n: int, seed: int, length: int = 48) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), length))
        if i % 2:
            pos = int(rng.integers(0, length - len(MOTIF)))
            seq[pos:pos + len(MOTIF)] = MOTIF
        rows.append({"id": f"s{i}", "sequence": "".join(seq), "label": "pos" if i % 2 else "neg", "split": "test"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny models fine-tuned briefly on planted-motif data, saved as genofm-train would."""
    root = tmp_path_factory.mktemp("interp")
    out = {}
    for name in ("dnabert2", "gpt2dna"):
        weights = write_model(name, root / f"{name}_base")
        tuner = new_finetuner(name, weights, {"window": "20", "overlap": "4"},
                              FinetuneOptions(epochs=2, learning_rate=3e-3, batch_size=16, device="cpu"))
        tuner.fit(planted(64, 0), planted(16, 1), ["neg", "pos"])
        tuner.save(root / name)
        out[name] = (root / name, weights)
    return out


# --- statistics by hand ------------------------------------------------------------------------------
def test_benjamini_hochberg_matches_hand_computation():
    # sorted p: 0.005, 0.01, 0.03, 0.04 -> p*n/rank: 0.02, 0.02, 0.04, 0.04
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02])
    # monotonicity: 0.04, 0.04, 0.028, 0.9 -> running minimum from the largest rank down
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.02, 0.021, 0.9]), [0.028, 0.028, 0.028, 0.9])
    np.testing.assert_allclose(benjamini_hochberg([0.5, 0.9]), [0.9, 0.9])
    assert benjamini_hochberg([]).size == 0


def test_enrichment_equals_one_sided_fisher():
    rng = np.random.default_rng(0)
    hits = rng.random((40, 3)) < [[0.6, 0.1, 0.3]]
    site_classes = np.array(["a"] * 15 + ["b"] * 25)
    hits[:15, 0] = True  # motif 0: in every class-a site, rare in class b
    hits[15:, 0] = rng.random(25) < 0.1
    motifs = [Motif(f"M{i}", f"m{i}", "", "", np.zeros((4, 4))) for i in range(3)]
    table = enrichment(hits, site_classes, ["a", "b"], motifs)
    assert len(table) == 6
    for _, row in table.iterrows():
        a, b = row.class_sites_with_match, row.class_sites - row.class_sites_with_match
        c, d = row.other_sites_with_match, row.other_sites - row.other_sites_with_match
        expected = stats.fisher_exact([[a, b], [c, d]], alternative="greater")[1]
        assert row.p_value == pytest.approx(expected, rel=1e-9)
    for cls in ("a", "b"):
        sub = table[table["class"] == cls]
        np.testing.assert_allclose(sub.q_value, benjamini_hochberg(sub.p_value))
    assert table.loc[(table["class"] == "a") & (table.motif_id == "M0"), "q_value"].item() < 0.01


def test_high_score_runs_length_flank_and_merge():
    scores = np.zeros(60)
    scores[10:18] = 1.0  # 8 bp: kept
    scores[30:35] = 1.0  # 5 bp: too short
    scores[40:49] = 1.0  # 9 bp, flanks reach 36..53
    scores[52:60] = 1.0  # 8 bp at the end, flank merges with the previous run
    assert high_score_runs(scores, 0.5) == [(6, 22), (36, 60)]
    assert high_score_runs(scores, 2.0) == []


def test_spread_to_bases_conserves_token_scores_and_skips_specials():
    spans = np.array([[-1, -1], [0, 3], [3, 4], [4, 10], [-1, -1]])
    sums, covered = spread_to_bases(np.array([5.0, 3.0, 2.0, 6.0, 9.0, 7.0]), spans, 10)  # last score: padding
    np.testing.assert_allclose(sums, [1, 1, 1, 2, 1, 1, 1, 1, 1, 1])
    assert covered.all()
    kmers = np.array([[i, i + 3] for i in range(4)])  # overlapping 3-mers over 6 bases
    sums, _ = spread_to_bases(np.array([3.0, 3.0, 3.0, 3.0]), kmers, 6)
    np.testing.assert_allclose(sums, [1, 2, 3, 3, 2, 1])


def test_pvalue_threshold_against_exhaustive_enumeration():
    rng = np.random.default_rng(3)
    pwm = log_odds(rng.integers(0, 20, (4, 6)).astype(float))
    threshold = score_threshold(pwm, 0.01)
    all_scores = np.array([pwm[np.arange(6), list(k)].sum() for k in itertools.product(range(4), repeat=6)])
    tail = (all_scores >= threshold - 1e-9).mean()
    assert tail <= 0.01 + 0.004  # discretisation at 0.05 bits
    assert (all_scores >= threshold - 0.3).mean() > 0.01 * 0.5


def _motif(name: str, consensus: str) -> Motif:
    counts = np.full((4, len(consensus)), 1.0)
    for j, base in enumerate(consensus):
        counts["ACGT".index(base), j] = 20.0
    return Motif(name, name, "", "", log_odds(counts))


def test_scan_matches_a_naive_two_strand_scan():
    motifs = [_motif("EBOX", "CACGTG"), _motif("ASYM", "GGGACTTTCC"), _motif("TATA", "TATAAAAG")]
    cutoffs = np.array([score_threshold(m.log_odds, 1e-3) for m in motifs])
    rng = np.random.default_rng(1)
    sites = ["".join(rng.choice(list("ACGT"), int(rng.integers(8, 30)))) for _ in range(60)]
    sites += ["TTCACGTGAA", "AACACGTNAA", "AAGGGACTTTCCAA", "TTGGAAAGTCCCTT", "TATA"]
    hits = scan(sites, motifs, cutoffs)
    comp = str.maketrans("ACGTN", "TGCAN")
    for i, site in enumerate(sites):
        for j, m in enumerate(motifs):
            best = -np.inf
            for strand in (site, site.translate(comp)[::-1]):
                for p in range(len(strand) - len(m.log_odds) + 1):
                    window = strand[p:p + len(m.log_odds)]
                    if "N" not in window:
                        best = max(best, sum(m.log_odds[k, "ACGT".index(b)] for k, b in enumerate(window)))
            assert hits[i, j] == (best >= cutoffs[j] - 1e-4), (site, m.name)
    assert hits[-5, 0] and not hits[-4, 0]  # CACGTG matches, an N breaks it
    assert hits[-3, 1] and hits[-2, 1]  # an asymmetric motif on either strand
    assert not hits[-1].any()  # a site shorter than every motif


def test_select_motifs_from_the_shared_jaspar_loader():
    motifs = select_motifs("JASPAR2024", ["MA0139.2", "MA0004.1"])
    assert [m.matrix_id for m in motifs] == ["MA0139.2", "MA0004.1"] and motifs[0].name == "CTCF"
    with pytest.raises(GenofmError, match="MA9999.9"):
        select_motifs("JASPAR2024", ["MA9999.9"])


# --- the explainer on tiny fine-tuned models ---------------------------------------------------------
@pytest.mark.parametrize("method", ["attention", "gxi", "ig"])
@pytest.mark.parametrize("name", ["dnabert2", "gpt2dna"])
def test_position_scores_exclude_padding(models, name, method):
    model_dir, weights = models[name]
    tuner = LMFinetuner.load(model_dir, None, weights, "cpu", attention="eager" if method == "attention" else "fast")
    settings = AttentionSettings(method=method, n_steps=4)
    short, long = planted(2, 5)["sequence"][1], planted(2, 6, length=150)["sequence"][0]
    alone = position_scores(tuner, [short], [1], settings)[0]
    together = position_scores(tuner, [long, short], [0, 1], settings)
    assert alone.shape == (len(short),) and together[0].shape == (len(long),)
    np.testing.assert_allclose(together[1], alone, atol=1e-5)
    assert np.linalg.norm(alone) == pytest.approx(1.0)


def test_explain_finetuned_builds_report_sections(models, tmp_path):
    model_dir, weights = models["dnabert2"]
    explain = resolve(SEQUENCE_EXPLAINERS["dnabert2"])
    frame = planted(40, 7)
    context = ExplainContext(out_dir=tmp_path, model={"kind": "finetuned"}, weights=weights, classes=["neg", "pos"],
                             options={"method": "ig", "n_steps": "6", "motif_ids": "MA0139.2,MA0004.1", "max_sequences": "30"})
    sections = explain(model_dir, frame, context)
    assert len(sections) == 2 and all(isinstance(s, ReportSection) for s in sections)
    profile = sections[0].tables["lm_ig_profile"]
    assert list(profile.columns) == ["position", "neg", "pos"] and len(profile) == 48
    for fig in sections[0].figures:
        assert (tmp_path / fig).stat().st_size > 1000
    sites = sections[1].tables["lm_sites"]
    assert {"id", "class", "start", "end", "site"} <= set(sites.columns)
    assert (sites.end - sites.start >= 8).all() and sites.id.nunique() <= 30
    enrich = sections[1].tables["lm_motif_enrichment"]
    assert {"motif_id", "p_value", "q_value"} <= set(enrich.columns)
    with pytest.raises(GenofmError, match="no option 'colour'"):
        explain(model_dir, frame, ExplainContext(out_dir=tmp_path, model={}, weights=weights, options={"colour": "red"}))
    with pytest.raises(GenofmError, match="needs --weights"):
        explain(model_dir, frame, ExplainContext(out_dir=tmp_path, model={}))
