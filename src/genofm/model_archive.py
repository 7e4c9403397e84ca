"""A trained model as one file: a zip of the model folder that predict and interpret read directly.

Workflow systems that hold one file per dataset (Galaxy) cannot pass a folder from genofm-train to
genofm-predict and genofm-interpret. ``genofm-train --archive model.zip`` writes the finished model
folder as one zip (safetensors and JSON inside, no pickle), and every tool that takes a model
accepts either form through :func:`model_folder`. Reading checks each member name before
extracting, so an archive cannot write outside its temporary folder.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterator

from genofm.atomic import atomic_path
from genofm.errors import GenofmError

#: The file every model folder holds; an archive must carry it at its top level.
MODEL_JSON = "model.json"


def write_archive(model_dir: str | Path, archive: str | Path) -> Path:
    """Zip the files of ``model_dir`` (relative names, sorted) into ``archive``, atomically."""
    model_dir = Path(model_dir)
    if not (model_dir / MODEL_JSON).is_file():
        raise GenofmError(f"{model_dir}: not a model folder (no {MODEL_JSON}); create it with genofm-train")
    archive = Path(archive)
    with atomic_path(archive) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            zf.write(path, path.relative_to(model_dir).as_posix())
    return archive


def _safe_members(zf: zipfile.ZipFile, archive: Path) -> list[zipfile.ZipInfo]:
    members = zf.infolist()
    for info in members:
        name = PurePosixPath(info.filename)
        if name.is_absolute() or ".." in name.parts or "\\" in info.filename:
            raise GenofmError(f"{archive}: archive member {info.filename!r} points outside the model; "
                              "use an archive written by genofm-train --archive")
    if MODEL_JSON not in {info.filename for info in members}:
        raise GenofmError(f"{archive}: zip without {MODEL_JSON} at its top level; it is not a genofm model "
                          "archive (write one with genofm-train --archive)")
    return members


@contextlib.contextmanager
def model_folder(path: str | Path) -> Iterator[Path]:
    """Yield a model folder for ``path``: the folder itself, or a model archive extracted to a temp folder."""
    path = Path(path)
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise GenofmError(f"{path}: model folder not found (nor a model archive); create it with genofm-train")
    if not zipfile.is_zipfile(path):
        raise GenofmError(f"{path}: neither a model folder nor a zip model archive; "
                          "pass the folder or the --archive file written by genofm-train")
    tmp = Path(tempfile.mkdtemp(prefix="genofm-model-"))
    try:
        try:
            with zipfile.ZipFile(path) as zf:
                zf.extractall(tmp, members=_safe_members(zf, path))
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise GenofmError(f"{path}: unreadable model archive ({exc.__class__.__name__}); re-run genofm-train --archive") from None
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
