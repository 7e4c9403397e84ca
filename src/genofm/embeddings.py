"""Chunked on-disk embeddings aligned to dataset ids.

Layout of an embedding file (HDF5):

``/ids``            (N,) UTF-8 strings, the dataset ``id`` of each row
``/features``       (N, F) float32, chunked by rows so writers stream and readers slice
``/feature_names``  (F,) UTF-8 strings
``/feature_groups/<name>``  optional int64 column indices of a named feature family
attribute ``provenance``  JSON: backbone name and options, weights checksum, package versions

Embedding runs may be sharded (``--shard-index/--shard-count``); readers accept several files and
concatenate them after checking that they come from the same backbone with the same features.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np

from genofm.atomic import atomic_path
from genofm.errors import GenofmError

_STR = h5py.string_dtype("utf-8")


class EmbeddingWriter:
    """Append embedding batches to an HDF5 file that appears only when closed successfully."""

    def __init__(
        self,
        path: str | Path,
        feature_names: Sequence[str],
        provenance: dict,
        chunk_rows: int = 256,
        feature_groups: dict[str, np.ndarray] | None = None,
    ):
        self._ctx = atomic_path(path)
        tmp = self._ctx.__enter__()
        self._file = h5py.File(tmp, "w")
        n_features = len(feature_names)
        rows = max(1, min(chunk_rows, max(1, 4_000_000 // max(n_features, 1))))
        self._features = self._file.create_dataset(
            "features", shape=(0, n_features), maxshape=(None, n_features), dtype="float32", chunks=(rows, n_features)
        )
        self._ids = self._file.create_dataset("ids", shape=(0,), maxshape=(None,), dtype=_STR, chunks=(max(rows, 1024),))
        self._file.create_dataset("feature_names", data=np.array(list(feature_names), dtype=object), dtype=_STR)
        for name, indices in (feature_groups or {}).items():
            self._file.create_dataset(f"feature_groups/{name}", data=np.asarray(indices, dtype=np.int64))
        self._file.attrs["provenance"] = json.dumps(provenance, sort_keys=True)
        self._n = 0

    def append(self, ids: Sequence[str], features: np.ndarray) -> None:
        features = np.asarray(features, dtype=np.float32)
        if features.shape != (len(ids), self._features.shape[1]):
            raise ValueError(f"batch shape {features.shape} does not match {len(ids)} ids x {self._features.shape[1]} features")
        n = self._n + len(ids)
        self._features.resize(n, axis=0)
        self._ids.resize(n, axis=0)
        self._features[self._n : n] = features
        self._ids[self._n : n] = np.array(list(ids), dtype=object)
        self._n = n

    def close(self) -> None:
        self._file.close()
        self._ctx.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        self._file.close()
        try:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException:
            pass

    def __enter__(self) -> "EmbeddingWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)


class Embeddings:
    """Embeddings loaded into memory: ``ids``, ``features``, ``feature_names``, ``provenance``."""

    def __init__(
        self,
        ids: np.ndarray,
        features: np.ndarray,
        feature_names: list[str],
        provenance: dict,
        feature_groups: dict[str, np.ndarray] | None = None,
    ):
        self.ids = ids
        self.features = features
        self.feature_names = feature_names
        self.provenance = provenance
        self.feature_groups = feature_groups or {}

    def align(self, ids: Iterable[str], source: str = "dataset") -> np.ndarray:
        """Rows of ``features`` in the order of ``ids``; every id must be present."""
        index = {k: i for i, k in enumerate(self.ids)}
        ids = list(ids)
        missing = [k for k in ids if k not in index]
        if missing:
            raise GenofmError(
                f"{len(missing)} {source} id(s) have no embedding (first: {missing[0]!r}); "
                "embed the same prepared dataset (all shards) before training or predicting"
            )
        return self.features[[index[k] for k in ids]]


def _open(path: str | Path) -> h5py.File:
    path = Path(path)
    if not path.is_file():
        raise GenofmError(f"{path}: embedding file not found; create it with genofm-embed")
    try:
        handle = h5py.File(path, "r")
    except OSError:
        raise GenofmError(f"{path}: not an HDF5 embedding file; create it with genofm-embed") from None
    if not {"ids", "features", "feature_names"} <= set(handle.keys()) or "provenance" not in handle.attrs:
        handle.close()
        raise GenofmError(f"{path}: not a genofm embedding file (missing ids/features/provenance); create it with genofm-embed")
    return handle


def _provenance_key(prov: dict) -> dict:
    """Provenance fields that must agree between shards (shard position excluded)."""
    return {k: v for k, v in prov.items() if k not in {"shard_index", "shard_count", "created"}}


def read_embeddings(paths: Sequence[str | Path]) -> Embeddings:
    """Read and concatenate one or more embedding shards of the same backbone."""
    if not paths:
        raise GenofmError("no embedding files given; pass --embeddings (repeatable, one per shard)")
    ids, feats, names, prov, groups = [], [], None, None, {}
    for path in paths:
        with _open(path) as handle:
            these_names = [n.decode() if isinstance(n, bytes) else n for n in handle["feature_names"][()]]
            this_prov = json.loads(handle.attrs["provenance"])
            if names is None:
                names, prov = these_names, this_prov
                if "feature_groups" in handle:
                    groups = {k: v[()] for k, v in handle["feature_groups"].items()}
            else:
                if these_names != names or _provenance_key(this_prov) != _provenance_key(prov):
                    raise GenofmError(
                        f"{path}: features or backbone differ from {paths[0]}; merge only shards of one genofm-embed run"
                    )
            ids.append(handle["ids"].asstr()[()])
            feats.append(handle["features"][()])
    all_ids = np.concatenate(ids) if ids else np.array([], dtype=object)
    if len(set(all_ids)) != len(all_ids):
        raise GenofmError("embedding shards overlap (duplicate ids); pass each shard once")
    return Embeddings(all_ids, np.concatenate(feats, axis=0), names, prov, groups)
