"""What a ``[LABEL=]PATH`` argument names: the file, its optional class label and its format.

Formats are recognised by extension and, for ambiguous names (``.txt``, no extension), by the
first meaningful line, because published datasets ship FASTA files called ``*.txt``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from genofm.errors import GenofmError

KINDS = ("fasta", "table", "bed", "narrowpeak", "gtf")
_SUFFIX_KIND = {
    ".fa": "fasta",
    ".fasta": "fasta",
    ".fna": "fasta",
    ".fas": "fasta",
    ".csv": "table",
    ".tsv": "table",
    ".tab": "table",
    ".bed": "bed",
    ".broadpeak": "bed",
    ".narrowpeak": "narrowpeak",
    ".gtf": "gtf",
    ".gff2": "gtf",
}
_GZIP_MAGIC = b"\x1f\x8b"
_LABEL = re.compile(r"^[^/\\=]+$")
#: names a benchmark may give its splits, mapped to genofm's three (``dev`` is the common name for validation)
SPLIT_NAMES = {
    "train": "train", "training": "train",
    "valid": "valid", "validation": "valid", "val": "valid", "dev": "valid",
    "test": "test", "testing": "test",
}


def split_name(text: str) -> str | None:
    """``dev`` -> ``valid``; None when ``text`` names no split."""
    return SPLIT_NAMES.get(text.strip().lower())


@dataclass(frozen=True)
class InputSpec:
    """One positional input: its path, the label given with ``LABEL=`` (if any), its kind and the
    split it belongs to when the user gave one (``test=file``, ``test:LABEL=file``)."""

    path: Path
    label: str | None
    kind: str
    split: str | None = None
    cell_type: str | None = None  # LABEL@CELL=PATH: every example of the file is in this cell type

    @property
    def display(self) -> str:
        return str(self.path)


def parse_input(text: str) -> InputSpec:
    """``oct4=peaks.fa`` -> label ``oct4``; ``test=test.csv`` -> the test split (labels from the file);
    ``test:oct4=peaks.fa`` -> both. Split names: train, valid (or dev, validation), test. A path that
    itself contains ``=`` still works when it exists."""
    label: str | None = None
    split: str | None = None
    path = Path(text)
    if "=" in text and not path.exists():
        head, tail = text.split("=", 1)
        if _LABEL.match(head) and head.strip():
            head = head.strip()
            first, colon, rest = head.partition(":")
            if split_name(first) is not None:
                split, label = split_name(first), (rest.strip() or None)
            elif colon and split_name(rest) is not None:
                raise GenofmError(f"{text}: the split comes first; write {rest.strip()}:{first}={tail}")
            else:
                label = head
            path = Path(tail)
    if not path.exists():
        raise GenofmError(f"{path}: input file not found; give INPUT as [LABEL=]PATH to an existing file")
    if not path.is_file():
        raise GenofmError(f"{path}: input is not a regular file; give INPUT as [LABEL=]PATH to a file")
    cell_type = None
    if label is not None and "@" in label:
        label, cell_type = (part.strip() for part in label.split("@", 1))
        if not label or not cell_type or "|" in cell_type:
            raise GenofmError(f"{text}: give LABEL@CELL_TYPE=PATH with a non-empty label and cell type (no '|')")
    return InputSpec(path=path, label=label, kind=detect_kind(path), split=split, cell_type=cell_type)


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bgz"):
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def detect_kind(path: Path) -> str:
    kind = _SUFFIX_KIND.get(_suffix(path))
    if kind:
        return kind
    with open_text(path) as handle:
        for line in handle:
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith(">"):
                return "fasta"
            fields = stripped.split("\t")
            if len(fields) >= 9 and fields[3].isdigit() and fields[4].isdigit():
                return "gtf"
            if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
                return "bed"
            return "table"
    raise GenofmError(f"{path}: input file is empty; give a FASTA, CSV/TSV, BED, narrowPeak or GTF file")


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def open_text(path: Path) -> IO[str]:
    """Open plain or gzip-compressed text; decoding errors surface as GenofmError naming the file."""
    raw = gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")
    return _CheckedText(io.TextIOWrapper(raw, encoding="utf-8", newline=None), path)


class _CheckedText(io.TextIOBase):
    """Line iterator that reports undecodable or corrupt input as a user error, not a traceback."""

    def __init__(self, inner: io.TextIOWrapper, path: Path):
        self._inner = inner
        self._path = path

    def __iter__(self):
        return self

    def __next__(self) -> str:
        try:
            return next(self._inner)
        except UnicodeDecodeError:
            raise GenofmError(f"{self._path}: not a text file (invalid UTF-8); give a FASTA, CSV/TSV, BED or GTF file") from None
        except (OSError, EOFError) as exc:
            raise GenofmError(f"{self._path}: cannot read ({exc}); re-create or re-download the file") from None

    def readline(self, size: int = -1) -> str:  # type: ignore[override]
        try:
            return next(self)
        except StopIteration:
            return ""

    def read(self, size: int = -1) -> str:  # type: ignore[override]
        return "".join(self)

    def close(self) -> None:
        self._inner.close()
        super().close()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
