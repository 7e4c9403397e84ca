"""Randomly initialised DNA language models written in the official folder layouts.

Tests, pipeline smoke runs and benchmarks need model folders that look exactly like the
downloads users pass to ``--weights`` (same file names, key prefixes, heads and tokenizer
formats) without shipping any real weights. ``size="tiny"`` builds models small enough for
unit tests; ``size="full"`` builds the published sizes (DNABERT-2 117M, DNABERT-6 and GPT-2
small) with random weights for throughput benchmarks.

    python -m genofm.testing.tiny_lm --model dnabert2 --out DIR [--size tiny|full] [--format bin]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from genofm.atomic import atomic_path

MODELS = ("dnabert2", "dnabert6", "gpt2dna")
SIZES = ("tiny", "full")
FORMATS = ("safetensors", "bin")

_SIZES = {
    "dnabert2": {
        "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=64),
        "full": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, vocab_size=4096),
    },
    "dnabert6": {
        "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64),
        "full": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    },
    "gpt2dna": {
        "tiny": dict(n_embd=32, n_layer=2, n_head=2, vocab_size=300),
        "full": dict(n_embd=768, n_layer=12, n_head=12, vocab_size=25000),
    },
}


def _random_dna(n: int, length: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    return ["".join(letters[rng.integers(0, 4, length)]) for _ in range(n)]


def _save_weights(state: dict[str, torch.Tensor], folder: Path, fmt: str) -> None:
    state = {k: v.detach().clone().contiguous() for k, v in state.items()}
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    else:
        torch.save(state, folder / "pytorch_model.bin")


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _publish(folder: Path) -> None:
    """World-readable like a download, so containers running as another user can read it."""
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


def _init_bert_like(module: torch.nn.Module, generator: torch.Generator) -> None:
    """BERT's initialisation (normal 0.02, zero biases, unit LayerNorm) for genofm's own modules."""
    for sub in module.modules():
        if isinstance(sub, (torch.nn.Linear, torch.nn.Embedding)):
            with torch.no_grad():
                sub.weight.normal_(0.0, 0.02, generator=generator)
                if getattr(sub, "bias", None) is not None:
                    sub.bias.zero_()
        elif isinstance(sub, torch.nn.LayerNorm):
            with torch.no_grad():
                sub.weight.fill_(1.0)
                sub.bias.zero_()


def write_dnabert2(out: Path, size: str = "tiny", fmt: str = "safetensors", mlm_head: bool = True, tied_decoder: bool = False, seed: int = 0) -> Path:
    """DNABERT-2 layout: config.json, weights with ``bert.`` keys (+ MLM head), tokenizer.json."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    from genofm.backbones.dnabert2_model import DNABERT2Config, DNABERT2Model

    dims = _SIZES["dnabert2"][size]
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    corpus = _random_dna(400 if size == "tiny" else 2000, 1000, seed)
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=dims["vocab_size"], special_tokens=specials, show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[(s, tok.token_to_id(s)) for s in ("[CLS]", "[SEP]")]
    )
    config = DNABERT2Config(**dims, pad_token_id=tok.token_to_id("[PAD]"))
    torch.manual_seed(seed)
    model = DNABERT2Model(config)
    _init_bert_like(model, torch.Generator().manual_seed(seed))
    state = {f"bert.{k}": v for k, v in model.state_dict().items()}
    if mlm_head:
        h, v = config.hidden_size, config.vocab_size
        g = torch.Generator().manual_seed(seed + 1)
        state.update(
            {
                "cls.predictions.transform.dense.weight": torch.randn(h, h, generator=g) * 0.02,
                "cls.predictions.transform.dense.bias": torch.zeros(h),
                "cls.predictions.transform.LayerNorm.weight": torch.ones(h),
                "cls.predictions.transform.LayerNorm.bias": torch.zeros(h),
                "cls.predictions.decoder.bias": torch.zeros(v),
            }
        )
        if tied_decoder:
            state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    with atomic_path(out, directory=True) as tmp:
        _save_weights(state, tmp, fmt)
        tok.save(str(tmp / "tokenizer.json"))
        _write_json(
            tmp / "config.json",
            {
                "architectures": ["BertForMaskedLM"],
                "model_type": "bert",
                "alibi_starting_size": 512,
                "attention_probs_dropout_prob": 0.0,
                "hidden_act": "gelu",
                "hidden_dropout_prob": 0.1,
                "initializer_range": 0.02,
                "layer_norm_eps": 1e-12,
                "max_position_embeddings": 512,
                "position_embedding_type": "absolute",
                "torch_dtype": "float32",
                "type_vocab_size": 2,
                **dims,
            },
        )
        _write_json(tmp / "tokenizer_config.json", {"model_max_length": 1000000000, "padding_side": "right", "tokenizer_class": "PreTrainedTokenizerFast"})
        _write_json(tmp / "special_tokens_map.json", {"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]"})
        _publish(tmp)
    return Path(out)


