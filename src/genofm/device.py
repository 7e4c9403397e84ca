"""Choosing the torch device and numeric precision the same way in every tool."""

from __future__ import annotations

import contextlib

import torch

from genofm.errors import GenofmError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when a GPU is visible (e.g. Nextflow's ``--gpus all``), else CPU."""
    if name not in DEVICES and not name.startswith("cuda:"):
        raise GenofmError(f"unknown device {name!r}; choose auto, cpu, cuda or cuda:N")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise GenofmError(f"--device {name} requested but no CUDA device is visible; use --device auto or cpu")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """``auto`` means bf16 autocast on GPUs that support it and fp32 on CPU."""
    if name not in PRECISIONS:
        raise GenofmError(f"unknown precision {name!r}; choose one of {list(PRECISIONS)}")
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return "bf16"
        return "fp16" if device.type == "cuda" else "fp32"
    if device.type == "cpu" and name == "fp16":
        raise GenofmError("fp16 autocast is for GPUs; use --precision fp32 or bf16 on CPU")
    return name


def autocast(device: torch.device, precision: str):
    """Autocast context for the chosen precision (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)
