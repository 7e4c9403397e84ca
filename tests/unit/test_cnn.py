"""The CNN trained from scratch: it sees where a motif sits (k-mers cannot), round-trips, predicts and explains."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from genofm.cli.embed import main as embed_main
from genofm.cli.interpret import main as interpret_main
from genofm.cli.predict import main as predict_main
from genofm.cli.train import main as train_main
from genofm.errors import GenofmError
from genofm.finetune import FINETUNERS, FinetuneOptions, default_options, load_finetuner, new_finetuner
from genofm.finetune.cnn import ARCHITECTURES, BassetCNN, ConvTransformer, DilatedCNN
from genofm.finetune.strand import reverse_complement_onehot
from genofm.heads.store import read_model
from genofm.interpret.cnn_attribution import _ism, to_sequence
from genofm.sequence import reverse_complement
from test_train import assert_no_pickle
from test_train_fixtures import run_tool, write_inputs

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MOTIF = "ATGACTCATC"  # the AP-1 site (TGACTCA) with non-palindromic flanks
CLASSES = ["left", "right"]
OFFSETS = {"left": 15, "right": 55}
TINY = ["-O", "channels=16", "-O", "hidden=32", "-O", "dropout=0.1"]


def position_frame(n_per_class: int, length: int = 80, seed: int = 0) -> pd.DataFrame:
    """The same motif in every sequence, on the + strand; only its offset tells the classes apart."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in CLASSES:
        for i in range(n_per_class):
            seq = list(rng.choice(list("ACGT"), size=length))
            seq[OFFSETS[label] : OFFSETS[label] + len(MOTIF)] = MOTIF
            split = "train" if i < 0.7 * n_per_class else ("valid" if i < 0.8 * n_per_class else "test")
            start = 1000 * (len(rows) + 1)
            rows.append(dict(id=f"{label}_{i}", sequence="".join(seq), label=label, split=split,
                             chrom={"train": "chr1", "valid": "chr10", "test": "chr8"}[split], start=start,
                             end=start + length, strand="+", source=f"{label}.fa", augmented=False))
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def position_task(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("position")
    frame = position_frame(200)
    dataset, embeddings = write_inputs(tmp, frame, CLASSES, k=6)
    return tmp, frame, dataset, embeddings


@pytest.fixture(scope="module")
def cnn_model(position_task):
    """A basset cnn trained through genofm-train on the motif-position task."""
    tmp, _, dataset, _ = position_task
    out = tmp / "cnn"
    args = [dataset, "--finetune", "cnn", "-o", out, *TINY, "--learning-rate", "0.005", "--epochs", "15",
            "--patience", "5", "--bootstrap", "50"]
    mp = pytest.MonkeyPatch()
    import sys

    mp.setattr(sys, "argv", ["genofm-train", *map(str, args)])
    try:
        train_main()
    except SystemExit as exc:
        assert not exc.code, exc
    finally:
        mp.undo()
    return out


def _test_metric(folder, name="auroc") -> float:
    return json.loads((folder / "metrics.json").read_text())["metrics"][name]["value"]


def test_cnn_separates_motif_positions_that_kmers_cannot(position_task, cnn_model, monkeypatch, capsys):
    tmp, _, dataset, embeddings = position_task
    kmer_out = tmp / "kmer"
    code, _, err = run_tool(train_main, [dataset, "-e", embeddings[0], "-o", kmer_out, "--cs", "4", "--cv-folds", "3",
                                         "--bootstrap", "50"], monkeypatch, capsys)
    assert code == 0, err
    kmer_auroc, cnn_auroc = _test_metric(kmer_out), _test_metric(cnn_model)
    assert kmer_auroc < 0.75, f"k-mer spectra should not see motif positions (AUROC {kmer_auroc:.3f})"
    assert cnn_auroc > 0.95, f"the cnn should separate motif positions (AUROC {cnn_auroc:.3f})"


def test_positional_kmers_see_motif_positions_too(position_task, monkeypatch, capsys):
    """``-O positions=N``: the same k-mers per window position, which a linear head can tell apart."""
    tmp, _, dataset, _ = position_task
    embedding = tmp / "positional.h5"
    code, _, err = run_tool(embed_main, [dataset, "-b", "kmer", "-O", "k=2", "-O", "positions=80", "-o", embedding],
                            monkeypatch, capsys)
    assert code == 0, err
    out = tmp / "positional"
    code, _, err = run_tool(train_main, [dataset, "-e", embedding, "-o", out, "--cs", "4", "--cv-folds", "3",
                                         "--bootstrap", "50"], monkeypatch, capsys)
    assert code == 0, err
    assert _test_metric(out) > 0.95, f"position-specific k-mers should separate motif positions (AUROC {_test_metric(out):.3f})"


def test_cnn_model_folder_predict_and_provenance(position_task, cnn_model, monkeypatch, capsys):
    tmp, frame, dataset, _ = position_task
    model = read_model(cnn_model)
    assert model["kind"] == "finetuned" and model["backbone"]["backbone"] == "cnn"
    assert model["backbone"]["weights_sha256"] is None and model["finetune"]["config"]["format"] == "genofm-cnn/1"
    training = model["training_log"]
    assert training["model"] == "cnn" and training["architecture"] == "basset" and training["length"] == 80
    assert training["early_stopping_on"] == "valid split" and 1 <= training["best_epoch"] <= training["epochs_run"]
    assert model["finetune"]["options"]["learning_rate"] == 0.005 and model["finetune"]["options"]["batch_size"] == 64
    assert (cnn_model / "cnn.safetensors").is_file()
    assert_no_pickle(cnn_model)
    out = tmp / "predictions.tsv"
    code, _, err = run_tool(predict_main, [dataset, "--model", cnn_model, "-o", out, "--splits", "test"], monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(out, sep="\t")
    saved = pd.read_csv(cnn_model / "test_predictions.tsv", sep="\t")
    np.testing.assert_allclose(table["prob_right"].to_numpy(), saved["prob_right"].to_numpy(), atol=1e-6)


def test_cnn_interpretation_finds_the_planted_site(position_task, cnn_model, monkeypatch, capsys):
    tmp, _, dataset, _ = position_task
    out = tmp / "explained"
    args = ["model", cnn_model, "-o", out, "--dataset", dataset, "-O", "max_sequences=16", "-O", "n_steps=8",
            "-O", "motif_ids=MA0099.4,MA0139.2", "-O", "examples=2"]
    code, _, err = run_tool(interpret_main, args, monkeypatch, capsys)
    assert code == 0, err
    sites = pd.read_csv(out / "cnn_sites.tsv", sep="\t")
    assert len(sites) > 0
    overlaps = [(s <= OFFSETS[c] + len(MOTIF) and e >= OFFSETS[c]) for s, e, c in zip(sites["start"], sites["end"], sites["class"])]
    assert np.mean(overlaps) > 0.5, sites
    enrichment = pd.read_csv(out / "cnn_motif_enrichment.tsv", sep="\t")
    assert "MA0099.4" in set(enrichment["motif_id"])
    report = (out / "report.html").read_text()
    assert "CNN trained from scratch" in report and "CNN: motifs in high-ig sites" in report


def test_strand_averaged_prediction_is_strand_symmetric(cnn_model, position_task):
    _, frame, _, _ = position_task
    model = read_model(cnn_model)
    trainer = load_finetuner("cnn", cnn_model, model["finetune"]["config"], None, "cpu")
    test = frame[frame["split"] == "test"].head(10)
    flipped = test.assign(sequence=test["sequence"].map(reverse_complement))
    np.testing.assert_allclose(trainer.predict_proba(test), trainer.predict_proba(flipped), atol=1e-5)


def _tiny_options(**kw) -> FinetuneOptions:
    import dataclasses

    return dataclasses.replace(default_options("cnn"), device="cpu", epochs=2, batch_size=16, **kw)


@pytest.mark.parametrize("architecture,bins", [("basset", "4"), ("dilated", "4"), ("dilated", "0"), ("transformer", "4")])
def test_architectures_round_trip_and_repeat_with_a_seed(tmp_path, architecture, bins):
    frame = position_frame(20, length=60, seed=3)
    train, valid = frame[frame["split"] == "train"], frame[frame["split"] != "train"]
    pairs = {"architecture": architecture, "channels": "8", "hidden": "8", "layers": "3", "bins": bins,
             "attention_layers": "1", "heads": "2"}
    a = new_finetuner("cnn", None, pairs, _tiny_options())
    b = new_finetuner("cnn", None, pairs, _tiny_options())
    log = a.fit(train, valid, CLASSES)
    b.fit(train, valid, CLASSES)
    assert isinstance(a.net, {"basset": BassetCNN, "dilated": DilatedCNN, "transformer": ConvTransformer}[architecture])
    if bins == "0":  # every position of the stem's output (window L bp -> ceil(L / 2)) reaches the hidden layer
        assert a.net.classifier[2].in_features == 8 * -(-a.length // 2) and a.length >= 60
    np.testing.assert_array_equal(a.predict_proba(valid), b.predict_proba(valid))
    assert log["epochs_run"] == 2 and set(log["history"][0]) >= {"train_loss", "valid_loss", "learning_rate"}
    config = json.loads(json.dumps(a.save(tmp_path)))
    again = load_finetuner("cnn", tmp_path, config, None, "cpu")
    np.testing.assert_allclose(again.predict_proba(valid), a.predict_proba(valid), atol=1e-6)
    shorter = valid.assign(sequence=valid["sequence"].str[5:40])  # other lengths are centre-padded
    assert again.predict_proba(shorter).shape == (len(valid), 2)


def test_transformer_shape_position_embedding_and_encoder():
    net = ConvTransformer(30, 3, channels=8, attention_layers=3, heads=2, hidden=8)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (5, 30)), 4).permute(0, 2, 1).float()
    assert net(x).shape == (5, 3)
    assert net.position.shape == (1, 30, 8) and net.classifier[2].in_features == 8 * 30  # every position reaches the hidden layer
    assert len(net.encoder.layers) == 3
    layer = net.encoder.layers[0]
    assert layer.self_attn.num_heads == 2 and layer.norm_first and layer.self_attn.batch_first
    assert [m.kernel_size for m in net.stem if isinstance(m, torch.nn.Conv1d)] == [(7,), (7,)]
    assert "transformer" in ARCHITECTURES


def test_transformer_options_are_validated():
    with pytest.raises(GenofmError, match="heads=3 must divide channels=8"):
        new_finetuner("cnn", None, {"architecture": "transformer", "channels": "8", "heads": "3"}, FinetuneOptions())
    with pytest.raises(GenofmError, match="attention_layers=0 must be at least 1"):
        new_finetuner("cnn", None, {"architecture": "transformer", "attention_layers": "0"}, FinetuneOptions())
    new_finetuner("cnn", None, {"architecture": "basset", "channels": "8", "heads": "3"}, FinetuneOptions())  # only the transformer has heads
    with pytest.raises(GenofmError, match="heads"):
        ConvTransformer(30, 2, channels=8, heads=3)


def test_transformer_learns_motif_positions_and_is_explained(position_task, monkeypatch, capsys):
    """Through the tools: genofm-train, genofm-predict on the saved folder, genofm-interpret (ism and ig)."""
    tmp, _, dataset, _ = position_task
    out = tmp / "transformer"
    code, _, err = run_tool(train_main, [dataset, "--finetune", "cnn", "-O", "architecture=transformer", "-O", "attention_layers=1",
                                         *TINY, "-O", "rc_augment=false", "-O", "strand_average=false", "--learning-rate", "0.003",
                                         "--epochs", "6", "--bootstrap", "20", "-o", out], monkeypatch, capsys)
    assert code == 0, err
    model = read_model(out)
    assert model["finetune"]["config"]["backbone_options"]["architecture"] == "transformer"
    assert model["finetune"]["config"]["backbone_options"]["attention_layers"] == 1
    assert _test_metric(out) > 0.9, f"the transformer should separate motif positions (AUROC {_test_metric(out):.3f})"
    predictions = tmp / "transformer_predictions.tsv"
    code, _, err = run_tool(predict_main, [dataset, "--model", out, "-o", predictions, "--splits", "test"], monkeypatch, capsys)
    assert code == 0, err
    saved = pd.read_csv(out / "test_predictions.tsv", sep="\t")
    np.testing.assert_allclose(pd.read_csv(predictions, sep="\t")["prob_right"], saved["prob_right"], atol=1e-5)
    for method in ("ism", "ig"):
        explained = tmp / f"transformer_{method}"
        code, _, err = run_tool(interpret_main, ["model", out, "-o", explained, "--dataset", dataset, "-O", f"method={method}",
                                                 "-O", "max_sequences=4", "-O", "n_steps=4", "-O", "motif_ids=MA0099.4",
                                                 "-O", "examples=1"], monkeypatch, capsys)
        assert code == 0, err
        assert (explained / "report.html").is_file() and (explained / "cnn_sites.tsv").is_file()


def test_defaults_and_registry():
    assert FINETUNERS["cnn"] == "genofm.finetune.cnn:CNNTrainer"
    defaults = default_options("cnn")
    assert defaults.learning_rate == 1e-3 and defaults.epochs == 30 and default_options("sei").learning_rate == 2e-5


def test_reverse_complement_of_one_hot():
    from genofm.finetune.cnn import CNNTrainer

    trainer = CNNTrainer("cnn", None, {"length": "8"}, FinetuneOptions(device="cpu"))
    x = trainer.onehot(trainer.codes(["AACGTN"]))
    y = trainer.onehot(trainer.codes([reverse_complement("AACGTN")]))
    # AACGTN centred in 8 bp is NAACGTNN; its reverse complement NACGTT centred is NNACGTTN
    assert torch.equal(reverse_complement_onehot(x), y)
    assert x[0, :, 0].sum() == 0 and x[0, :, 6].sum() == 0  # padding and N are all zero


def test_random_strand_flips_whole_rows_and_strand_mean_averages_probabilities():
    from genofm.finetune.strand import random_strand, strand_mean_log_proba

    x = torch.nn.functional.one_hot(torch.randint(0, 4, (64, 12)), 4).permute(0, 2, 1).float()
    y = random_strand(x, np.random.default_rng(0))
    same = (y == x).flatten(1).all(1)
    flipped = (y == reverse_complement_onehot(x)).flatten(1).all(1)
    assert bool((same | flipped).all()) and 16 < int(flipped.sum()) < 48
    assert torch.equal(random_strand(x, np.random.default_rng(0)), y)  # the generator decides, nothing else
    a, b = torch.tensor([[4.0, 0.0]]), torch.tensor([[0.0, 0.0]])  # a confident strand and a flat one
    expected = (torch.softmax(a, -1) + torch.softmax(b, -1)) / 2
    assert torch.allclose(strand_mean_log_proba(a, b).exp(), expected)
    assert torch.allclose(strand_mean_log_proba(a, b), strand_mean_log_proba(b, a))


def test_shift_moves_each_row_and_pads_with_n():
    from genofm.finetune.cnn import shift_codes

    codes = np.array([[0, 1, 2, 3, 0], [3, 2, 1, 0, 3], [0, 0, 1, 1, 2]], dtype=np.uint8)
    moved = shift_codes(codes, np.array([2, -1, 0]))
    np.testing.assert_array_equal(moved, [[4, 4, 0, 1, 2], [2, 1, 0, 3, 4], [0, 0, 1, 1, 2]])
    assert moved.dtype == np.uint8


def test_shift_option_trains_repeatably_and_is_validated():
    frame = position_frame(20, length=60, seed=4)
    train, valid = frame[frame["split"] == "train"], frame[frame["split"] != "train"]
    pairs = {"channels": "8", "hidden": "8", "shift": "3", "rc_augment": "false", "strand_average": "false"}
    a = new_finetuner("cnn", None, pairs, _tiny_options())
    b = new_finetuner("cnn", None, pairs, _tiny_options())
    a.fit(train, valid, CLASSES)
    b.fit(train, valid, CLASSES)
    np.testing.assert_array_equal(a.predict_proba(valid), b.predict_proba(valid))  # the shifts come from the seeded generator
    c = new_finetuner("cnn", None, {**pairs, "shift": "0"}, _tiny_options())
    c.fit(train, valid, CLASSES)
    assert not np.array_equal(a.predict_proba(valid), c.predict_proba(valid))
    with pytest.raises(GenofmError, match="shift=-1"):
        new_finetuner("cnn", None, {"shift": "-1"}, FinetuneOptions())


def test_window_scores_map_back_to_the_sequence():
    window = np.arange(10.0)
    np.testing.assert_array_equal(to_sequence(window, 6), [2, 3, 4, 5, 6, 7])
    long = to_sequence(window, 14)
    assert long.shape == (14,) and long[:2].sum() == 0 and long[-2:].sum() == 0 and long[2] == 0 and long[11] == 9


def test_ism_scores_a_linear_model_exactly():
    torch.manual_seed(0)
    weight = torch.randn(2, 4, 5)

    class Linear(torch.nn.Module):
        def forward(self, x):
            return (x.unsqueeze(1) * weight).sum((2, 3))

    x = torch.zeros(1, 4, 5)
    x[0, [0, 1, 2, 3], [0, 1, 2, 3]] = 1.0  # ACGT then N
    scores = _ism(Linear(), x, torch.tensor([1]))
    w = weight[1]
    expected = [float(w[b, p] - (w[:, p].sum() - w[b, p]) / 3) for p, b in enumerate([0, 1, 2, 3])] + [0.0]
    np.testing.assert_allclose(scores[0].numpy(), expected, atol=1e-5)


def test_bad_inputs_are_clear_errors(position_task, monkeypatch, capsys, tmp_path):
    _, _, dataset, _ = position_task
    code, _, err = run_tool(train_main, [dataset, "--finetune", "cnn", "--weights", dataset, "-o", tmp_path / "x"], monkeypatch, capsys)
    assert code == 2 and "trains from scratch and takes no --weights" in err and not (tmp_path / "x").exists()
    code, _, err = run_tool(train_main, [dataset, "--finetune", "cnn", "-O", "architecture=resnet", "-o", tmp_path / "x"], monkeypatch, capsys)
    assert code == 2 and "architecture='resnet'" in err
    code, _, err = run_tool(train_main, [dataset, "--finetune", "cnn", "-O", "bins=-1", "-o", tmp_path / "x"], monkeypatch, capsys)
    assert code == 2 and "bins=-1 must be 0 (every position)" in err and not (tmp_path / "x").exists()
    with pytest.raises(GenofmError, match="--lora-rank"):
        new_finetuner("cnn", None, {}, FinetuneOptions(lora_rank=2))
    with pytest.raises(GenofmError, match="no option 'depth'"):
        new_finetuner("cnn", None, {"depth": "3"}, FinetuneOptions())
    with pytest.raises(GenofmError, match="not a cnn model folder"):
        load_finetuner("cnn", tmp_path, {"format": "genofm-fsei/1"}, None, "cpu")


def test_threads_cap_torch_and_blas():
    from threadpoolctl import threadpool_info

    from genofm.cli.common import limit_threads

    before = torch.get_num_threads()
    limiter = limit_threads(1)
    try:
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    finally:
        limiter.restore_original_limits()
        torch.set_num_threads(before)
    assert limit_threads(None) is None


def test_galaxy_train_tool_offers_every_architecture():
    import xml.etree.ElementTree as ET
    from pathlib import Path

    tool = ET.parse(Path(__file__).resolve().parents[2] / "galaxy" / "tools" / "genofm" / "genofm_train.xml")
    select = tool.find(".//when[@value='cnn']/param[@name='architecture']")
    assert tuple(o.get("value") for o in select.findall("option")) == ARCHITECTURES


def test_grad_clip_option_reaches_the_loop(monkeypatch):
    from genofm.finetune import cnn as cnn_module

    seen = []
    real_fit = cnn_module.fit
    monkeypatch.setattr(cnn_module, "fit", lambda *args, **kwargs: seen.append(args[7]) or real_fit(*args, **kwargs))
    frame = position_frame(10, length=40, seed=5)
    train, valid = frame[frame["split"] == "train"], frame[frame["split"] != "train"]
    tuner = new_finetuner("cnn", None, {"channels": "8", "hidden": "8", "grad_clip": "0.5"}, _tiny_options())
    tuner.fit(train, valid, CLASSES)
    assert seen[0].grad_clip == 0.5
    with pytest.raises(GenofmError, match="grad_clip=-1"):
        new_finetuner("cnn", None, {"grad_clip": "-1"}, FinetuneOptions())
