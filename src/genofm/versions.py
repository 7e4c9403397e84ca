"""Versions of genofm and the libraries its results depend on, as the pipeline reports them.

Every Nextflow task records these (``genofm --versions``) in the run's
``pipeline_info/genofm_software_versions.yml``; read from the installed distributions' metadata so
that asking does not import torch.
"""

from __future__ import annotations

import importlib.metadata
import platform

from genofm import __version__

#: distributions whose versions change results: the model code and the heads
REPORTED_DISTRIBUTIONS = ("torch", "scikit-learn", "numpy", "transformers")


def software_versions() -> dict[str, str]:
    """``{"genofm": ..., "python": ..., "torch": ..., ...}``; a missing distribution is left out."""
    versions = {"genofm": __version__, "python": platform.python_version()}
    for name in REPORTED_DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def versions_yaml() -> str:
    """The ``name: version`` lines of :func:`software_versions` (a YAML mapping)."""
    return "\n".join(f"{name}: {version}" for name, version in software_versions().items())
