"""Reading torch weight files without running code from them, and saying so when a file needs it.

``torch.load(weights_only=True)`` refuses a pickle that would import or call Python objects, but
its message (cut to one line) reads like a corrupt download. A file that needs code to load is not
corrupt: genofm will not run it. This module loads tensors and turns that refusal into one plain
line that names the file, says why, and lists the formats that are accepted.
"""

from __future__ import annotations

import re
from pathlib import Path

from genofm.errors import GenofmError

#: what to offer instead of a pickle that holds code
ACCEPTED = "a safetensors file, or a torch file of plain tensors (a state dict saved with torch.save(model.state_dict()))"


def holds_pickled_code(exc: BaseException) -> bool:
    """True when ``torch.load(weights_only=True)`` refused the file because it imports or calls objects."""
    text = str(exc)
    return any(sign in text for sign in ("Unsupported global", "GLOBAL ", "unrecognized function", "Unsupported class"))


def pickled_code_error(path: Path, exc: BaseException, accepted: str = ACCEPTED) -> GenofmError:
    found = re.search(r"GLOBAL\s+([\w.]+)", str(exc))
    what = f" (it asks to run {found.group(1)})" if found else ""
    return GenofmError(f"{path}: holds pickled Python code{what}, which genofm will not run; pass {accepted}")


def load_tensors(path: Path, accepted: str = ACCEPTED, mmap: bool = False):
    """``torch.load(path, weights_only=True)``: tensors only; a pickle with code is a clear GenofmError."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # noqa: BLE001 - torch's zipfile and unpickler errors differ by version
        if holds_pickled_code(exc):
            raise pickled_code_error(Path(path), exc, accepted) from None
        raise
