"""Tokenizers of the DNA language models, each reporting which bases every token covers.

Embedding, fine-tuning and attention maps all need more than token ids: tiling a long sequence
and spreading a token's attention back onto bases require each token's base span. Special tokens
are never produced here; the tiling code wraps every window in the model's own specials, so a
window is always a well-formed model input and no base is fed twice by accident.
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
from pathlib import Path
from typing import Sequence

import numpy as np

from genofm.errors import GenofmError
from genofm.sequence import encode


@dataclasses.dataclass
class Tokenized:
    """Content tokens of one sequence: ``ids`` (n,) and their base spans ``spans`` (n, 2), end exclusive."""

    ids: np.ndarray
    spans: np.ndarray


class LMTokenizer(abc.ABC):
    """Turns DNA strings into content tokens and knows how the model frames a window."""

    #: token ids placed before / after the content of every window
    prefix: list[int]
    suffix: list[int]
    pad_id: int
    #: where the sequence-summary token sits: "first" ([CLS]) or "last" (causal models)
    summary_position: str = "first"
    #: files the tokenizer was read from (their checksum pins a fine-tuned model to them)
    files: list[Path]

    @abc.abstractmethod
    def tokenize_many(self, sequences: Sequence[str]) -> list[Tokenized]:
        """Content tokens of each sequence (upper-cased first)."""


class BPETokenizer(LMTokenizer):
    """A ``tokenizers`` BPE model (DNABERT-2's BPE, GPT-2's byte-level BPE) with offsets as spans."""

    def __init__(self, tokenizer, prefix: list[int], suffix: list[int], pad_id: int, files: list[Path], summary_position: str):
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tok = tokenizer
        self.prefix = prefix
        self.suffix = suffix
        self.pad_id = pad_id
        self.files = files
        self.summary_position = summary_position

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def tokenize_many(self, sequences: Sequence[str]) -> list[Tokenized]:
        encodings = self._tok.encode_batch([s.upper() for s in sequences], add_special_tokens=False)
        out = []
        for enc in encodings:
            ids = np.asarray(enc.ids, dtype=np.int64)
            spans = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
            out.append(Tokenized(ids, spans))
        return out


def _load_tokenizer_json(path: Path):
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exceptions with serde messages
        raise GenofmError(f"{path}: not a readable tokenizers file ({str(exc).splitlines()[0][:100]}); restore the official tokenizer.json") from None


def _special_id(tok, name: str, path: Path) -> int:
    token_id = tok.token_to_id(name)
    if token_id is None:
        raise GenofmError(f"{path}: has no {name} token; restore the official tokenizer files")
    return int(token_id)


def dnabert2_tokenizer(folder: Path) -> BPETokenizer:
    """DNABERT-2's BPE: ``[CLS] tokens [SEP]``, special ids read from ``tokenizer.json``."""
    path = Path(folder) / "tokenizer.json"
    if not path.is_file():
        raise GenofmError(f"{path}: missing; a DNABERT-2 folder must hold the official tokenizer.json")
    tok = _load_tokenizer_json(path)
    cls_id, sep_id, pad_id = (_special_id(tok, n, path) for n in ("[CLS]", "[SEP]", "[PAD]"))
    return BPETokenizer(tok, [cls_id], [sep_id], pad_id, [path], "first")


def gpt2_tokenizer(folder: Path) -> BPETokenizer:
    """Byte-level BPE without a prefix space; ``<|endoftext|>`` pads; no tokens are added around a window."""
    folder = Path(folder)
    path = folder / "tokenizer.json"
    if path.is_file():
        tok = _load_tokenizer_json(path)
        files = [path]
    else:
        vocab, merges = folder / "vocab.json", folder / "merges.txt"
        if not (vocab.is_file() and merges.is_file()):
            raise GenofmError(f"{folder}: no tokenizer.json or vocab.json + merges.txt; the GPT-2 folder must hold the official tokenizer files")
        from tokenizers import ByteLevelBPETokenizer

        try:
            tok = ByteLevelBPETokenizer(str(vocab), str(merges), add_prefix_space=False)
        except Exception as exc:
            raise GenofmError(f"{vocab}: unreadable with {merges.name} ({str(exc).splitlines()[0][:100]}); restore the official files") from None
        files = [vocab, merges]
        path = vocab
    pad_id = _special_id(tok, "<|endoftext|>", path)
    return BPETokenizer(tok, [], [], pad_id, files, "last")


class KmerTokenizer(LMTokenizer):
    """DNABERT-k: overlapping k-mers at stride 1 looked up in ``vocab.txt`` (case kept, never lower-cased)."""

    SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

    def __init__(self, vocab_path: Path):
        vocab_path = Path(vocab_path)
        if not vocab_path.is_file():
            raise GenofmError(f"{vocab_path}: missing; a DNABERT-6 folder must hold the official vocab.txt")
        tokens = [line.rstrip("\r\n") for line in vocab_path.read_text().splitlines()]
        index = {t: i for i, t in enumerate(tokens) if t}
        for name in self.SPECIALS:
            if name not in index:
                raise GenofmError(f"{vocab_path}: has no {name} token; restore the official vocab.txt")
        kmers = [t for t in tokens if t and t not in self.SPECIALS]
        if not kmers:
            raise GenofmError(f"{vocab_path}: holds no k-mers; restore the official vocab.txt")
        k = len(kmers[0])
        # lookup[base-4 code of a k-mer in A, C, G, T order] -> token id
        lookup = np.empty(4**k, dtype=np.int64)
        for code, kmer in enumerate(itertools.product("ACGT", repeat=k)):
            token_id = index.get("".join(kmer))
            if token_id is None:
                raise GenofmError(f"{vocab_path}: lacks the {k}-mer {''.join(kmer)!r}; restore the official vocab.txt")
            lookup[code] = token_id
        self.k = k
        self.vocab_size = len(tokens)
        self._lookup = lookup
        self._unk = index["[UNK]"]
        self.prefix = [index["[CLS]"]]
        self.suffix = [index["[SEP]"]]
        self.pad_id = index["[PAD]"]
        self.files = [vocab_path]
        self.summary_position = "first"

    def tokenize_many(self, sequences: Sequence[str]) -> list[Tokenized]:
        return [self._tokenize(s) for s in sequences]

    def _tokenize(self, sequence: str) -> Tokenized:
        k = self.k
        n = len(sequence) - k + 1
        if n <= 0:
            return Tokenized(np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype=np.int64))
        codes = encode(sequence.upper()).astype(np.int64)
        windows = np.lib.stride_tricks.sliding_window_view(codes, k)
        unknown = (windows > 3).any(axis=1)
        powers = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
        ids = self._lookup[np.minimum(windows, 3) @ powers]
        ids[unknown] = self._unk
        starts = np.arange(n, dtype=np.int64)
        return Tokenized(ids, np.stack([starts, starts + k], axis=1))


def dnabert6_tokenizer(folder: Path) -> KmerTokenizer:
    return KmerTokenizer(Path(folder) / "vocab.txt")

