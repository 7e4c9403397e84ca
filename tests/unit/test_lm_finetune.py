"""Fine-tuning tiny language models on CPU: learning, saving/loading, LoRA, early stopping."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from genofm.backbones import backbone_class
from genofm.errors import GenofmError
from genofm.finetune import FinetuneOptions, load_finetuner, new_finetuner
from genofm.finetune.lm import CONFIG_NAME, WEIGHTS_NAME, LMFinetuner
from genofm.finetune.lm_lora import LoRAAdapter, apply_lora
from genofm.testing.tiny_lm import write_model

MOTIF = "GGGCGGGGCG"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    return {name: write_model(name, root / name) for name in ("dnabert2", "dnabert6", "gpt2dna")}


def planted(n: int, seed: int, length: int = 50) -> pd.DataFrame:
    """Half the sequences carry MOTIF at a random position: an easy, learnable signal."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        seq = list(rng.choice(list("ACGT"), length))
        positive = i % 2 == 1
        if positive:
            pos = int(rng.integers(0, length - len(MOTIF)))
            seq[pos:pos + len(MOTIF)] = MOTIF
        rows.append({"id": f"s{seed}_{i}", "sequence": "".join(seq), "label": "pos" if positive else "neg"})
    return pd.DataFrame(rows)


TRAIN, VALID = planted(96, 0), planted(32, 1)


def _options(**kw):
    base = dict(epochs=4, learning_rate=3e-3, batch_size=16, device="cpu", seed=0)
    base.update(kw)
    return FinetuneOptions(**base)


@pytest.fixture(scope="module")
def trained(folders, tmp_path_factory):
    tuner = new_finetuner("dnabert2", folders["dnabert2"], {"window": "24", "overlap": "4"}, _options())
    log = tuner.fit(TRAIN, VALID, ["neg", "pos"])
    out = tmp_path_factory.mktemp("model")
    config = tuner.save(out)
    return tuner, log, out, config


def test_full_finetuning_learns_and_round_trips(trained, folders):
    tuner, log, out, config = trained
    losses = [e["train_loss"] for e in log["history"]]
    assert losses[-1] < losses[0]
    assert log["mode"] == "full" and log["trainable_parameters"] == log["total_parameters"]
    probs = tuner.predict_proba(VALID)
    assert probs.shape == (len(VALID), 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (out / WEIGHTS_NAME).is_file() and json.loads((out / CONFIG_NAME).read_text())["classes"] == ["neg", "pos"]
    again = load_finetuner("dnabert2", out, config, folders["dnabert2"], "cpu")
    np.testing.assert_array_equal(again.predict_proba(VALID), probs)
    from_file = LMFinetuner.load(out, None, folders["dnabert2"], "cpu")  # config read from the folder
    np.testing.assert_array_equal(from_file.predict_proba(VALID), probs)


def test_tiles_are_used_when_sequences_exceed_the_window(trained):
    tuner = trained[0]
    assert tuner.window == 24
    long = pd.DataFrame({"sequence": [TRAIN.sequence[1] * 6]})
    assert tuner.predict_proba(long).shape == (1, 2)


@pytest.mark.parametrize("name", ["dnabert2", "gpt2dna"])
def test_lora_trains_only_adapters_and_head(folders, tmp_path, name):
    tuner = new_finetuner(name, folders[name], {}, _options(lora_rank=2, epochs=1, max_steps=3))
    before = {k: v.clone() for k, v in backbone_class(name).load(folders[name])[0].state_dict().items()}
    log = tuner.fit(TRAIN, VALID, ["neg", "pos"])
    assert log["mode"] == "lora" and log["steps"] == 3
    assert 0 < log["trainable_parameters"] < log["total_parameters"] / 2
    after = {k.replace(".base.", "."): v for k, v in tuner.model.encoder.state_dict().items() if "lora_" not in k}
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before), "LoRA must leave the base weights untouched"
    config = tuner.save(tmp_path)
    keys = set(load_file(str(tmp_path / WEIGHTS_NAME)))
    assert keys and all(k.startswith("head.") or k.endswith((".lora_A", ".lora_B")) for k in keys)
    assert config["base_weights_sha256"]
    probs = tuner.predict_proba(VALID)
    np.testing.assert_array_equal(LMFinetuner.load(tmp_path, config, folders[name], "cpu").predict_proba(VALID), probs)


def test_lora_refuses_other_base_weights(folders, tmp_path):
    tuner = new_finetuner("dnabert2", folders["dnabert2"], {}, _options(lora_rank=2, max_steps=1))
    tuner.fit(TRAIN, VALID, ["neg", "pos"])
    config = tuner.save(tmp_path / "m")
    other = write_model("dnabert2", tmp_path / "other", seed=5)
    with pytest.raises(GenofmError, match="tokenizer files differ"):
        LMFinetuner.load(tmp_path / "m", config, other, "cpu")
    (other / "tokenizer.json").write_bytes((folders["dnabert2"] / "tokenizer.json").read_bytes())
    with pytest.raises(GenofmError, match="sha256 mismatch"):
        LMFinetuner.load(tmp_path / "m", config, other, "cpu")


def test_lora_adapter_starts_as_identity_on_bert_and_conv1d_layers(folders):
    for name in ("dnabert6", "gpt2dna"):
        encoder, tok = backbone_class(name).load(folders[name])
        ids = torch.tensor([[5, 9, 12, 7, 30]]) if name == "dnabert6" else torch.tensor([[3, 4, 5, 6]])
        mask = torch.ones_like(ids)
        encoder.eval()
        with torch.no_grad():
            ref, _ = encoder(ids, mask)
        names = apply_lora(encoder, encoder.lora_targets(), rank=4, alpha=8)
        assert all(isinstance(encoder.get_submodule(n), LoRAAdapter) for n in names)
        with torch.no_grad():
            got, _ = encoder(ids, mask)
        assert torch.allclose(got, ref, atol=1e-6)
        trainable = [n for n, p in encoder.named_parameters() if p.requires_grad]
        assert trainable and all("lora_" in n for n in trainable)


def test_early_stopping_and_step_cap(folders):
    tuner = new_finetuner("dnabert2", folders["dnabert2"], {}, _options(epochs=6, learning_rate=0.0, patience=1))
    log = tuner.fit(TRAIN, VALID, ["neg", "pos"])
    assert len(log["history"]) == 2 and log["best_epoch"] == 1  # no improvement after epoch 1
    capped = new_finetuner("dnabert2", folders["dnabert2"], {}, _options(epochs=6, max_steps=5))
    assert capped.fit(TRAIN, VALID, ["neg", "pos"])["steps"] == 5


def test_bad_inputs(folders):
    with pytest.raises(GenofmError, match="schedule='step'"):
        new_finetuner("dnabert2", folders["dnabert2"], {"schedule": "step"}, _options())
    tuner = new_finetuner("dnabert2", folders["dnabert2"], {}, _options(max_steps=1))
    with pytest.raises(GenofmError, match="train split: label 'other' outside its class list"):
        tuner.fit(TRAIN.assign(label="other"), VALID, ["neg", "pos"])
