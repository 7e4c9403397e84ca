"""Chunked on-disk embeddings aligned to dataset ids.

Layout of an embedding file (HDF5):

``/ids``            (N,) UTF-8 strings, the dataset ``id`` of each row
``/features``       (N, F) float32, chunked by rows so writers stream and readers slice
``/feature_names``  (F,) UTF-8 strings
``/feature_groups/<name>``  optional int64 column indices of a named feature family
attribute ``provenance``  JSON: backbone name and options, weights checksum, package versions

Embedding runs may be sharded (``--shard-index/--shard-count``); readers accept several files and
concatenate the shards of one backbone after checking that they share backbone, options and features.
Files of *different* backbones for the same dataset are joined by id into one feature table (a
stacked head): each backbone's feature names are prefixed with its label (``kmer:ACGTAC``,
``spliceai:...``), each backbone's columns form a feature group named by its label (its own groups
become ``<label>:<group>``), and the joined provenance keeps every backbone's provenance under
``stack``, so a model trained on the join can refuse anything else at predict time.
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
        # our atomic_path holds the flock on the temporary; HDF5's own lock would conflict with it
        self._file = h5py.File(tmp, "w", locking=False)
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
    """Embeddings loaded into memory: ``ids``, ``features``, ``feature_names``, ``provenance``.

    ``sources`` lists the backbones behind the columns, one ``(label, provenance, columns)`` per
    backbone, in column order; a single backbone's features carry no label prefix.
    """

    def __init__(
        self,
        ids: np.ndarray,
        features: np.ndarray,
        feature_names: list[str],
        provenance: dict,
        feature_groups: dict[str, np.ndarray] | None = None,
        sources: list[tuple[str, dict, np.ndarray]] | None = None,
    ):
        self.ids = ids
        self.features = features
        self.feature_names = feature_names
        self.provenance = provenance
        self.feature_groups = feature_groups or {}
        self.sources = sources or [(str(provenance.get("backbone", "?")), provenance, np.arange(len(feature_names)))]

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


#: provenance fields that identify a backbone's features (shards of one run agree on all of them)
IDENTITY_KEYS = ("backbone", "options", "weights_sha256", "n_features", "rc_average")
#: separator between a backbone's label and its own feature name in a joined table
LABEL_SEPARATOR = ":"


def _provenance_key(prov: dict) -> dict:
    """Provenance fields that must agree between shards (shard position excluded)."""
    return {k: v for k, v in prov.items() if k not in {"shard_index", "shard_count", "created"}}


def members(provenance: dict) -> list[dict]:
    """The provenance of every backbone behind a feature table (one entry unless it is a join)."""
    return list(provenance.get("stack") or [provenance])


def feature_sources(feature_names: Sequence[str], provenance: dict) -> list[str]:
    """The label of the backbone behind each feature name (by its ``label:`` prefix in a join)."""
    labels = [str(m.get("label", m.get("backbone", "?"))) for m in members(provenance)]
    if not provenance.get("stack"):
        return [labels[0]] * len(feature_names)
    prefixes = sorted(labels, key=len, reverse=True)
    out = []
    for name in feature_names:
        found = next((l for l in prefixes if str(name).startswith(l + LABEL_SEPARATOR)), None)
        if found is None:
            raise GenofmError(f"feature {name!r} carries no backbone label of {', '.join(labels)}; re-run genofm-train")
        out.append(found)
    return out


def backbone_label(prov: dict, duplicated: bool) -> str:
    """``kmer``; ``kmer(k=6)`` when several joined backbones share a name."""
    name = str(prov.get("backbone", "?"))
    if not duplicated:
        return name
    options = prov.get("options") or {}
    return f"{name}({','.join(f'{k}={v}' for k, v in sorted(options.items()))})"


def _read_one_backbone(paths: Sequence[Path]) -> Embeddings:
    """Concatenate shards of one backbone (same features and provenance, disjoint ids)."""
    ids, feats, names, prov, groups = [], [], None, None, {}
    for path in paths:
        with _open(path) as handle:
            these_names = [n.decode() if isinstance(n, bytes) else n for n in handle["feature_names"][()]]
            this_prov = json.loads(handle.attrs["provenance"])
            if names is None:
                names, prov = these_names, this_prov
                if "feature_groups" in handle:
                    groups = {k: v[()] for k, v in handle["feature_groups"].items()}
            elif these_names != names or _provenance_key(this_prov) != _provenance_key(prov):
                raise GenofmError(
                    f"{path}: same backbone as {paths[0]} but other features or provenance; "
                    "merge only shards of one genofm-embed run"
                )
            ids.append(handle["ids"].asstr()[()])
            feats.append(handle["features"][()])
    all_ids = np.concatenate(ids) if ids else np.array([], dtype=object)
    if len(set(all_ids)) != len(all_ids):
        raise GenofmError(f"embedding shards {', '.join(map(str, paths))} overlap (duplicate ids); pass each shard once")
    return Embeddings(all_ids, np.concatenate(feats, axis=0), names, prov, groups)


def _identity(path: Path) -> str:
    """What makes two files shards of one run rather than two backbones to join."""
    with _open(path) as handle:
        prov = json.loads(handle.attrs["provenance"])
        names = [n.decode() if isinstance(n, bytes) else n for n in handle["feature_names"][()]]
    return json.dumps([{k: prov.get(k) for k in IDENTITY_KEYS}, names], sort_keys=True, default=str)


def join_embeddings(parts: Sequence[Embeddings], paths: Sequence[Sequence[Path]]) -> Embeddings:
    """Join the embeddings of several backbones of one dataset by id (rows in the first one's order).

    Every backbone must cover the same ids: a row missing from one backbone would otherwise be
    dropped silently or filled with made-up values.
    """
    first = parts[0]
    base = set(first.ids)
    for part, files in zip(parts[1:], paths[1:]):
        other = set(part.ids)
        if other != base:
            lacking = sorted(base - other) or sorted(other - base)
            where = files[0] if base - other else paths[0][0]
            raise GenofmError(
                f"{where}: {len(lacking)} id(s) (first: {lacking[0]!r}) are embedded by one backbone and not by the other; "
                "embed the same prepared dataset (all shards) with every backbone before joining them"
            )
    names_seen = [str(p.provenance.get("backbone", "?")) for p in parts]
    labels = [backbone_label(p.provenance, names_seen.count(n) > 1) for p, n in zip(parts, names_seen)]
    if len(set(labels)) != len(labels):
        twice = next(l for l in labels if labels.count(l) > 1)
        raise GenofmError(f"{paths[labels.index(twice)][0]}: backbone {twice} given twice with different features; pass it once")
    blocks, names, groups, sources, stack = [], [], {}, [], []
    offset = 0
    for label, part in zip(labels, parts):
        order = part.align(first.ids) if part is not first else part.features
        width = len(part.feature_names)
        columns = np.arange(offset, offset + width)
        blocks.append(order)
        names += [f"{label}{LABEL_SEPARATOR}{n}" for n in part.feature_names]
        groups[label] = columns
        for group, indices in part.feature_groups.items():
            groups[f"{label}{LABEL_SEPARATOR}{group}"] = offset + np.asarray(indices, dtype=np.int64)
        prov = _provenance_key(part.provenance) | {"label": label}
        sources.append((label, prov, columns))
        stack.append(prov)
        offset += width
    provenance = {
        "backbone": "+".join(labels),
        "options": {},
        "weights_sha256": None,
        "n_features": offset,
        "rc_average": None,
        "stack": stack,
    }
    return Embeddings(first.ids, np.concatenate(blocks, axis=1), names, provenance, groups, sources)


def read_embeddings(paths: Sequence[str | Path]) -> Embeddings:
    """Read embedding files: shards of one backbone are concatenated, different backbones joined by id."""
    if not paths:
        raise GenofmError("no embedding files given; pass --embeddings (repeatable, one per shard)")
    paths = [Path(p) for p in paths]
    runs: dict[str, list[Path]] = {}
    for path in paths:
        runs.setdefault(_identity(path), []).append(path)
    parts = [_read_one_backbone(files) for files in runs.values()]
    if len(parts) == 1:
        return parts[0]
    return join_embeddings(parts, list(runs.values()))
