"""Reading a locally downloaded Hugging Face-style model folder without the hub or pickle.

A language-model backbone is a folder holding ``config.json``, the weights
(``model.safetensors`` preferred, ``pytorch_model.bin`` accepted and read with
``torch.load(weights_only=True)`` so no code in the file can run) and tokenizer files. Loading is
strict: every parameter of the architecture must come from the file with the right shape, and
any tensor the architecture does not know is an error, except heads and buffers that upstream
checkpoints are known to carry (MLM heads, poolers, causal-mask buffers).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, Mapping

import torch

from genofm.errors import GenofmError
from genofm.safe_torch import load_tensors

# Nothing in genofm may reach the model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def require_folder(folder: Path, backbone: str, what: str) -> Path:
    """The weights argument must be a folder; say which files it should hold when it is not."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GenofmError(f"{folder}: {backbone} weights must be a model folder ({what}); download the official folder and pass its path")
    return folder


def read_config(folder: Path, required: Iterable[str] = ()) -> dict:
    """``config.json`` as a dict, with the architecture sizes the model needs present."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise GenofmError(f"{path}: missing; the model folder must hold the official config.json")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GenofmError(f"{path}: not valid JSON ({exc.__class__.__name__}); restore the official config.json") from None
    if not isinstance(config, dict):
        raise GenofmError(f"{path}: expected a JSON object; restore the official config.json")
    missing = [key for key in required if key not in config]
    if missing:
        raise GenofmError(f"{path}: lacks {missing[0]!r}; restore the official config.json")
    return config


def weights_file(folder: Path) -> Path:
    """The weights file inside a model folder (safetensors preferred)."""
    for name in WEIGHT_FILES:
        path = Path(folder) / name
        if path.is_file():
            return path
    raise GenofmError(f"{folder}: no model.safetensors or pytorch_model.bin; the model folder must hold the official weights file")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file, never unpickling arbitrary objects."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = load_tensors(path)
    except GenofmError:
        raise
    except Exception as exc:  # safetensors, zipfile and unpickler errors differ by version
        raise GenofmError(f"{path}: cannot read weights ({exc.__class__.__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}); re-download the file") from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GenofmError(f"{path}: not a state dict of tensors; pass the official weights file")
    return dict(state)


def _rename_legacy(key: str) -> str:
    """Old TF-converted BERT checkpoints call LayerNorm parameters gamma/beta."""
    if key.endswith("LayerNorm.gamma"):
        return key[: -len("gamma")] + "weight"
    if key.endswith("LayerNorm.beta"):
        return key[: -len("beta")] + "bias"
    return key


def strip_prefix(state: dict[str, torch.Tensor], prefix: str, expected: Iterable[str]) -> dict[str, torch.Tensor]:
    """Drop ``prefix`` (e.g. ``bert.`` of a *ForMaskedLM checkpoint) when the bare keys are expected.

    Keys outside the prefix are kept unchanged so that heads stay visible to the ignore rules.
    """
    expected = set(expected)
    state = {_rename_legacy(k): v for k, v in state.items()}
    if any(k in expected for k in state):
        return state
    if not any(k.startswith(prefix) for k in state):
        return state
    return {(k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in state.items()}


def load_strict(
    module: torch.nn.Module,
    state: dict[str, torch.Tensor],
    source: Path,
    ignore: Iterable[str] = (),
) -> None:
    """Copy ``state`` into ``module``; the first missing, unknown or mis-shaped key is an error.

    ``ignore`` holds regular expressions for tensors upstream files carry but the encoder does not
    use (MLM heads, poolers, buffers); they are dropped silently.
    """
    patterns = [re.compile(p) for p in ignore]
    target = module.state_dict()
    state = {k: v for k, v in state.items() if not any(p.search(k) for p in patterns)}
    missing = [k for k in target if k not in state]
    if missing:
        raise GenofmError(
            f"{source}: missing tensor {missing[0]!r} ({len(missing)} missing); the file does not match the architecture in config.json"
        )
    unexpected = [k for k in state if k not in target]
    if unexpected:
        raise GenofmError(
            f"{source}: unexpected tensor {unexpected[0]!r} ({len(unexpected)} unknown); the file does not match the architecture in config.json"
        )
    for key in target:
        value = state[key]
        if tuple(value.shape) != tuple(target[key].shape):
            raise GenofmError(
                f"{source}: tensor {key!r} has shape {tuple(value.shape)}, config.json implies {tuple(target[key].shape)}; "
                "use the config.json that belongs to these weights"
            )
    module.load_state_dict({k: v.to(target[k].dtype) for k, v in state.items()}, strict=True)