def write_dnabert6(out: Path, size: str = "tiny", fmt: str = "safetensors", mlm_head: bool = True, seed: int = 0) -> Path:
    """DNABERT-6 layout: BertForMaskedLM weights (``bert.`` keys, pooler, ``cls.`` head) and vocab.txt."""
    from transformers import BertConfig, BertForMaskedLM

    dims = _SIZES["dnabert6"][size]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["".join(p) for p in itertools.product("ATCG", repeat=6)]
    config = BertConfig(vocab_size=len(vocab), max_position_embeddings=512, type_vocab_size=2, pad_token_id=0, **dims)
    torch.manual_seed(seed)
    model = BertForMaskedLM(config)
    state = dict(model.state_dict())
    state.pop("cls.predictions.decoder.weight", None)  # tied to the word embeddings
    g = torch.Generator().manual_seed(seed + 1)
    h = config.hidden_size
    state["bert.pooler.dense.weight"] = torch.randn(h, h, generator=g) * 0.02
    state["bert.pooler.dense.bias"] = torch.zeros(h)
    if not mlm_head:
        state = {k: v for k, v in state.items() if not k.startswith("cls.")}
    with atomic_path(out, directory=True) as tmp:
        _save_weights(state, tmp, fmt)
        (tmp / "vocab.txt").write_text("\n".join(vocab) + "\n")
        _write_json(
            tmp / "config.json",
            {
                "architectures": ["BertForMaskedLM"],
                "model_type": "bert",
                "attention_probs_dropout_prob": 0.1,
                "hidden_act": "gelu",
                "hidden_dropout_prob": 0.1,
                "initializer_range": 0.02,
                "layer_norm_eps": 1e-12,
                "max_position_embeddings": 512,
                "num_labels": 2,
                "type_vocab_size": 2,
                "vocab_size": len(vocab),
                **dims,
            },
        )
        _write_json(tmp / "tokenizer_config.json", {"do_lower_case": False, "max_len": 512})
        _write_json(tmp / "special_tokens_map.json", {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"})
        _publish(tmp)
    return Path(out)


def write_gpt2dna(out: Path, size: str = "tiny", fmt: str = "safetensors", lm_head: bool = False, tokenizer_json: bool = True, seed: int = 0) -> Path:
    """GPT-2 DNA layout: GPT2Model weights (no LM head), byte-level BPE tokenizer.json + vocab.json + merges.txt."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

    dims = _SIZES["gpt2dna"][size]
    tok = ByteLevelBPETokenizer(add_prefix_space=False)
    corpus = _random_dna(400 if size == "tiny" else 2000, 1000, seed)
    tok.train_from_iterator(corpus, vocab_size=dims["vocab_size"], special_tokens=["<|endoftext|>"], show_progress=False)
    config = GPT2Config(n_positions=1024, n_ctx=1024, bos_token_id=0, eos_token_id=0, activation_function="gelu_new", **dims)
    torch.manual_seed(seed)
    state = dict((GPT2LMHeadModel(config) if lm_head else GPT2Model(config)).state_dict())
    with atomic_path(out, directory=True) as tmp:
        _save_weights(state, tmp, fmt)
        if tokenizer_json:
            tok.save(str(tmp / "tokenizer.json"))
        tok.save_model(str(tmp))  # vocab.json + merges.txt
        _write_json(
            tmp / "config.json",
            {
                "architectures": ["GPT2LMHeadModel" if lm_head else "GPT2Model"],
                "model_type": "gpt2",
                "activation_function": "gelu_new",
                "attn_pdrop": 0.1,
                "embd_pdrop": 0.1,
                "resid_pdrop": 0.1,
                "bos_token_id": 0,
                "eos_token_id": 0,
                "layer_norm_epsilon": 1e-5,
                "n_ctx": 1024,
                "n_positions": 1024,
                **dims,
            },
        )
        _write_json(tmp / "tokenizer_config.json", {"add_prefix_space": False, "model_max_length": 1024, "tokenizer_class": "GPT2Tokenizer"})
        _write_json(tmp / "special_tokens_map.json", {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"})
        _publish(tmp)
    return Path(out)


WRITERS = {"dnabert2": write_dnabert2, "dnabert6": write_dnabert6, "gpt2dna": write_gpt2dna}


def write_model(model: str, out: Path, size: str = "tiny", fmt: str = "safetensors", seed: int = 0) -> Path:
    """Write a random ``model`` folder at ``out`` in its official layout."""
    if model not in WRITERS:
        raise ValueError(f"unknown model {model!r}; choose one of {MODELS}")
    return WRITERS[model](Path(out), size=size, fmt=fmt, seed=seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m genofm.testing.tiny_lm",
        description="Write a randomly initialised DNA language model in its official folder layout (for tests, pipeline runs and benchmarks; not for real predictions).",
    )
    parser.add_argument("--model", required=True, choices=MODELS, help="architecture and folder layout to imitate")
    parser.add_argument("--out", required=True, type=Path, help="folder to create (replaced atomically if it exists)")
    parser.add_argument("--size", default="tiny", choices=SIZES, help="tiny: a few thousand parameters; full: the published size (~90-120M parameters)")
    parser.add_argument("--format", default="safetensors", choices=FORMATS, help="weights as model.safetensors or pytorch_model.bin")
    parser.add_argument("--seed", default=0, type=int, help="seed for the weights and the tokenizer training corpus")
    args = parser.parse_args(argv)
    path = write_model(args.model, args.out, size=args.size, fmt=args.format, seed=args.seed)
    print(path)


if __name__ == "__main__":
    main()
