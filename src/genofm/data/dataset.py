"""The prepared dataset: one Parquet file every later tool reads.

Columns (documented in docs/output.md):

``id``         unique string identifier, stable across tools (embeddings are aligned on it)
``sequence``   upper-case A/C/G/T/N string, already windowed and strand-corrected
``label``      class name as a string
``split``      ``train``, ``valid`` or ``test``
``chrom``      chromosome name (nullable when sequences came without coordinates)
``start``      0-based window start (nullable)
``end``        window end, exclusive (nullable)
``strand``     ``+``, ``-`` or ``.`` (nullable)
``source``     file the example came from
``augmented``  True for reverse-complement copies added to the training split only
``cell_type``  optional: the cell type of (region, cell type) examples (``LABEL@CELL=PATH`` inputs)

The class list is stored in the Parquet key-value metadata under ``genofm.classes`` so that the
class order (and the positive class of a binary task, the last one) is fixed at prepare time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from genofm.atomic import atomic_path
from genofm.errors import GenofmError

SPLITS = ("train", "valid", "test")
COLUMNS = ("id", "sequence", "label", "split", "chrom", "start", "end", "strand", "source", "augmented")
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("sequence", pa.string()),
        ("label", pa.string()),
        ("split", pa.string()),
        ("chrom", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("strand", pa.string()),
        ("source", pa.string()),
        ("augmented", pa.bool_()),
    ]
)
CLASSES_KEY = b"genofm.classes"
OPTIONAL_COLUMNS = (("cell_type", pa.string()),)


def write_dataset(frame: pd.DataFrame, path: str | Path, classes: list[str]) -> None:
    """Validate and atomically write a prepared dataset."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"dataset frame lacks columns {missing}")
    optional = [(name, kind) for name, kind in OPTIONAL_COLUMNS if name in frame.columns]
    schema = pa.schema([*SCHEMA, *(pa.field(name, kind) for name, kind in optional)])
    table = pa.Table.from_pandas(frame[[*COLUMNS, *(name for name, _ in optional)]], schema=schema, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[CLASSES_KEY] = json.dumps(list(classes)).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _open_parquet(path: Path) -> pq.ParquetFile:
    """Open a prepared dataset lazily, failing with one line when it is missing or not genofm's."""
    if not path.is_file():
        raise GenofmError(f"{path}: dataset not found; create it with genofm-prepare")
    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for non-Parquet input
        raise GenofmError(f"{path}: not a Parquet dataset ({exc.__class__.__name__}); create it with genofm-prepare") from None
    schema = handle.schema_arrow
    missing = [c for c in COLUMNS if c not in schema.names]
    if missing or CLASSES_KEY not in (schema.metadata or {}):
        raise GenofmError(f"{path}: not a genofm dataset (missing {missing or ['class metadata']}); create it with genofm-prepare")
    return handle


def _check_splits(splits) -> None:
    if splits is not None:
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise GenofmError(f"unknown split(s) {unknown}; choose from {list(SPLITS)}")


def read_dataset(path: str | Path, splits: list[str] | tuple[str, ...] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read a prepared dataset, returning the frame and its class list."""
    path = Path(path)
    handle = _open_parquet(path)
    _check_splits(splits)
    table = handle.read()
    classes = json.loads(table.schema.metadata[CLASSES_KEY].decode())
    frame = table.to_pandas()
    if splits is not None:
        frame = frame[frame["split"].isin(list(splits))].reset_index(drop=True)
    return frame, classes


def scan_dataset(
    path: str | Path,
    splits: list[str] | tuple[str, ...] | None = None,
    columns: tuple[str, ...] = ("id", "sequence"),
    batch_rows: int = 8192,
) -> Iterator[pd.DataFrame]:
    """Stream rows of a prepared dataset in file order, a bounded batch at a time.

    For tools whose memory must not grow with the dataset (genofm-embed): same checks and
    errors as ``read_dataset``, but only ``columns`` (plus ``split`` for filtering) are read.
    """
    handle = _open_parquet(Path(path))
    _check_splits(splits)
    wanted = list(dict.fromkeys([*columns, "split"]))

    def batches() -> Iterator[pd.DataFrame]:
        for batch in handle.iter_batches(batch_size=batch_rows, columns=wanted):
            frame = batch.to_pandas()
            if splits is not None:
                frame = frame[frame["split"].isin(list(splits))].reset_index(drop=True)
            yield frame[list(columns)]

    return batches()
