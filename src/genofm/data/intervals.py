"""Genomic intervals from BED, narrowPeak and GTF files, validated line by line.

Everything is converted to 0-based half-open coordinates on read (GTF is 1-based inclusive), so
later code never has to remember where an interval came from. Labels come from ``LABEL=`` on the
input or from a column (BED: a 1-based column number, a standard BED/narrowPeak column name, or a
header name; GTF: an attribute such as ``gene_type``, or ``source``/``feature``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genofm.data.inputs import InputSpec, open_text
from genofm.errors import GenofmError

BED_COLUMNS = ("chrom", "start", "end", "name", "score", "strand")
NARROWPEAK_COLUMNS = BED_COLUMNS + ("signalValue", "pValue", "qValue", "peak")
_GTF_ATTR = re.compile(r'\s*([^\s";]+)\s+(?:"([^"]*)"|([^\s;]+))\s*;?')


@dataclass(slots=True)
class Interval:
    name: str
    chrom: str
    start: int
    end: int
    strand: str
    label: str
    source: str
    line: int
    summit: int | None = None


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _skip(line: str) -> bool:
    return not line.strip() or line.startswith(("#", "track ", "track\t", "browser ", "browser\t"))


def _label_index(label_column: str, columns: list[str] | None, kind: str, spec: InputSpec) -> int:
    if label_column.isdigit():
        index = int(label_column) - 1
        if index < 0:
            raise GenofmError(f"--label-column {label_column}: column numbers start at 1")
        return index
    names = list(columns) if columns else list(NARROWPEAK_COLUMNS if kind == "narrowpeak" else BED_COLUMNS)
    lowered = [n.lower() for n in names]
    if label_column.lower() in lowered:
        return lowered.index(label_column.lower())
    raise GenofmError(
        f"{spec.path}: no column {label_column!r} (known: {', '.join(names)}); give --label-column as a "
        "1-based column number or one of those names"
    )


def read_bed(spec: InputSpec, label_column: str | None) -> list[Interval]:
    """BED3-12 / narrowPeak; a first line whose start/end are not numbers is taken as a header row."""
    kind = spec.kind
    if spec.label is None and label_column is None:
        raise GenofmError(
            f"{spec.path}: no label for these intervals; write the input as LABEL={spec.path} "
            "or give --label-column (a column number or name)"
        )
    intervals: list[Interval] = []
    header: list[str] | None = None
    label_index: int | None = None
    seen_data = False
    with open_text(spec.path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not seen_data and line.startswith("#") and len(line.split("\t")) >= 3:
                header = [f.strip() for f in line.lstrip("#").rstrip("\r\n").split("\t")]
                continue
            if _skip(line):
                continue
            line = line.rstrip("\r\n")
            fields = line.split("\t")
            if len(fields) < 3:
                fields = line.split()
            if not seen_data and len(fields) >= 3 and not any(ch.isdigit() for ch in fields[1] + fields[2]):
                header = [f.strip() for f in fields]  # a column-name row such as "chrom start end class"
                continue
            seen_data = True
            if len(fields) < 3:
                raise GenofmError(
                    f"{spec.path}: line {line_no}: BED needs at least 3 tab-separated columns (chrom, start, end), "
                    f"found {len(fields)}; fix the line"
                )
            chrom, start_text, end_text = (f.strip() for f in fields[:3])
            if not (_is_int(start_text) and _is_int(end_text)):
                raise GenofmError(f"{spec.path}: line {line_no}: start {start_text!r} and end {end_text!r} must be integers")
            start, end = int(start_text), int(end_text)
            if start < 0 or end <= start:
                raise GenofmError(f"{spec.path}: line {line_no}: interval {chrom}:{start}-{end} is empty or negative; need 0 <= start < end")
            strand = fields[5].strip() if len(fields) >= 6 else "."
            if strand not in ("+", "-", "."):
                raise GenofmError(f"{spec.path}: line {line_no}: strand (column 6) is {strand!r}; use +, - or .")
            summit = None
            if kind == "narrowpeak":
                if len(fields) < 10 or not _is_int(fields[9].strip()):
                    raise GenofmError(
                        f"{spec.path}: line {line_no}: narrowPeak needs 10 columns with an integer summit offset "
                        "in column 10; use a .bed extension for plain BED"
                    )
                summit = int(fields[9])
                if summit >= end - start:
                    raise GenofmError(f"{spec.path}: line {line_no}: summit offset {summit} lies outside the peak")
            if spec.label is not None:
                label = spec.label
            else:
                if label_index is None:
                    label_index = _label_index(label_column or "", header, kind, spec)
                if label_index >= len(fields) or not fields[label_index].strip():
                    raise GenofmError(f"{spec.path}: line {line_no}: label column {label_index + 1} is missing or empty")
                label = fields[label_index].strip()
            name = fields[3].strip() if len(fields) >= 4 and fields[3].strip() not in ("", ".") else ""
            intervals.append(Interval(name or f"{chrom}:{start}-{end}({strand})", chrom, start, end, strand,
                                      label, str(spec.path), line_no, summit))
    if not intervals:
        raise GenofmError(f"{spec.path}: no intervals found; give a BED/narrowPeak file with at least one line")
    return intervals


def parse_gtf_attributes(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _GTF_ATTR.finditer(text)}


def read_gtf(spec: InputSpec, feature: str, label_column: str | None) -> list[Interval]:
    """Features of one type (``--gtf-feature``) from a GTF; 1-based inclusive -> 0-based half-open."""
    if spec.label is None and label_column is None:
        raise GenofmError(
            f"{spec.path}: no label for these features; write the input as LABEL={spec.path} "
            "or give --label-column with a GTF attribute name (e.g. gene_type)"
        )
    intervals: list[Interval] = []
    types: dict[str, int] = {}
    with open_text(spec.path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if _skip(line):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 9:
                raise GenofmError(f"{spec.path}: line {line_no}: GTF needs 9 tab-separated columns, found {len(fields)}")
            chrom, source, kind, start_text, end_text, _score, strand, _frame, attributes = fields
            types[kind] = types.get(kind, 0) + 1
            if kind != feature:
                continue
            if not (start_text.isdigit() and end_text.isdigit()):
                raise GenofmError(f"{spec.path}: line {line_no}: start/end {start_text!r}/{end_text!r} must be integers")
            start, end = int(start_text) - 1, int(end_text)
            if start < 0 or end <= start:
                raise GenofmError(f"{spec.path}: line {line_no}: feature {chrom}:{start_text}-{end_text} is empty; GTF is 1-based inclusive")
            if strand not in ("+", "-", "."):
                raise GenofmError(f"{spec.path}: line {line_no}: strand {strand!r} must be +, - or .")
            attrs = parse_gtf_attributes(attributes)
            if spec.label is not None:
                label = spec.label
            else:
                assert label_column is not None
                label = {"source": source, "feature": kind}.get(label_column) or attrs.get(label_column, "")
                if not label:
                    raise GenofmError(f"{spec.path}: line {line_no}: no attribute {label_column!r} to use as label")
            name = attrs.get(f"{feature}_id") or attrs.get("transcript_id") or attrs.get("gene_id") or f"{chrom}:{start}-{end}({strand})"
            if feature == "exon" and "exon_number" in attrs and f"{feature}_id" not in attrs:
                name = f"{name}:exon{attrs['exon_number']}"
            intervals.append(Interval(name, chrom, start, end, strand, label, str(spec.path), line_no))
    if not intervals:
        found = ", ".join(f"{k} ({v})" for k, v in sorted(types.items())) or "none"
        raise GenofmError(f"{spec.path}: no {feature!r} features (types present: {found}); choose one with --gtf-feature")
    return intervals
