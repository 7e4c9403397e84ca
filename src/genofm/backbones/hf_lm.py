"""DNABERT-6 and the GPT-2 DNA model: stock transformers architectures, genofm's own loading.

Both architectures are plain ``BertModel`` / ``GPT2Model``; what genofm adds is building them from
the folder's ``config.json`` (never ``from_pretrained``, so nothing can reach the hub or run remote
code), strict loading of MLM-head or LM-head checkpoints, and exact tokenisation: DNABERT-6
k-mers from ``vocab.txt`` with case preserved, GPT-2 byte-level BPE without a prefix space.
"""

from __future__ import annotations

from pathlib import Path

import torch

from genofm.backbones.lm_checkpoint import load_strict, read_config, read_state_dict, require_folder, strip_prefix, weights_file
from genofm.backbones.lm_common import LMBackbone, LMEncoder
from genofm.backbones.lm_tokenizers import BPETokenizer, KmerTokenizer, dnabert6_tokenizer, gpt2_tokenizer
from genofm.errors import GenofmError

BERT_REQUIRED = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "max_position_embeddings")
GPT2_REQUIRED = ("vocab_size", "n_embd", "n_layer", "n_head", "n_positions")


def _attn_implementation(attention: str) -> str:
    """``eager`` returns attention maps; ``fast`` uses SDPA."""
    return "eager" if attention == "eager" else "sdpa"


class HFBertEncoder(LMEncoder):
    """A ``transformers.BertModel`` behind genofm's encoder interface."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.hidden_size = model.config.hidden_size
        self.num_layers = model.config.num_hidden_layers

    def forward(self, input_ids, attention_mask, layer: int = -1, output_attentions: bool = False):
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
            output_hidden_states=layer >= 0,
            output_attentions=output_attentions,
        )
        hidden = out.last_hidden_state if layer < 0 else out.hidden_states[layer]
        return hidden, (out.attentions[-1] if output_attentions else None)

    def input_embeddings(self):
        return self.model.embeddings.word_embeddings

    def lora_targets(self) -> list[str]:
        return [f"model.encoder.layer.{i}.attention.self.{p}" for i in range(self.num_layers) for p in ("query", "value")]


class HFGPT2Encoder(LMEncoder):
    """A ``transformers.GPT2Model`` behind genofm's encoder interface (right padding, causal)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.hidden_size = model.config.n_embd
        self.num_layers = model.config.n_layer

    def forward(self, input_ids, attention_mask, layer: int = -1, output_attentions: bool = False):
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=layer >= 0,
            output_attentions=output_attentions,
            use_cache=False,
        )
        hidden = out.last_hidden_state if layer < 0 else out.hidden_states[layer]
        return hidden, (out.attentions[-1] if output_attentions else None)

    def input_embeddings(self):
        return self.model.wte

    def lora_targets(self) -> list[str]:
        return [f"model.h.{i}.attn.c_attn" for i in range(self.num_layers)]


def _check_vocab(tokenizer_vocab: int, config_vocab: int, tokenizer_file: Path) -> None:
    if tokenizer_vocab > config_vocab:
        raise GenofmError(
            f"{tokenizer_file}: {tokenizer_vocab} tokens but config.json has vocab_size {config_vocab}; "
            "use the tokenizer files that belong to these weights"
        )


def load_dnabert6(folder: Path, attention: str = "fast") -> tuple[HFBertEncoder, KmerTokenizer]:
    """BertModel + k-mer vocabulary; accepts BertModel and BertForMaskedLM (``bert.``-prefixed) files."""
    from transformers import BertConfig, BertModel

    folder = require_folder(folder, "dnabert6", "config.json, model.safetensors or pytorch_model.bin, vocab.txt")
    raw = read_config(folder, BERT_REQUIRED)
    tokenizer = dnabert6_tokenizer(folder)
    _check_vocab(tokenizer.vocab_size, int(raw["vocab_size"]), tokenizer.files[0])
    config = BertConfig.from_dict({k: v for k, v in raw.items() if k not in {"architectures", "auto_map"}})
    config._attn_implementation = _attn_implementation(attention)
    model = BertModel(config, add_pooling_layer=False)
    path = weights_file(folder)
    state = strip_prefix(read_state_dict(path), "bert.", model.state_dict())
    load_strict(model, state, path, (r"^cls\.", r"^pooler\.", r"position_ids$", r"token_type_ids$"))
    return HFBertEncoder(model), tokenizer


def load_gpt2dna(folder: Path, attention: str = "fast") -> tuple[HFGPT2Encoder, BPETokenizer]:
    """GPT2Model + byte-level BPE; accepts GPT2Model and GPT2LMHeadModel (``transformer.``-prefixed) files."""
    from transformers import GPT2Config, GPT2Model

    folder = require_folder(folder, "gpt2dna", "config.json, model.safetensors or pytorch_model.bin, tokenizer.json or vocab.json + merges.txt")
    raw = read_config(folder, GPT2_REQUIRED)
    tokenizer = gpt2_tokenizer(folder)
    _check_vocab(tokenizer.vocab_size, int(raw["vocab_size"]), tokenizer.files[0])
    config = GPT2Config.from_dict({k: v for k, v in raw.items() if k not in {"architectures", "auto_map"}})
    config._attn_implementation = _attn_implementation(attention)
    model = GPT2Model(config)
    path = weights_file(folder)
    state = strip_prefix(read_state_dict(path), "transformer.", model.state_dict())
    load_strict(model, state, path, (r"^lm_head\.", r"\.attn\.bias$", r"\.attn\.masked_bias$"))
    return HFGPT2Encoder(model), tokenizer


class DNABERT6Backbone(LMBackbone):
    """DNABERT-6 (overlapping 6-mers, 512 positions): masked-mean embeddings in tiles of <= 510 k-mers."""

    name = "dnabert6"

    @classmethod
    def load(cls, folder: Path, attention: str = "fast"):
        return load_dnabert6(folder, attention)

    @classmethod
    def window_limit(cls, encoder: HFBertEncoder, tokenizer: KmerTokenizer) -> int:
        specials = len(tokenizer.prefix) + len(tokenizer.suffix)
        return int(encoder.model.config.max_position_embeddings) - specials


class GPT2DNABackbone(LMBackbone):
    """GPT-2 DNA model (dnagpt/human_gpt2-v1; byte-level BPE, 1,024 positions): masked-mean embeddings."""

    name = "gpt2dna"

    @classmethod
    def load(cls, folder: Path, attention: str = "fast"):
        return load_gpt2dna(folder, attention)

    @classmethod
    def window_limit(cls, encoder: HFGPT2Encoder, tokenizer: BPETokenizer) -> int:
        return int(encoder.model.config.n_positions)
