"""FSei on a tiny Sei: it learns a separable task, saves, reloads, and refuses mismatched inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genofm.errors import GenofmError
from genofm.finetune import FINETUNERS, FinetuneOptions, load_finetuner, new_finetuner
from genofm.finetune.fsei import FSei, SeiFinetuner
from genofm.testing.tiny_sei import write_tiny_release

CLASSES = ["gc", "at"]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return write_tiny_release(tmp_path_factory.mktemp("sei") / "model")


def frame(n: int, seed: int) -> pd.DataFrame:
    """'at' sequences are A/T-rich, 'gc' ones G/C-rich: separable by base composition."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = CLASSES[i % 2]
        rich, poor = ("AT", "GC") if label == "at" else ("GC", "AT")
        probs = [0.4, 0.4, 0.1, 0.1]
        letters = rng.choice(list(rich + poor), size=120, p=probs)
        rows.append({"sequence": "".join(letters), "label": label})
    return pd.DataFrame(rows)


def options(**kw) -> FinetuneOptions:
    base = dict(epochs=4, learning_rate=3e-3, batch_size=8, seed=0, device="cpu", patience=3)
    base.update(kw)
    return FinetuneOptions(**base)


@pytest.fixture(scope="module")
def trained(release):
    tuner = new_finetuner("sei", release, {"length": "256", "head_learning_rate": "3e-3"}, options())
    log = tuner.fit(frame(32, 1), frame(12, 2), CLASSES)
    return tuner, log


def test_registry_points_here():
    assert FINETUNERS["sei"] == "genofm.finetune.fsei:SeiFinetuner"


def test_fit_learns_a_separable_task(trained):
    tuner, log = trained
    assert isinstance(tuner.model, FSei)
    test = frame(24, 3)
    proba = tuner.predict_proba(test)
    assert proba.shape == (24, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    accuracy = (proba.argmax(1) == test["label"].map({"gc": 0, "at": 1}).to_numpy()).mean()
    assert accuracy >= 0.9, log
    losses = [h["train_loss"] for h in log["history"]]
    assert losses[-1] < losses[0]
    assert log["length"] == 256 and not log["frozen_backbone"] and 1 <= log["best_epoch"] <= log["epochs_run"]
    assert json.dumps(log)  # the training log goes into model.json


def test_head_matches_the_paper_shape(trained):
    tuner, _ = trained
    head = tuner.model.head
    assert head.project[0].in_channels == 16 and head.project[0].kernel_size == (3,)
    assert head.project[0].out_channels == round(520 * 16 / 960)
    assert head.attention_pool.to_attn_logits.shape == (9, 9) and head.prediction_head.out_features == 2


def test_save_and_load_round_trip(tmp_path, trained, release):
    tuner, _ = trained
    config = tuner.save(tmp_path)
    assert (tmp_path / "fsei.safetensors").is_file() and config["frozen_backbone"] is False
    config = json.loads(json.dumps(config))  # what train writes to and predict reads from model.json
    again = load_finetuner("sei", tmp_path, config, release, device="cpu")
    test = frame(10, 4)
    np.testing.assert_allclose(again.predict_proba(test), tuner.predict_proba(test), atol=1e-6)
    # a fully fine-tuned model does not need the original weights any more
    alone = SeiFinetuner.load(tmp_path, config, None, "cpu")
    np.testing.assert_allclose(alone.predict_proba(test), tuner.predict_proba(test), atol=1e-6)


def test_frozen_backbone_saves_head_and_checks_trunk_checksum(tmp_path, release):
    tuner = new_finetuner("sei", release, {}, options(freeze_backbone=True, epochs=2))
    before = {k: v.clone() for k, v in torch.load(release / "sei.pth", weights_only=True).items()}
    log = tuner.fit(frame(16, 5), frame(8, 6), CLASSES)
    assert log["frozen_backbone"] and log["trainable_parameters"] < sum(p.numel() for p in tuner.model.parameters())
    for key, value in tuner.model.trunk.state_dict().items():
        assert torch.equal(value, before["module.model." + key]), key
    config = tuner.save(tmp_path / "m")
    assert (tmp_path / "m" / "fsei_head.safetensors").is_file() and len(config["trunk_sha256"]) == 64
    again = SeiFinetuner.load(tmp_path / "m", config, release / "sei.pth", "cpu")
    test = frame(6, 7)
    np.testing.assert_allclose(again.predict_proba(test), tuner.predict_proba(test), atol=1e-6)
    other = write_tiny_release(tmp_path / "other", seed=9)
    with pytest.raises(GenofmError, match="SHA-256 differs"):
        SeiFinetuner.load(tmp_path / "m", config, other, "cpu")
    with pytest.raises(GenofmError, match="needs --weights"):
        SeiFinetuner.load(tmp_path / "m", config, None, "cpu")


def test_same_seed_same_model_and_max_steps(release):
    a = new_finetuner("sei", release, {}, options(epochs=1, max_steps=2))
    b = new_finetuner("sei", release, {}, options(epochs=1, max_steps=2))
    log = a.fit(frame(32, 8), frame(8, 9), CLASSES)
    b.fit(frame(32, 8), frame(8, 9), CLASSES)
    assert log["steps"] == 2
    test = frame(6, 10)
    np.testing.assert_array_equal(a.predict_proba(test), b.predict_proba(test))


def test_early_stopping_on_validation_loss(release):
    tuner = new_finetuner("sei", release, {"head_learning_rate": "0.05"}, options(epochs=8, patience=1, learning_rate=0.05))
    valid = frame(8, 12)
    valid["label"] = valid["label"].map({"gc": "at", "at": "gc"})  # validation disagrees: its loss rises
    log = tuner.fit(frame(24, 11), valid, CLASSES)
    assert log["stopped_early"] and log["epochs_run"] < 8
    assert log["best_valid_loss"] == min(h["valid_loss"] for h in log["history"])


def test_bad_inputs_are_clear_errors(release, tmp_path):
    with pytest.raises(GenofmError, match="lora-rank"):
        new_finetuner("sei", release, {}, options(lora_rank=4))
    with pytest.raises(GenofmError, match="no option 'depth'"):
        new_finetuner("sei", release, {"depth": "3"}, options())
    bad = frame(8, 13)
    bad.loc[0, "label"] = "other"
    with pytest.raises(GenofmError, match="'other'"):
        new_finetuner("sei", release, {}, options()).fit(bad, frame(4, 14), CLASSES)
    with pytest.raises(GenofmError, match="not an FSei model folder"):
        SeiFinetuner.load(tmp_path, {"format": "something"}, release, "cpu")
