"""The one training loop shared by FSei, fine-tuned language models and the CNN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from genofm.errors import GenofmError
from genofm.finetune import FinetuneOptions
from genofm.finetune.loop import Recipe, Trainee, _lr_factor, _optimiser, class_weights, encode_labels, fit
from genofm.heads.base import balanced_weights


def test_schedules_warm_up_then_decay():
    linear = _lr_factor("linear", 2, 10)
    assert [round(linear(s), 3) for s in (0, 1, 2, 6, 10)] == [0.5, 1.0, 1.0, 0.5, 0.0]
    cosine = _lr_factor("cosine", 0, 10)
    assert cosine(0) == pytest.approx(1.0) and cosine(5) == pytest.approx(0.5) and cosine(10) == pytest.approx(0.0)
    assert _lr_factor("constant", 0, 10)(7) == 1.0
    with pytest.raises(GenofmError, match="schedule='step'"):
        Recipe(schedule="step")
    with pytest.raises(GenofmError, match="warmup=1.5"):
        Recipe(warmup=1.5)


def test_class_weights_are_the_heads_balanced_rule():
    y = np.array([0, 0, 0, 1])
    np.testing.assert_allclose(class_weights(y, 2), [4 / 6, 2.0])
    np.testing.assert_allclose(class_weights(y, 2)[y], balanced_weights(y))  # one formula for heads and loop
    np.testing.assert_allclose(class_weights(y, 2, balanced=False), [1.0, 1.0])


def test_label_mapping_follows_the_class_order_and_names_the_split():
    frame = pd.DataFrame({"label": ["b", "a", "b"]})
    np.testing.assert_array_equal(encode_labels(frame, ["a", "b"], "train"), [1, 0, 1])
    assert encode_labels(frame.iloc[:0], ["a", "b"], "valid").shape == (0,)
    with pytest.raises(GenofmError, match="the valid split: label 'c' outside its class list"):
        encode_labels(pd.DataFrame({"label": ["c"]}), ["a", "b"], "valid")


def test_weight_decay_skips_biases_and_frozen_parameters():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    net[2].weight.requires_grad_(False)
    optimiser = _optimiser([{"params": list(net.parameters()), "lr": 0.1}], weight_decay=0.5)
    decayed = {id(p) for g in optimiser.param_groups if g["weight_decay"] == 0.5 for p in g["params"]}
    plain = {id(p) for g in optimiser.param_groups if g["weight_decay"] == 0.0 for p in g["params"]}
    assert decayed == {id(net[0].weight)}
    assert plain == {id(net[0].bias), id(net[1].weight), id(net[1].bias), id(net[2].bias)}


def _toy(seed: int, n: int = 64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _trainee(X: np.ndarray, Xv: np.ndarray) -> Trainee:
    torch.manual_seed(0)
    net = nn.Linear(2, 2)
    x, xv = torch.from_numpy(X), torch.from_numpy(Xv)
    return Trainee(module=net, param_groups=[{"params": list(net.parameters()), "lr": 0.1}],
                   batch_logits=lambda rows, rng: net(x[rows]), valid_logits=lambda: net(xv))


def test_loop_learns_logs_and_restores_the_best_epoch():
    X, y = _toy(0)
    Xv, yv = _toy(1, 32)
    trainee = _trainee(X, Xv)
    log = fit(trainee, y, yv, 2, FinetuneOptions(epochs=5, batch_size=16, patience=5, device="cpu"), torch.device("cpu"), "fp32")
    assert [h["epoch"] for h in log["history"]] == [1, 2, 3, 4, 5] and log["steps"] == 20
    assert set(log["history"][0]) == {"epoch", "steps", "train_loss", "valid_loss", "learning_rate", "seconds"}
    assert log["monitor"] == "valid_loss" and log["early_stopping_on"] == "valid split"
    assert log["best_valid_loss"] == min(h["valid_loss"] for h in log["history"])
    with torch.no_grad():
        restored = float(nn.functional.cross_entropy(trainee.module(torch.from_numpy(Xv)), torch.from_numpy(yv),
                                                     weight=torch.tensor(log["class_weight"], dtype=torch.float32)))
    assert restored == pytest.approx(log["best_valid_loss"], rel=1e-5)  # the best epoch's weights are back
    assert log["constant_predictions"] is False


def test_a_model_that_predicts_a_constant_is_flagged(caplog):
    """A run that collapsed (every validation row gets the same probabilities) is saved, but says so."""
    X, y = _toy(0)
    Xv, yv = _toy(1, 32)
    torch.manual_seed(0)
    net = nn.Linear(2, 2)
    dead = lambda x: net(torch.zeros_like(x))  # noqa: E731 - the input never reaches the output, like dead ReLUs
    x, xv = torch.from_numpy(X), torch.from_numpy(Xv)
    trainee = Trainee(module=net, param_groups=[{"params": list(net.parameters()), "lr": 0.1}],
                      batch_logits=lambda rows, rng: dead(x[rows]), valid_logits=lambda: dead(xv))
    with caplog.at_level("WARNING", logger="genofm.finetune"):
        log = fit(trainee, y, yv, 2, FinetuneOptions(epochs=3, batch_size=16, device="cpu"), torch.device("cpu"), "fp32", name="toy")
    assert log["constant_predictions"] is True
    assert "toy: the kept weights (epoch" in caplog.text and "learned nothing" in caplog.text


def test_early_stopping_and_step_cap():
    X, y = _toy(0)
    Xv, yv = _toy(1, 32)
    flipped = 1 - yv  # validation disagrees with training: its loss rises
    log = fit(_trainee(X, Xv), y, flipped, 2, FinetuneOptions(epochs=10, batch_size=16, patience=2, device="cpu"),
              torch.device("cpu"), "fp32")
    assert log["stopped_early"] and log["epochs_run"] == log["best_epoch"] + 2
    capped = fit(_trainee(X, Xv), y, yv, 2, FinetuneOptions(epochs=10, batch_size=16, max_steps=6, device="cpu"),
                 torch.device("cpu"), "fp32")
    assert capped["steps"] == 6 and capped["epochs_run"] == 2
    no_valid = fit(_trainee(X, Xv), y, np.zeros(0, dtype=np.int64), 2, FinetuneOptions(epochs=3, batch_size=16, device="cpu"),
                   torch.device("cpu"), "fp32")
    assert no_valid["monitor"] == "train_loss" and no_valid["epochs_run"] == 3 and no_valid["best_valid_loss"] is None
