"""DNABERT-2 as a genofm backbone, loaded from the official folder without remote code."""

from __future__ import annotations

from pathlib import Path

from genofm.backbones.dnabert2_model import DNABERT2Config, DNABERT2Model
from genofm.backbones.lm_checkpoint import load_strict, read_config, read_state_dict, require_folder, strip_prefix, weights_file
from genofm.backbones.lm_common import LMBackbone
from genofm.backbones.lm_tokenizers import BPETokenizer, dnabert2_tokenizer
from genofm.errors import GenofmError

#: tensors official files carry that the encoder does not use: the MLM head and a pooler
IGNORED = (r"^cls\.", r"^pooler\.")


def load_dnabert2(folder: Path, attention: str = "fast") -> tuple[DNABERT2Model, BPETokenizer]:
    """Encoder and tokenizer from a DNABERT-2 folder (config.json, weights, tokenizer.json)."""
    folder = require_folder(folder, "dnabert2", "config.json, model.safetensors or pytorch_model.bin, tokenizer.json")
    config_path = folder / "config.json"
    config = DNABERT2Config.from_dict(read_config(folder, DNABERT2Config.REQUIRED), config_path)
    tokenizer = dnabert2_tokenizer(folder)
    if tokenizer.vocab_size > config.vocab_size:
        raise GenofmError(
            f"{folder / 'tokenizer.json'}: {tokenizer.vocab_size} tokens but config.json has vocab_size {config.vocab_size}; "
            "use the tokenizer.json that belongs to these weights"
        )
    model = DNABERT2Model(config, fused_attention=False if attention == "eager" else None)
    path = weights_file(folder)
    state = strip_prefix(read_state_dict(path), "bert.", model.state_dict())
    load_strict(model, state, path, IGNORED)
    return model, tokenizer


class DNABERT2Backbone(LMBackbone):
    """DNABERT-2-117M (BPE tokens, ALiBi): masked-mean embeddings of any-length sequences."""

    name = "dnabert2"

    @classmethod
    def load(cls, folder: Path, attention: str = "fast"):
        return load_dnabert2(folder, attention)
