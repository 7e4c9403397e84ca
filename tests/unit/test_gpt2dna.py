"""GPT-2 DNA model: byte-level BPE without prefix space, official-folder loading, last-token pooling."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from genofm.backbones.hf_lm import GPT2DNABackbone, load_gpt2dna
from genofm.backbones.lm_common import LMOptions, collate
from genofm.errors import GenofmError
from genofm.testing.tiny_lm import write_gpt2dna


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_gpt2dna(tmp_path_factory.mktemp("g2") / "human_gpt2-v1")


SEQS = ["ACGTTGCAACGGTACCAGTA" * 3, "TTGACATGCA", "GGGCCCAATT" * 5]


def test_tokenizer_has_no_prefix_space_and_pads_with_endoftext(folder):
    from tokenizers import Tokenizer

    _, tok = load_gpt2dna(folder)
    reference = Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert tok.pad_id == reference.token_to_id("<|endoftext|>") == 0
    assert tok.prefix == [] and tok.suffix == []
    (enc,) = tok.tokenize_many([SEQS[0]])
    assert enc.ids.tolist() == reference.encode(SEQS[0]).ids
    pieces = [reference.id_to_token(i) for i in enc.ids]
    assert "".join(pieces) == SEQS[0]  # no 'Ġ' (space) marker anywhere
    assert enc.spans[0, 0] == 0 and enc.spans[-1, 1] == len(SEQS[0])


def test_vocab_and_merges_without_tokenizer_json(folder, tmp_path):
    other = shutil.copytree(folder, tmp_path / "legacy")
    (other / "tokenizer.json").unlink()
    _, a = load_gpt2dna(folder)
    _, b = load_gpt2dna(other)
    for x, y in zip(a.tokenize_many(SEQS), b.tokenize_many(SEQS)):
        assert x.ids.tolist() == y.ids.tolist() and x.spans.tolist() == y.spans.tolist()
    (other / "merges.txt").unlink()
    with pytest.raises(GenofmError, match="vocab.json \\+ merges.txt"):
        load_gpt2dna(other)


def test_lm_head_checkpoint_and_bin_load_identically(folder, tmp_path):
    from safetensors.torch import load_file

    ref = GPT2DNABackbone(LMOptions(), folder).embed_batch(SEQS)
    state = load_file(str(folder / "model.safetensors"))
    lm = shutil.copytree(folder, tmp_path / "lm")
    (lm / "model.safetensors").unlink()
    prefixed = {f"transformer.{k}": v for k, v in state.items()}
    prefixed["lm_head.weight"] = state["wte.weight"].clone()
    prefixed["transformer.h.0.attn.bias"] = torch.tril(torch.ones(1, 1, 1024, 1024, dtype=torch.bool))  # legacy buffer
    torch.save(prefixed, lm / "pytorch_model.bin")
    np.testing.assert_allclose(GPT2DNABackbone(LMOptions(), lm).embed_batch(SEQS), ref, atol=1e-6)


def test_cls_pooling_is_the_last_real_token(folder):
    backbone = GPT2DNABackbone(LMOptions(pooling="cls"), folder)
    got = backbone.embed_batch(SEQS)
    for i, seq in enumerate(SEQS):
        (enc,) = backbone.tokenizer.tokenize_many([seq])
        ids, mask = collate([enc.ids], backbone.tokenizer.pad_id)
        with torch.no_grad():
            hidden = backbone.encoder.model(input_ids=ids, attention_mask=mask).last_hidden_state
        np.testing.assert_allclose(got[i], hidden[0, -1].numpy(), atol=1e-5)


def test_window_limit_is_n_positions(folder):
    assert GPT2DNABackbone(LMOptions(), folder).window == 1024
    with pytest.raises(GenofmError, match="limit of 1024"):
        GPT2DNABackbone(LMOptions(window=2048), folder)


def test_mismatched_vocab_is_reported(folder, tmp_path):
    import json

    bad = shutil.copytree(folder, tmp_path / "bad")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["vocab_size"] = 100
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenofmError, match="tokens but config.json has vocab_size 100"):
        load_gpt2dna(bad)
