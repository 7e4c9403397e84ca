"""Labelled sequences from FASTA files, with coordinates recovered from the headers.

Peak-caller and ``bedtools getfasta`` exports name records ``chr1:15710957-15711157`` (optionally
``(+)``/``:-`` for the strand, or ``name::chr1:...``); the iEnhancer data uses
``CHR13_99137199_99137399``. Keeping those coordinates lets a FASTA-only dataset still be split by
held-out chromosomes. Starts are taken as 0-based (BED convention, which is what ``getfasta`` and
the janggu sample files write), so ``end - start`` equals the sequence length.
"""

from __future__ import annotations

import re
from typing import Iterator

from Bio.SeqIO.FastaIO import SimpleFastaParser

from genofm.data.chroms import display_name
from genofm.data.inputs import InputSpec, open_text
from genofm.data.records import Example, clean_sequence
from genofm.errors import GenofmError

_COORDS = (
    re.compile(r"^(?P<chrom>[^\s:]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)(?:\((?P<strand>[-+.])\)|:(?P<strand2>[-+.]))?$"),
    re.compile(r"^(?P<chrom>chr[^\s_:]+)_(?P<start>\d+)_(?P<end>\d+)$", re.IGNORECASE),
)
# Letters (IUPAC codes, soft-masking), gaps and stop symbols are sequence; anything else means a broken file.
_VALID = re.compile(r"^[A-Za-z\-.*]*$")


def parse_coordinates(name: str) -> tuple[str, int, int, str | None] | None:
    """``chr1:100-300(+)`` -> ``("chr1", 100, 300, "+")``; None when the name carries no coordinates."""
    if "::" in name:
        name = name.rsplit("::", 1)[1]
    for pattern in _COORDS:
        match = pattern.match(name)
        if match:
            start = int(match.group("start").replace(",", ""))
            end = int(match.group("end").replace(",", ""))
            if end <= start:
                return None
            groups = match.groupdict()
            strand = groups.get("strand") or groups.get("strand2")
            return display_name(match.group("chrom")), start, end, strand
    return None


def _records(spec: InputSpec) -> Iterator[tuple[str, str]]:
    with open_text(spec.path) as handle:
        first = ""
        line_no = 0
        for line_no, first in enumerate(handle, start=1):
            if first.strip():
                break
        if not first.strip():
            raise GenofmError(f"{spec.path}: FASTA file has no records; give a non-empty FASTA file")
        if not first.startswith(">"):
            raise GenofmError(
                f"{spec.path}: line {line_no}: expected a '>' header, found {first.strip()[:30]!r}; "
                "is this really a FASTA file?"
            )
        yield from SimpleFastaParser(_chain(first, handle))


def _chain(first: str, rest) -> Iterator[str]:
    yield first
    yield from rest


def read_fasta(spec: InputSpec, label_regex: re.Pattern[str] | None) -> list[Example]:
    """Examples from one FASTA file, labelled by ``LABEL=`` or by ``label_regex`` on each header."""
    if spec.label is None and label_regex is None:
        raise GenofmError(
            f"{spec.path}: no label for these sequences; write the input as LABEL={spec.path} "
            "or give --label-regex to read labels from the headers"
        )
    examples: list[Example] = []
    for index, (header, raw) in enumerate(_records(spec), start=1):
        name = header.split(None, 1)[0] if header.strip() else ""
        if not name:
            raise GenofmError(f"{spec.path}: record {index} has an empty '>' header; give every record a name")
        if not _VALID.match(raw):
            bad = next(ch for ch in raw if not _VALID.match(ch))
            raise GenofmError(
                f"{spec.path}: record {index} ({name!r}) contains {bad!r}, which is not a sequence letter; "
                "fix or remove that record"
            )
        if spec.label is not None:
            label = spec.label
        else:
            assert label_regex is not None
            match = label_regex.search(header)
            if not match or not match.group(1):
                raise GenofmError(
                    f"{spec.path}: record {index} header {header[:60]!r} does not match --label-regex "
                    f"{label_regex.pattern!r}; fix the regex (its first group is the label) or the header"
                )
            label = match.group(1)
        example = Example(name=name, sequence=clean_sequence(raw.replace("-", "").replace(".", "").replace("*", "")),
                          label=label, source=str(spec.path))
        coords = parse_coordinates(name)
        if coords is not None:
            example.chrom, example.start, example.end, example.strand = coords
        examples.append(example)
    if not examples:
        raise GenofmError(f"{spec.path}: FASTA file has no records; give a non-empty FASTA file")
    return examples


def compile_label_regex(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise GenofmError(f"--label-regex {pattern!r} is not a valid regular expression ({exc})") from None
    if compiled.groups < 1:
        raise GenofmError(f"--label-regex {pattern!r} has no capture group; put the label part in (...)")
    return compiled
