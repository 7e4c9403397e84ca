"""Sequence logos: JASPAR motif information content and attribution hot spots."""

from __future__ import annotations

import numpy as np

from genofm.interpret.jaspar import Motif, log_odds
from genofm.interpret.logos import hotspot_logo_figure, hotspot_matrix, information_matrix, motif_logo_figure, motif_probabilities


def _motif() -> Motif:
    counts = np.array([[10, 0, 0, 0], [0, 0, 10, 0], [3, 3, 2, 2]], dtype=float).T  # A, G, ~uniform
    return Motif("MA9999.1", "TEST", "class", "family", log_odds(counts))


def test_motif_information_content():
    motif = _motif()
    prob = motif_probabilities(motif)
    assert np.allclose(prob.sum(axis=1), 1.0)
    assert prob.iloc[0].idxmax() == "A" and prob.iloc[1].idxmax() == "G"
    bits = information_matrix(motif).sum(axis=1).to_numpy()
    assert bits[0] > 1.5 and bits[1] > 1.5 and bits[2] < 0.2  # near-certain columns ~2 bits, uniform ~0
    assert (bits <= 2.0 + 1e-9).all()


def test_hotspot_window_centres_on_the_strongest_base():
    sequence = "ACGT" * 10
    scores = np.zeros(len(sequence))
    scores[20] = -3.0  # strongest |score| (a base pushing away from the class)
    scores[5] = 1.0
    matrix, start = hotspot_matrix(sequence, scores, flank=4)
    assert start == 16 and len(matrix) == 9
    assert matrix.iloc[4][sequence[20]] == -3.0 and matrix.to_numpy().sum() == -3.0
    matrix, start = hotspot_matrix(sequence[:6], scores[:6], flank=4)  # shorter than the window
    assert start == 0 and len(matrix) == 6


def test_logo_figures_written(tmp_path):
    assert motif_logo_figure([("TEST (MA9999.1)", _motif())], tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 1000
    assert not motif_logo_figure([], tmp_path / "none.png") and not (tmp_path / "none.png").exists()
    rng = np.random.default_rng(0)
    examples = [(f"s{i}", "".join(rng.choice(list("ACGT"), 50)), rng.normal(size=50)) for i in range(3)]
    assert hotspot_logo_figure(examples, tmp_path / "h.png", "ig score")
    assert (tmp_path / "h.png").stat().st_size > 1000


def test_kmer_report_has_motif_logos(tmp_path, monkeypatch, capsys):
    """The k-mer explainer draws logos of the motifs it matched (planted MAF and Oct4 sites)."""
    import sys

    from genofm.cli.interpret import main as interpret_main
    from genofm.cli.train import main as train_main
    from test_train_fixtures import planted_frame, run_tool, write_inputs

    frame = planted_frame(["mafk", "oct4"], n_per_class=40)
    dataset, embeddings = write_inputs(tmp_path, frame, ["mafk", "oct4"], k=4)
    monkeypatch.setattr(sys, "argv", ["genofm-train", str(dataset), "-e", str(embeddings[0]), "-o", str(tmp_path / "m"),
                                      "--cs", "3", "--cv-folds", "3", "--bootstrap", "20"])
    train_main()
    code, _, err = run_tool(interpret_main, ["model", tmp_path / "m", "-o", tmp_path / "r", "--refits", "0", "-O", "logo_show=2"],
                            monkeypatch, capsys)
    assert code == 0, err
    assert (tmp_path / "r" / "motif_logos.png").is_file()
    assert "motif logos" in (tmp_path / "r" / "report.html").read_text()
