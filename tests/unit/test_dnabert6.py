"""DNABERT-6: exact 6-mer tokenisation, official-folder loading, the 510 k-mer window."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import pytest

from genofm.backbones.hf_lm import DNABERT6Backbone, load_dnabert6
from genofm.backbones.lm_common import LMOptions, make_rows
from genofm.errors import GenofmError
from genofm.testing.tiny_lm import write_dnabert6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_dnabert6(tmp_path_factory.mktemp("d6") / "DNA_bert_6")


def test_vocab_file_follows_official_order(folder):
    lines = (folder / "vocab.txt").read_text().splitlines()
    assert lines[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert lines[5:] == ["".join(p) for p in itertools.product("ATCG", repeat=6)]
    assert json.loads((folder / "config.json").read_text())["vocab_size"] == 4101


def test_kmers_match_a_case_preserving_bert_tokenizer(folder):
    from transformers import BertTokenizer

    _, tok = load_dnabert6(folder)
    seq = "ACGTTGCANNACGTGGGCCCATTA"
    (enc,) = tok.tokenize_many([seq])
    reference = BertTokenizer(str(folder / "vocab.txt"), do_lower_case=False)
    kmers = " ".join(seq[i:i + 6] for i in range(len(seq) - 5))
    assert enc.ids.tolist() == reference.convert_tokens_to_ids(reference.tokenize(kmers))
    assert enc.spans.tolist() == [[i, i + 6] for i in range(len(seq) - 5)]
    unk = 1
    assert all((enc.ids[i] == unk) == ("N" in seq[i:i + 6]) for i in range(len(enc.ids)))
    (lower,) = tok.tokenize_many([seq.lower()])
    assert lower.ids.tolist() == enc.ids.tolist()  # lower-case input never becomes [UNK]
    (short,) = tok.tokenize_many(["ACGT"])
    assert len(short.ids) == 0


@pytest.mark.parametrize("variant", ["nohead", "bin"])
def test_official_layout_variants_load_identically(folder, tmp_path, variant):
    other = write_dnabert6(tmp_path / variant, **({"mlm_head": False} if variant == "nohead" else {"fmt": "bin"}))
    seqs = ["ACGTTGCAACGGTACCAGT" * 4, "TTGACATGCA"]
    ref = DNABERT6Backbone(LMOptions(), folder).embed_batch(seqs)
    np.testing.assert_allclose(DNABERT6Backbone(LMOptions(), other).embed_batch(seqs), ref, atol=1e-6)


def test_bare_bertmodel_keys_load_too(folder, tmp_path):
    from safetensors.torch import load_file, save_file

    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    state = load_file(str(bare / "model.safetensors"))
    state = {k[len("bert."):]: v for k, v in state.items() if k.startswith("bert.")}
    save_file(state, str(bare / "model.safetensors"))
    seqs = ["ACGTTGCAACGGTACCAGTA" * 2]
    np.testing.assert_allclose(
        DNABERT6Backbone(LMOptions(), bare).embed_batch(seqs), DNABERT6Backbone(LMOptions(), folder).embed_batch(seqs), atol=1e-6
    )


def test_window_is_limited_to_510_kmers(folder):
    backbone = DNABERT6Backbone(LMOptions(), folder)
    assert backbone.window == 510
    with pytest.raises(GenofmError, match="exceeds the model's limit of 510"):
        DNABERT6Backbone(LMOptions(window=600), folder)
    seq = "ACGT" * 300  # 1200 bp -> 1195 k-mers -> 3 tiles
    rows = make_rows(backbone.tokenizer.tokenize_many([seq]), backbone.tokenizer, backbone.window, 32)
    assert len(rows.ids) == 3 and max(len(r) for r in rows.ids) == 512


def test_bad_folders(folder, tmp_path):
    no_vocab = tmp_path / "no_vocab"
    shutil.copytree(folder, no_vocab)
    (no_vocab / "vocab.txt").unlink()
    with pytest.raises(GenofmError, match="vocab.txt"):
        load_dnabert6(no_vocab)
    bad_vocab = tmp_path / "bad_vocab"
    shutil.copytree(folder, bad_vocab)
    lines = (bad_vocab / "vocab.txt").read_text().splitlines()
    (bad_vocab / "vocab.txt").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(GenofmError, match="lacks the 6-mer 'GGGGGG'"):
        load_dnabert6(bad_vocab)
    shape = tmp_path / "shape"
    shutil.copytree(folder, shape)
    cfg = json.loads((shape / "config.json").read_text())
    cfg["hidden_size"] = 64
    cfg["intermediate_size"] = 64
    (shape / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenofmError, match=r"embeddings\.word_embeddings\.weight' has shape"):
        load_dnabert6(shape)
