"""Loading a locally downloaded Sei release (Zenodo record 4906997) safely and strictly.

The official ``sei.pth`` is a raw state dict whose keys carry a ``module.model.`` prefix (the
training wrapper). It is read with ``weights_only=True`` (no arbitrary pickle code runs) and
memory-mapped, then assigned into a model built on the meta device, so the 3.3 GB classifier is
never copied a second time: pages are read from disk as tensors are used. Model widths are
inferred from tensor shapes, so a tiny test release goes through exactly the same path.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from genofm.backbones.sei_model import Sei
from genofm.backbones.sei_targets import Target, parse_target
from genofm.errors import GenofmError
from genofm.safe_torch import holds_pickled_code, pickled_code_error

log = logging.getLogger("genofm.sei")

CHECKPOINT = "sei.pth"
TARGET_NAMES = "target.names"
SEQCLASS_NAMES = "seqclass.names"
PROJECTION = "projvec_targets.npy"
HISTONE_INDS = "histone_inds.npy"
RELEASE_FILES = (CHECKPOINT, TARGET_NAMES, SEQCLASS_NAMES, PROJECTION, HISTONE_INDS)
PREFIXES = ("module.model.", "model.", "module.")
DOWNLOAD_HINT = (
    "download sei_model.tar.gz from Zenodo record 4906997 (https://zenodo.org/record/4906997, "
    "academic and research use only) and pass its extracted model/ folder; see docs/sei.md"
)


@dataclasses.dataclass
class SeiRelease:
    """Paths of a release folder plus the small metadata files, read eagerly."""

    checkpoint: Path
    targets: list[Target] | None = None
    seqclass_names: list[str] | None = None
    projection: np.ndarray | None = None  # (n_classes, n_targets), rows in seqclass_names order
    histone_inds: np.ndarray | None = None


def open_release(path: Path, need_metadata: bool = True) -> SeiRelease:
    """Check a release folder (or, for trunk-only uses, a bare ``sei.pth``) and read its metadata.

    Every missing file is reported in one message so the user fixes the folder in one go.
    """
    path = Path(path)
    if path.is_file():
        if need_metadata:
            raise GenofmError(
                f"{path}: Sei needs the release folder (sei.pth plus {', '.join(RELEASE_FILES[1:])}), not one file; "
                f"pass the extracted model/ folder, or use -O output=trunk to need only sei.pth"
            )
        return SeiRelease(checkpoint=path)
    if not path.is_dir():
        raise GenofmError(f"{path}: Sei weights folder not found; {DOWNLOAD_HINT}")
    wanted = RELEASE_FILES if need_metadata else (CHECKPOINT,)
    missing = [name for name in wanted if not (path / name).is_file()]
    if missing:
        raise GenofmError(f"{path}: Sei release folder lacks {', '.join(missing)}; {DOWNLOAD_HINT}")
    release = SeiRelease(checkpoint=path / CHECKPOINT)
    if need_metadata:
        release.targets = read_targets(path / TARGET_NAMES)
        release.seqclass_names = _read_lines(path / SEQCLASS_NAMES)
        release.projection = _read_npy(path / PROJECTION, ndim=2)
        release.histone_inds = _read_npy(path / HISTONE_INDS, ndim=1).astype(np.int64)
        _check_metadata(path, release)
    return release


def read_targets(path: Path) -> list[Target]:
    targets = []
    for number, line in enumerate(_read_lines(path), start=1):
        target = parse_target(line)
        if target is None:
            raise GenofmError(f"{path}:{number}: expected 'cell type | assay | source', got {line!r}; use the release's target.names")
        targets.append(target)
    return targets


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise GenofmError(f"{path}: not a UTF-8 text file; use the file from the Sei release") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_npy(path: Path, ndim: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise GenofmError(f"{path}: not a numeric .npy array ({exc.__class__.__name__}); use the file from the Sei release") from None
    if array.ndim != ndim or not np.issubdtype(array.dtype, np.number):
        raise GenofmError(f"{path}: expected a {ndim}-D numeric array, got shape {array.shape}; use the file from the Sei release")
    return array


def _check_metadata(folder: Path, release: SeiRelease) -> None:
    n = len(release.targets)
    proj, names, hist = release.projection, release.seqclass_names, release.histone_inds
    if proj.shape[1] != n:
        raise GenofmError(f"{folder / PROJECTION}: has {proj.shape[1]} columns but target.names lists {n} profiles; files come from different releases")
    if proj.shape[0] < len(names):
        raise GenofmError(f"{folder / PROJECTION}: has {proj.shape[0]} rows, fewer than the {len(names)} sequence classes in seqclass.names")
    if hist.size and (hist.min() < 0 or hist.max() >= n):
        raise GenofmError(f"{folder / HISTONE_INDS}: indices outside 0..{n - 1}; files come from different releases")


# --- checkpoint ------------------------------------------------------------------------------

def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a Sei checkpoint, memory-mapped, with the training-wrapper prefix removed."""
    path = Path(path)
    if not path.is_file():
        raise GenofmError(f"{path}: Sei checkpoint not found; {DOWNLOAD_HINT}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc).lower():
            raise _not_checkpoint(path, exc) from None
        # legacy (pre-zip) torch serialisation cannot be memory-mapped; read it into memory instead
        log.info("%s: legacy torch format, loading without memory-mapping", path)
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc2:  # noqa: BLE001 - every failure means "not a usable checkpoint"
            raise _not_checkpoint(path, exc2) from None
    except Exception as exc:  # noqa: BLE001
        raise _not_checkpoint(path, exc) from None
    if isinstance(raw, Mapping) and "state_dict" in raw and isinstance(raw["state_dict"], Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping) or not raw:
        raise GenofmError(f"{path}: not a Sei state dict (found {type(raw).__name__}); pass the sei.pth from the Sei release")
    state = {}
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            raise GenofmError(f"{path}: entry {key!r} is not a tensor; pass the sei.pth from the Sei release")
        state[_strip_prefix(str(key))] = value
    return state


def _strip_prefix(key: str) -> str:
    for prefix in PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _not_checkpoint(path: Path, exc: BaseException) -> GenofmError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    if holds_pickled_code(exc):
        return pickled_code_error(path, exc, "the sei.pth from the Sei release (a state dict of tensors)")
    return GenofmError(f"{path}: not a loadable Sei checkpoint ({reason[:200]}); pass the sei.pth from the Sei release")


def infer_widths(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, int]:
    """Channel widths, number of targets and spline df from tensor shapes."""

    def shape(key: str, ndim: int) -> tuple[int, ...]:
        if key not in state:
            raise GenofmError(f"{path}: missing tensor {key!r}; this is not a Sei checkpoint (or it is truncated)")
        if state[key].ndim != ndim:
            raise GenofmError(f"{path}: tensor {key!r} has shape {tuple(state[key].shape)}, expected {ndim} dimensions")
        return tuple(state[key].shape)

    c1 = shape("lconv1.0.weight", 3)[0]
    c2 = shape("lconv2.2.weight", 3)[0]
    c3 = shape("lconv3.2.weight", 3)[0]
    widths = {"c1": c1, "c2": c2, "c3": c3, "n_targets": 0, "spline_df": 16}
    if "classifier.0.weight" in state:
        n_targets, n_in = shape("classifier.0.weight", 2)
        if n_in % c3:
            raise GenofmError(f"{path}: tensor 'classifier.0.weight' has {n_in} inputs, not a multiple of {c3} channels")
        widths.update(n_targets=n_targets, spline_df=n_in // c3)
    return widths


def build_model(state: Mapping[str, torch.Tensor], path: Path, classifier: bool = True) -> Sei:
    """A Sei whose parameters are the checkpoint's tensors (no copy), checked key by key.

    Missing, unexpected or mis-shaped tensors raise a GenofmError naming the first offending key.
    ``classifier=False`` still validates the classifier tensors but leaves them on disk.
    """
    widths = infer_widths(state, path)
    with torch.device("meta"):
        full = Sei((widths["c1"], widths["c2"], widths["c3"]), max(widths["n_targets"], 1), widths["spline_df"])
    expected = {k: tuple(v.shape) for k, v in full.state_dict().items()}
    for key, want in expected.items():
        if key not in state:
            raise GenofmError(f"{path}: missing tensor {key!r}; the checkpoint is not a complete Sei model")
        got = tuple(state[key].shape)
        if got != want:
            raise GenofmError(f"{path}: tensor {key!r} has shape {got}, expected {want} for this Sei; the file does not match the architecture")
    for key in state:
        if key not in expected:
            raise GenofmError(f"{path}: unexpected tensor {key!r}; the checkpoint is not a Sei model")
    for key, tensor in state.items():
        if not tensor.is_floating_point():
            raise GenofmError(f"{path}: tensor {key!r} has dtype {tensor.dtype}, expected floating point")
    if classifier:
        model = full
        wanted = state
    else:
        with torch.device("meta"):
            model = Sei((widths["c1"], widths["c2"], widths["c3"]), max(widths["n_targets"], 1), widths["spline_df"], classifier=False)
        wanted = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    model.load_state_dict({k: (v if v.dtype == torch.float32 else v.float()) for k, v in wanted.items()}, strict=True, assign=True)
    return model.eval()


def load_sei(path: Path, classifier: bool = True) -> Sei:
    """Read and validate a ``sei.pth`` (official prefixed keys or bare keys) into an eval-mode Sei."""
    return build_model(read_state_dict(path), Path(path), classifier=classifier)

