"""Labelled sequences from CSV/TSV tables (one row per sequence).

Published tables are messy: padded columns (UCI splice), mixed case (E. coli promoters), numeric
labels. Column names and values are stripped, labels are read as text (``1`` stays ``"1"``), and
optional ``chrom``/``start``/``end``/``strand`` columns carry coordinates for chromosome splits.
A ``split`` column (train/valid/dev/test) keeps a benchmark's own splits.
"""

from __future__ import annotations

import pandas as pd

from genofm.data.chroms import display_name
from genofm.data.inputs import InputSpec, open_text, split_name
from genofm.data.records import Example, clean_sequence
from genofm.errors import GenofmError

_TAB_SUFFIXES = (".tsv", ".tab", ".txt")


def _separator(spec: InputSpec) -> str:
    name = spec.path.name.lower().removesuffix(".gz").removesuffix(".bgz")
    return "\t" if name.endswith(_TAB_SUFFIXES) else ","


def _column(frame: pd.DataFrame, name: str, option: str, spec: InputSpec) -> str:
    if name in frame.columns:
        return name
    lowered = {c.lower(): c for c in frame.columns}
    if name.lower() in lowered:
        return lowered[name.lower()]
    raise GenofmError(
        f"{spec.path}: no column {name!r} (columns: {', '.join(map(str, frame.columns))}); "
        f"name the right one with {option}"
    )


def read_table(
    spec: InputSpec,
    sequence_column: str = "sequence",
    label_column: str | None = "label",
    id_column: str | None = None,
) -> list[Example]:
    """Examples from one CSV/TSV; ``LABEL=`` on the input overrides the label column."""
    try:
        with open_text(spec.path) as handle:
            frame = pd.read_csv(
                handle, sep=_separator(spec), dtype=str, keep_default_na=False, skipinitialspace=True, comment=None
            )
    except pd.errors.EmptyDataError:
        raise GenofmError(f"{spec.path}: table is empty; give a CSV/TSV with a header row and one row per sequence") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1]
        raise GenofmError(f"{spec.path}: malformed table ({detail}); fix the file or its delimiter (.csv = comma, .tsv = tab)") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(lambda col: col.str.strip())
    seq_col = _column(frame, sequence_column, "--sequence-column", spec)
    lab_col = None if spec.label is not None else _column(frame, label_column or "label", "--label-column", spec)
    id_col = _column(frame, id_column, "--id-column", spec) if id_column else None
    coord_cols = [c for c in ("chrom", "start", "end") if c in frame.columns]
    has_coords = len(coord_cols) == 3
    strand_col = "strand" if has_coords and "strand" in frame.columns else None
    split_col = next((c for c in frame.columns if c.lower() == "split"), None) if spec.split is None else None

    examples: list[Example] = []
    stem = spec.path.name
    for row_no, row in enumerate(frame.itertuples(index=False), start=2):  # row 1 is the header
        values = dict(zip(frame.columns, row))
        sequence = values[seq_col]
        if not sequence:
            raise GenofmError(f"{spec.path}: line {row_no}: empty {seq_col!r}; remove the row or fill it in")
        if not sequence.replace("-", "").isalpha():
            raise GenofmError(
                f"{spec.path}: line {row_no}: {seq_col!r} value {sequence[:30]!r} is not a DNA sequence; "
                "check --sequence-column"
            )
        label = spec.label if lab_col is None else values[lab_col]
        if not label:
            raise GenofmError(f"{spec.path}: line {row_no}: empty {lab_col!r}; every row needs a label")
        name = values[id_col] if id_col else f"{stem}:{row_no}"
        example = Example(name=name, sequence=clean_sequence(sequence.replace("-", "")), label=label, source=str(spec.path))
        if split_col is not None:
            example.split = split_name(values[split_col])
            if example.split is None:
                raise GenofmError(
                    f"{spec.path}: line {row_no}: {split_col!r} value {values[split_col]!r} is not a split; "
                    "use train, valid (or dev) or test"
                )
        if has_coords and values["chrom"]:
            try:
                start, end = int(values["start"]), int(values["end"])
            except ValueError:
                raise GenofmError(f"{spec.path}: line {row_no}: start/end must be integers; fix the coordinates") from None
            strand = values[strand_col] if strand_col else "."
            if strand not in ("+", "-", "."):
                raise GenofmError(f"{spec.path}: line {row_no}: strand {strand!r} must be +, - or .")
            example.chrom, example.start, example.end, example.strand = display_name(values["chrom"]), start, end, strand
        examples.append(example)
    if not examples:
        raise GenofmError(f"{spec.path}: table has no rows; give one row per sequence")
    return examples
